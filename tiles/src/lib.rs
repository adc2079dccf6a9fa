//! placeholder
pub mod clip;
pub mod projection;
pub mod simplify;
pub mod tile;
