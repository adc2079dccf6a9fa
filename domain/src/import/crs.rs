//! The coordinate reference system of an import file, and its conversion to WGS-84.
//!
//! Supported:
//! - **WGS-84** (EPSG:4326) longitude/latitude;
//! - **CGCS2000 geographic** (EPSG:4490), read as WGS-84. The two datums are realised
//!   differently (ITRF97 at epoch 2000.0 vs. the WGS-84 (G-series) frames) but agree to a
//!   few centimetres, and their ellipsoids differ only in the flattening's 11th digit
//!   (0.1 mm at the pole). A district's registers are placed to metres, so no
//!   transformation is applied — the same choice China's own mapping standards make for
//!   scales up to 1:500;
//! - **CGCS2000 3-degree Gauss-Krüger** zones (transverse Mercator, scale 1 on the
//!   central meridian, false easting 500 000 m, or the zone number × 1 000 000 + 500 000
//!   — EPSG:4544 is the 105°E zone without the zone number, EPSG:4523 the same zone as
//!   zone 35), and any other transverse Mercator on that ellipsoid that a `.prj`
//!   describes, projected back through `proj4rs` (a pure-Rust port of PROJ's formulas;
//!   no system PROJ);
//! - **GCJ-02** and **BD-09** longitude/latitude, converted by `minqing_address::coords`.
//!
//! A CRS comes from a Shapefile's `.prj` (WKT, OGC or ESRI flavour), a GeoPackage's
//! `srs_id` and its `gpkg_spatial_ref_sys` definition, a `.crs` sidecar file, or the
//! `--crs` option. Datums on other ellipsoids (Beijing 1954, Xi'an 1980) need seven
//! parameters no file carries: they are refused with a message naming them.

use minqing_address::coords::{self, Datum};

/// Semi-major axis and inverse flattening of CGCS2000 (and, to 0.1 mm, of WGS-84/GRS80).
const CGCS2000_A: f64 = 6_378_137.0;
const CGCS2000_RF: f64 = 298.257_222_101;

/// Where a file's coordinates are.
#[derive(Clone)]
pub enum Crs {
    /// Longitude/latitude in degrees on this datum.
    Geographic(Datum),
    /// Projected metres, with the EPSG code when known and the projection.
    Projected(Box<Projected>),
}

#[derive(Clone)]
pub struct Projected {
    /// How the report names it: `EPSG:4544`, or the `.prj`'s own name.
    pub name: String,
    proj: proj4rs::Proj,
}

impl std::fmt::Debug for Crs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Default for Crs {
    fn default() -> Self {
        Crs::Geographic(Datum::Wgs84)
    }
}

/// The longitude/latitude system proj4rs converts into (CGCS2000 ≈ WGS-84, above).
fn lonlat() -> &'static proj4rs::Proj {
    static P: std::sync::OnceLock<proj4rs::Proj> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        proj4rs::Proj::from_proj_string(&format!(
            "+proj=longlat +a={CGCS2000_A} +rf={CGCS2000_RF} +no_defs"
        ))
        .expect("a valid longlat definition")
    })
}

impl Crs {
    /// A transverse Mercator on the CGCS2000 ellipsoid.
    pub fn transverse_mercator(
        name: String,
        lon_0: f64,
        lat_0: f64,
        k: f64,
        x_0: f64,
        y_0: f64,
    ) -> Result<Crs, String> {
        let def = format!(
            "+proj=tmerc +lat_0={lat_0} +lon_0={lon_0} +k={k} +x_0={x_0} +y_0={y_0} \
             +a={CGCS2000_A} +rf={CGCS2000_RF} +units=m +no_defs"
        );
        let proj = proj4rs::Proj::from_proj_string(&def)
            .map_err(|e| format!("{name}: cannot set up the projection: {e}"))?;
        Ok(Crs::Projected(Box::new(Projected { name, proj })))
    }

