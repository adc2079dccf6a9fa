//! placeholder
pub mod aggregate;
pub mod clip;
pub mod heatmap;
pub mod mvt_encode;
pub mod projection;
pub mod simplify;
pub mod tile;
