//! The five analysis models of Minqing as pure functions over plain inputs.
//!
//! No I/O, no HTTP, no JSON wire types, no database: the server hands in points,
//! weights, cell indexes, time series and records of plain numbers, and gets plain
//! results back.

pub mod efficiency;
pub mod emerging;
pub mod hotspot;
pub mod housing;
pub mod kde;
pub mod population;
pub mod risk;
pub mod trend;