    /// A CRS by its EPSG code: 4326, 4490, the CGCS2000 3-degree Gauss-Krüger zones with
    /// the zone number in the easting (4513–4533: zones 25–45, central meridians 75°–135°E)
    /// and without it (4534–4554: central meridians 75°–135°E).
    pub fn from_epsg(code: u32) -> Option<Crs> {
        let name = format!("EPSG:{code}");
        match code {
            4326 | 4490 => Some(Crs::Geographic(Datum::Wgs84)),
            4513..=4533 => {
                let zone = (code - 4513 + 25) as f64;
                Crs::transverse_mercator(name, zone * 3.0, 0.0, 1.0, zone * 1e6 + 5e5, 0.0).ok()
            }
            4534..=4554 => {
                let cm = 75.0 + 3.0 * (code - 4534) as f64;
                Crs::transverse_mercator(name, cm, 0.0, 1.0, 5e5, 0.0).ok()
            }
            _ => None,
        }
    }

    /// A CRS by the word of a `.crs` sidecar or the `--crs` option: `wgs84`, `cgcs2000`,
    /// `gcj02`, `bd09`, or `EPSG:n` / `n` for the codes [`Crs::from_epsg`] knows.
    pub fn parse(word: &str) -> Option<Crs> {
        if let Some(d) = crate::address_service::parse_datum(word) {
            return Some(Crs::Geographic(d));
        }
        let w = word.trim().to_ascii_lowercase();
        let digits = w.strip_prefix("epsg:").unwrap_or(&w);
        digits.parse().ok().and_then(Crs::from_epsg)
    }

    /// How reports name it.
    pub fn name(&self) -> String {
        match self {
            Crs::Geographic(d) => crate::address_service::datum_name(*d).to_string(),
            Crs::Projected(p) => p.name.clone(),
        }
    }

    /// Whether coordinates are metres.
    pub fn is_projected(&self) -> bool {
        matches!(self, Crs::Projected(_))
    }

    /// WGS-84 longitude/latitude of `(x, y)` in this CRS, or why not.
    pub fn to_wgs84(&self, x: f64, y: f64) -> Result<(f64, f64), String> {
        if !(x.is_finite() && y.is_finite()) {
            return Err(format!("coordinates ({x}, {y}) are not numbers"));
        }
        match self {
            Crs::Geographic(d) => {
                if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
                    return Err(if x.abs() > 1000.0 || y.abs() > 1000.0 {
                        format!(
                            "coordinates ({x}, {y}) look like projected metres, not longitude/latitude: \
                             give the file its .prj (or a .crs sidecar / --crs such as EPSG:4544)"
                        )
                    } else {
                        format!("coordinates ({x}, {y}) are not longitude/latitude")
                    });
                }
                Ok(coords::convert(x, y, *d, Datum::Wgs84))
            }
            Crs::Projected(p) => {
                let mut pt = (x, y, 0.0);
                proj4rs::transform::transform(&p.proj, lonlat(), &mut pt)
                    .map_err(|e| format!("coordinates ({x}, {y}) do not project back: {e}"))?;
                let (lon, lat) = (pt.0.to_degrees(), pt.1.to_degrees());
                let on_earth = lon.is_finite()
                    && lat.is_finite()
                    && (-180.0..=180.0).contains(&lon)
                    && (-90.0..=90.0).contains(&lat);
                if !on_earth {
                    return Err(format!(
                        "coordinates ({x}, {y}) lie outside {} (wrong zone or false easting?)",
                        p.name
                    ));
                }
                Ok((lon, lat))
            }
        }
    }

    /// Convert every coordinate of `g` to WGS-84; the first failure is the error.
    pub fn geometry_to_wgs84(&self, g: &mut geo_types::Geometry<f64>) -> Result<(), String> {
        if matches!(self, Crs::Geographic(Datum::Wgs84)) {
            // Only the range check.
            use geo::CoordsIter;
            return match g.coords_iter().find(|c| self.to_wgs84(c.x, c.y).is_err()) {
                Some(c) => self.to_wgs84(c.x, c.y).map(|_| ()),
                None => Ok(()),
            };
        }
        use geo::MapCoords;
        *g = g.try_map_coords(|c| {
            self.to_wgs84(c.x, c.y)
                .map(|(x, y)| geo_types::Coord { x, y })
        })?;
        Ok(())
    }
}

