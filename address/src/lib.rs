//! Chinese address standardisation for Minqing: the parts of an address, their canonical
//! label, noisy variants for evaluation, parsing, normalisation and matching against the
//! unified address register.
//!
//! Pure library: no I/O, no HTTP, no database. The register is handed in as plain data.
//!
//! - [`noise`]: noisy variants of register labels (the generator's free-text column and
//!   this crate's evaluation input), with the kinds applied reported per label.
//! - [`parse`]: normalisation (idempotent) and parsing of free text into parts.
//! - [`matcher`]: the [`Register`] and [`match_address`]; names are found with the
//!   register's own dictionary, candidates come from exact keys, and the matcher
//!   abstains rather than guesses (see the module docs for why).
//!   Names cut by separators, names with one character substituted (同音字, 形近字),
//!   dropped or doubled, levels out of order, door spans (12-14号) and an [`Aliases`]
//!   table of old names are tolerated; a number cut by a separator (4，6号) is never
//!   answered. The confidence is calibrated (see `matcher::CALIBRATION`).
//! - [`alias`]: the alias / old-name table the caller hands to
//!   [`Register::with_aliases`].
//! - [`eval`]: the hard evaluation set, its tally, and the reliability table
//!   ([`eval::reliability`]). The independent evaluation set, written by code that shares
//!   nothing with the matcher's text handling, is in `tests/common/noiser.rs`.
//! - [`search`]: search-as-you-type by characters or pinyin; whole addresses (road +
//!   door, compound + building) go through the matcher.
//! - [`coords`]: WGS-84 / GCJ-02 / BD-09 conversion with iterative inverses.
//! - [`hanzi`]: the small character tables (traditional forms, confusions, numerals).

pub mod alias;
pub mod coords;
pub mod eval;
pub mod hanzi;
pub mod matcher;
pub mod noise;
pub mod parse;
pub mod parts;
pub mod search;

pub use alias::{AliasProblem, Aliases};
pub use matcher::{
    BuildingEntry, Candidate, Level, MatchResult, Register, RegisterError, UnitEntry, match_address,
};
pub use noise::{NoiseKind, NoiseKinds, label_with_kind, noisy_label, noisy_label_with_kinds};
pub use parse::{ParsedAddress, normalize, parse};
pub use parts::{AddressParts, PROVINCE_CITY_DISTRICT};
pub use search::{HitKind, SearchHit};
