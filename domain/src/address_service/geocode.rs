//! Geocoding one free-text address against the register: the answer the geocode
//! endpoint and the review queue both give.

use minqing_address::coords::{self, Datum};
use minqing_address::{Level, Register};
use serde::Serialize;

/// A WGS-84 point in the caller's datum, rounded to 7 decimals (~1 cm).
pub fn out_point((lon, lat): (f64, f64), datum: Datum) -> (f64, f64) {
    let (x, y) = coords::convert(lon, lat, Datum::Wgs84, datum);
    let r = |v: f64| (v * 1e7).round() / 1e7;
    (r(x), r(y))
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    /// Building code.
    pub code: String,
    pub label: String,
    pub score: f64,
}

/// The result for one input address.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Geocoded {
    /// The input, as given.
    pub input: String,
    /// Unit or building code, or null when the matcher abstained.
    pub code: Option<String>,
    /// `unit`, `building` or null.
    pub level: Option<&'static str>,
    /// In [0, 1]; at ≥ 0.9 wrong answers are very rare.
    pub confidence: f64,
    /// The canonical label of the matched address.
    pub label: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// Whether several buildings fitted equally well.
    pub ambiguous: bool,
    /// Ranked building candidates, when the matcher abstained with some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
}

/// Match one address; shared by the geocode endpoint and the review queue.
pub fn geocode_one(reg: &Register, input: &str, datum: Datum) -> Geocoded {
    let r = reg.match_address(input);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let (label, point) = match (r.level, r.unit, r.building) {
        (Some(Level::Unit), Some(u), Some(b)) => (reg.unit_label(u), reg.position(b)),
        (Some(Level::Building), _, Some(b)) => (
            reg.building(b).map(|(_, l, _, _)| l.to_string()),
            reg.position(b),
        ),
        _ => (None, None),
    };
    let point = point.map(|p| out_point(p, datum));
    let candidates = (r.code.is_none() && !r.candidates.is_empty()).then(|| {
        r.candidates
            .iter()
            .map(|c| Candidate {
                code: c.code.clone(),
                label: c.label.clone(),
                score: round(c.score),
            })
            .collect()
    });
    Geocoded {
        input: input.to_string(),
        level: r.code.as_ref().and(r.level).map(|l| match l {
            Level::Unit => "unit",
            Level::Building => "building",
        }),
        code: r.code,
        confidence: round(r.confidence),
        label,
        lon: point.map(|p| p.0),
        lat: point.map(|p| p.1),
        ambiguous: r.ambiguous,
        candidates,
    }
}