/// The CRS a WKT text (a `.prj`, a GeoPackage definition) describes.
///
/// Read: a `GEOGCS`/`GEOGCRS` on a 6 378 137 m ellipsoid (WGS-84, CGCS2000, GRS80) is
/// WGS-84; a `PROJCS`/`PROJCRS` whose method is transverse Mercator or Gauss-Krüger on
/// such an ellipsoid is projected with its own parameters. An `AUTHORITY`/`ID` with a
/// known EPSG code at the top level settles it directly.
pub fn from_wkt(wkt: &str) -> Result<Crs, String> {
    let text = wkt.trim();
    let upper = text.to_ascii_uppercase();
    let projected = upper.starts_with("PROJCS") || upper.starts_with("PROJCRS");
    let geographic =
        upper.starts_with("GEOGCS") || upper.starts_with("GEOGCRS") || upper.starts_with("GEODCRS");
    if !projected && !geographic {
        return Err(format!(
            "not a coordinate system definition (WKT): {}",
            text.chars().take(60).collect::<String>()
        ));
    }
    if let Some(code) = top_level_epsg(text)
        && let Some(crs) = Crs::from_epsg(code)
    {
        return Ok(crs);
    }
    let name = quoted_after(text, 0).unwrap_or_default();
    let a = spheroid_axis(text);
    if let Some(a) = a
        && (a - CGCS2000_A).abs() > 0.5
    {
        return Err(format!(
            "{name}: datum on an ellipsoid of semi-major axis {a} m (Beijing 1954 or Xi'an 1980?) \
             needs a seven-parameter transformation; export the file in CGCS2000 or WGS-84"
        ));
    }
    if geographic {
        return Ok(Crs::Geographic(Datum::Wgs84));
    }
    let lower = text.to_ascii_lowercase();
    if !(lower.contains("transverse_mercator")
        || lower.contains("transverse mercator")
        || lower.contains("gauss_kruger")
        || lower.contains("gauss-kruger")
        || lower.contains("gauss_kruger"))
    {
        return Err(format!(
            "{name}: only transverse Mercator (Gauss-Krüger) projections are supported"
        ));
    }
    let param = |keys: &[&str]| parameter(text, keys);
    let lon_0 = param(&["central_meridian", "longitude of natural origin"])
        .ok_or_else(|| format!("{name}: no central meridian"))?;
    let lat_0 = param(&["latitude_of_origin", "latitude of natural origin"]).unwrap_or(0.0);
    let k = param(&["scale_factor", "scale factor at natural origin"]).unwrap_or(1.0);
    let x_0 = param(&["false_easting", "false easting"]).unwrap_or(0.0);
    let y_0 = param(&["false_northing", "false northing"]).unwrap_or(0.0);
    Crs::transverse_mercator(name, lon_0, lat_0, k, x_0, y_0)
}

