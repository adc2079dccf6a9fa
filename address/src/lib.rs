//! Chinese address standardisation for Minqing: the parts of an address, their canonical
//! label, noisy variants for evaluation, parsing, normalisation and matching against the
//! unified address register.
//!
//! Pure library: no I/O, no HTTP, no database. The register is handed in as plain data.

pub mod coords;
pub mod hanzi;
pub mod matcher;
pub mod noise;
pub mod parse;
pub mod parts;
pub mod search;

pub use matcher::{
    BuildingEntry, Candidate, Level, MatchResult, Register, RegisterError, UnitEntry, match_address,
};
pub use noise::{NoiseKind, NoiseKinds, label_with_kind, noisy_label, noisy_label_with_kinds};
pub use parse::{ParsedAddress, normalize, parse};
pub use parts::{AddressParts, PROVINCE_CITY_DISTRICT};
pub use search::{HitKind, SearchHit};
