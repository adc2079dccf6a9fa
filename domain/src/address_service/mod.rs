//! The address service: the matcher's register built from the store, geocoding, linking of free-text records on import, and the review
//! queue where a person resolves what the matcher would not.
//!
//! The pure work (parsing, matching, search, datum conversion) is `minqing-address`;
//! this module only feeds it the register and reads and writes the store.

pub mod aliases;
pub mod geocode;
pub mod register;
pub mod review;

pub use register::{
    AreaName, area_names, build_register, register_entries, register_entries_from_dir,
    register_from_dir,
};

use crate::model::LinkStatus;
use minqing_address::coords::Datum;
use minqing_address::{Level, MatchResult};

/// How a match result links a record: at unit or building level when the matcher
/// answered, `ambiguous` when it abstained between candidates, `unmatched` otherwise.
pub fn link_status(r: &MatchResult) -> LinkStatus {
    match (&r.code, r.level) {
        (Some(_), Some(Level::Unit)) => LinkStatus::Unit,
        (Some(_), Some(Level::Building)) => LinkStatus::Building,
        _ if !r.candidates.is_empty() => LinkStatus::Ambiguous,
        _ => LinkStatus::Unmatched,
    }
}

/// A datum by its name in parameters, sidecar files and columns: `wgs84` (also
/// `cgcs2000`, `epsg:4326`), `gcj02`, `bd09`; case and `-`/`_` are ignored.
pub fn parse_datum(s: &str) -> Option<Datum> {
    let k: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match k.as_str() {
        "wgs84" | "cgcs2000" | "epsg:4326" | "4326" => Datum::Wgs84,
        "gcj02" => Datum::Gcj02,
        "bd09" | "bd09ll" => Datum::Bd09,
        _ => return None,
    })
}

/// The canonical name of a datum.
pub fn datum_name(d: Datum) -> &'static str {
    match d {
        Datum::Wgs84 => "wgs84",
        Datum::Gcj02 => "gcj02",
        Datum::Bd09 => "bd09",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datum_names() {
        assert_eq!(parse_datum("GCJ-02"), Some(Datum::Gcj02));
        assert_eq!(parse_datum("bd09"), Some(Datum::Bd09));
        assert_eq!(parse_datum(" WGS84\n"), Some(Datum::Wgs84));
        assert_eq!(parse_datum("cgcs2000"), Some(Datum::Wgs84));
        assert_eq!(parse_datum("mercator"), None);
        for d in [Datum::Wgs84, Datum::Gcj02, Datum::Bd09] {
            assert_eq!(parse_datum(datum_name(d)), Some(d));
        }
    }
}
