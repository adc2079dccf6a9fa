//! Chinese address standardisation for Minqing: the parts of an address, their canonical
//! label, noisy variants for evaluation, parsing, normalisation and matching against the
//! unified address register.
//!
//! Pure library: no I/O, no HTTP, no database. The register is handed in as plain data.

pub mod parts;
pub mod noise;

pub use parts::{AddressParts, PROVINCE_CITY_DISTRICT};