/// The first double-quoted string after byte `from`.
fn quoted_after(text: &str, from: usize) -> Option<String> {
    let rest = &text[from..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(rest[start..start + len].to_string())
}

/// The numbers inside the brackets following `at` (the keyword's position).
fn numbers_after(text: &str, at: usize) -> Vec<f64> {
    let rest = &text[at..];
    let Some(open) = rest.find(['[', '(']) else {
        return Vec::new();
    };
    let mut depth = 0;
    let mut end = rest.len();
    for (i, ch) in rest[open..].char_indices() {
        match ch {
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    rest[open + 1..end]
        .split(',')
        .filter_map(|s| s.trim().parse::<f64>().ok())
        .collect()
}

/// The value of `PARAMETER["<one of keys>", v]` (case-insensitive).
fn parameter(text: &str, keys: &[&str]) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    keys.iter().find_map(|key| {
        let needle = format!("\"{key}\"");
        let i = lower.find(&needle)?;
        let rest = text[i + needle.len()..].trim_start().strip_prefix(',')?;
        let end = rest.find([',', ']', ')'])?;
        rest[..end].trim().parse().ok()
    })
}

/// The semi-major axis of the `SPHEROID`/`ELLIPSOID`.
fn spheroid_axis(text: &str) -> Option<f64> {
    let upper = text.to_ascii_uppercase();
    let i = upper
        .find("SPHEROID[")
        .or_else(|| upper.find("ELLIPSOID["))?;
    numbers_after(text, i).first().copied()
}

/// The EPSG code of the outermost object (its last `AUTHORITY`/`ID`, at depth 1).
fn top_level_epsg(text: &str) -> Option<u32> {
    let upper = text.to_ascii_uppercase();
    let mut depth = 0i32;
    let mut found = None;
    let bytes = upper.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'(' => depth += 1,
            b']' | b')' => depth -= 1,
            _ => {
                if depth == 1
                    && (upper[i..].starts_with("AUTHORITY[") || upper[i..].starts_with("ID["))
                {
                    let inner = &upper[i..];
                    if inner.contains("\"EPSG\"") {
                        let nums = numbers_after(&text.replace('"', " "), i);
                        found = nums.first().map(|&n| n as u32).or(found);
                    }
                }
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRJ_4544: &str = r#"PROJCS["CGCS2000_3_Degree_GK_CM_105E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    #[test]
    fn reads_esri_and_ogc_wkt() {
        let crs = from_wkt(PRJ_4544).unwrap();
        assert!(crs.is_projected());
        assert_eq!(crs.name(), "CGCS2000_3_Degree_GK_CM_105E");
        let ogc = r#"PROJCS["CGCS2000 / 3-degree Gauss-Kruger zone 35",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4490"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",105],PARAMETER["scale_factor",1],PARAMETER["false_easting",35500000],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","4523"]]"#;
        assert_eq!(from_wkt(ogc).unwrap().name(), "EPSG:4523");
        let geo = r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]"#;
        assert!(!from_wkt(geo).unwrap().is_projected());
        let xian = r#"PROJCS["Xian_1980_3_Degree_GK_CM_105E",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]]],PROJECTION["Gauss_Kruger"],PARAMETER["Central_Meridian",105.0]]"#;
        assert!(from_wkt(xian).unwrap_err().contains("seven-parameter"));
        assert!(from_wkt("hello").is_err());
    }

    /// Control points: EPSG:4490 longitude/latitude and their EPSG:4544 / EPSG:4523
    /// coordinates, computed independently with pyproj 3.7.2 (PROJ's exact transverse
    /// Mercator): `Transformer.from_crs("EPSG:4490", "EPSG:4544", always_xy=True)`.
    /// Projected back here, each must land within 0.1 m.
    #[test]
    fn gauss_kruger_matches_proj_control_points() {
        const POINTS: [(f64, f64, f64, f64); 4] = [
            (104.3979, 31.1270, 442572.7371, 3445210.8686),
            (104.2501, 31.3012, 428606.5033, 3464611.7271),
            (104.5523, 30.9876, 457237.0040, 3429685.5617),
            (103.8, 31.5, 385993.4007, 3487035.0647),
        ];
        let zone = Crs::from_epsg(4544).unwrap();
        let numbered = Crs::from_epsg(4523).unwrap();
        let prj = from_wkt(PRJ_4544).unwrap();
        for (lon, lat, x, y) in POINTS {
            for (crs, x) in [(&zone, x), (&numbered, x + 35_000_000.0), (&prj, x)] {
                let got = crs.to_wgs84(x, y).unwrap();
                let d = coords::distance_m(got, (lon, lat));
                assert!(
                    d <= 0.1,
                    "{}: ({x}, {y}) → {got:?}, {d} m from ({lon}, {lat})",
                    crs.name()
                );
            }
        }
    }

    #[test]
    fn words_and_codes() {
        assert_eq!(Crs::parse("EPSG:4544").unwrap().name(), "EPSG:4544");
        assert_eq!(Crs::parse("4523").unwrap().name(), "EPSG:4523");
        assert!(!Crs::parse("epsg:4490").unwrap().is_projected());
        assert!(Crs::parse("utm48n").is_none());
        let e = Crs::default()
            .to_wgs84(35_413_000.0, 3_445_000.0)
            .unwrap_err();
        assert!(e.contains("projected"), "{e}");
    }
}
