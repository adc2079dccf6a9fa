//! placeholder
pub mod clip;
pub mod mvt_encode;
pub mod projection;
pub mod simplify;
pub mod tile;
