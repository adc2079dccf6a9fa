//! Coordinate conversion between WGS-84 (and CGCS2000, which agrees with WGS-84 to
//! centimetres and is treated as the same here), GCJ-02 (Amap, Tencent) and BD-09
//! (Baidu).
//!
//! The forward offsets are the publicly known closed-form formulas. They have no closed
//! inverse, so the inverses solve `forward(x) = target` by fixed-point iteration
//! (`x ← x + (target − forward(x))`): the offset field is smooth and its derivative is
//! tiny, so each step gains several digits and a handful of steps reach < 1 mm, far
//! below the 0.5 m the product needs. Outside mainland China GCJ-02 is the identity, as
//! the services themselves do.

use std::f64::consts::PI;

/// A geodetic datum (coordinate system) a record's coordinates may be given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datum {
    /// WGS-84 / CGCS2000 (GPS, national surveying).
    Wgs84,
    /// GCJ-02 (Amap, Tencent maps).
    Gcj02,
    /// BD-09 (Baidu maps).
    Bd09,
}

// Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
const X_PI: f64 = PI * 3000.0 / 180.0;

/// Whether GCJ-02 leaves the point unshifted (outside the mainland bounding box).
pub fn out_of_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

fn finite(lon: f64, lat: f64) -> bool {
    lon.is_finite() && lat.is_finite()
}

/// WGS-84 → GCJ-02.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !finite(lon, lat) || out_of_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    if !finite(lon, lat) {
        return (lon, lat);
    }
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Solve `forward(p) = target` by fixed-point iteration, starting at `start`.
fn invert(
    target: (f64, f64),
    start: (f64, f64),
    forward: impl Fn(f64, f64) -> (f64, f64),
) -> (f64, f64) {
    if !finite(target.0, target.1) {
        return target;
    }
    let (mut x, mut y) = start;
    for _ in 0..30 {
        let (fx, fy) = forward(x, y);
        let (dx, dy) = (target.0 - fx, target.1 - fy);
        x += dx;
        y += dy;
        // 1e-10 degrees is about 0.01 mm.
        if dx.abs() < 1e-10 && dy.abs() < 1e-10 {
            break;
        }
    }
    (x, y)
}

/// GCJ-02 → WGS-84 (iterative inverse).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    invert((lon, lat), (lon, lat), wgs84_to_gcj02)
}

/// BD-09 → GCJ-02 (iterative inverse, started from the usual closed-form approximation).
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !finite(lon, lat) {
        return (lon, lat);
    }
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    invert(
        (lon, lat),
        (z * theta.cos(), z * theta.sin()),
        gcj02_to_bd09,
    )
}

/// WGS-84 → BD-09.
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = wgs84_to_gcj02(lon, lat);
    gcj02_to_bd09(x, y)
}

/// BD-09 → WGS-84.
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(x, y)
}

/// Convert `(lon, lat)` from one datum to another. Non-finite input is returned as is.
pub fn convert(lon: f64, lat: f64, from: Datum, to: Datum) -> (f64, f64) {
    use Datum::*;
    match (from, to) {
        (Wgs84, Wgs84) | (Gcj02, Gcj02) | (Bd09, Bd09) => (lon, lat),
        (Wgs84, Gcj02) => wgs84_to_gcj02(lon, lat),
        (Wgs84, Bd09) => wgs84_to_bd09(lon, lat),
        (Gcj02, Wgs84) => gcj02_to_wgs84(lon, lat),
        (Gcj02, Bd09) => gcj02_to_bd09(lon, lat),
        (Bd09, Wgs84) => bd09_to_wgs84(lon, lat),
        (Bd09, Gcj02) => bd09_to_gcj02(lon, lat),
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let dla = la2 - la1;
    let dlo = (b.0 - a.0).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid of points around Deyang (104.4E 31.1N), ±0.5° in 0.05° steps.
    fn grid() -> impl Iterator<Item = (f64, f64)> {
        (0..=20)
            .flat_map(|i| (0..=20).map(move |j| (103.9 + 0.05 * i as f64, 30.6 + 0.05 * j as f64)))
    }

    #[test]
    fn round_trips_are_below_half_a_metre() {
        let pairs = [
            (Datum::Wgs84, Datum::Gcj02),
            (Datum::Gcj02, Datum::Bd09),
            (Datum::Wgs84, Datum::Bd09),
        ];
        for (a, b) in pairs {
            let mut worst: f64 = 0.0;
            for p in grid() {
                let q = convert(p.0, p.1, a, b);
                let back = convert(q.0, q.1, b, a);
                worst = worst.max(distance_m(p, back));
                // And the other way round, starting in the second datum.
                let back2 = convert(convert(p.0, p.1, b, a).0, convert(p.0, p.1, b, a).1, a, b);
                worst = worst.max(distance_m(p, back2));
            }
            assert!(worst < 0.5, "{a:?}<->{b:?}: worst {worst} m");
            assert!(
                worst < 0.01,
                "iteration should be far below the goal: {worst} m"
            );
        }
    }

    #[test]
    fn offsets_have_the_known_size() {
        // GCJ-02 shifts Deyang by a few hundred metres; BD-09 adds roughly another
        // kilometre. A sign or constant error would show up here.
        let p = (104.4, 31.1);
        let g = wgs84_to_gcj02(p.0, p.1);
        let d = distance_m(p, g);
        assert!((100.0..800.0).contains(&d), "gcj offset {d}");
        let b = gcj02_to_bd09(g.0, g.1);
        let d2 = distance_m(g, b);
        assert!((500.0..1500.0).contains(&d2), "bd offset {d2}");
    }

    #[test]
    fn outside_china_and_non_finite_pass_through() {
        assert_eq!(wgs84_to_gcj02(2.35, 48.85), (2.35, 48.85));
        assert_eq!(gcj02_to_wgs84(2.35, 48.85), (2.35, 48.85));
        let (x, y) = convert(f64::NAN, 31.0, Datum::Bd09, Datum::Wgs84);
        assert!(x.is_nan() && y == 31.0);
    }
}
