//! Web Mercator (EPSG:3857) on the spherical model used by every web map.
//!
//! Three coordinate spaces appear in this crate:
//!
//! * **lon/lat** in degrees (WGS 84, treated as spherical — the EPSG:3857 convention);
//! * **mercator metres** (EPSG:3857 x/y, y pointing north), used where distances matter,
//!   e.g. heat-map kernels evaluated at pixel centres;
//! * **world units** `(u, v)` in `[0, 1]`, with `v` pointing *south* like tile rows. The
//!   world grid at zoom `z` is simply `(u, v) * 2^z * extent`; quantising there (instead
//!   of per tile) is what makes every vertex land on the same integer position in every
//!   tile that contains it.
//!
//! Latitudes are clamped to ±[`MAX_LATITUDE`] so every finite input has an image; non-finite
//! inputs propagate as NaN and are rejected by the callers that need integers.

use std::f64::consts::PI;

/// Radius of the EPSG:3857 sphere, metres.
pub const EARTH_RADIUS: f64 = 6_378_137.0;
/// Half the width of the mercator square, metres (`π · R`).
pub const ORIGIN_SHIFT: f64 = PI * EARTH_RADIUS;
/// Latitude at which the mercator square ends (`atan(sinh(π))`), degrees.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// lon/lat (degrees) → mercator metres. Latitude is clamped to ±[`MAX_LATITUDE`].
pub fn lonlat_to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    let x = lon.to_radians() * EARTH_RADIUS;
    let y = (PI / 4.0 + lat.to_radians() / 2.0).tan().ln() * EARTH_RADIUS;
    (x, y)
}

/// Mercator metres → lon/lat (degrees).
pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / EARTH_RADIUS).to_degrees();
    let lat = (2.0 * (y / EARTH_RADIUS).exp().atan() - PI / 2.0).to_degrees();
    (lon, lat)
}

/// Mercator metres → world units `(u, v)` (`v` grows southwards).
pub fn mercator_to_world(x: f64, y: f64) -> (f64, f64) {
    let size = 2.0 * ORIGIN_SHIFT;
    ((x + ORIGIN_SHIFT) / size, (ORIGIN_SHIFT - y) / size)
}

/// World units → mercator metres.
pub fn world_to_mercator(u: f64, v: f64) -> (f64, f64) {
    let size = 2.0 * ORIGIN_SHIFT;
    (u * size - ORIGIN_SHIFT, ORIGIN_SHIFT - v * size)
}

/// lon/lat → world units.
pub fn lonlat_to_world(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = lonlat_to_mercator(lon, lat);
    mercator_to_world(x, y)
}

/// World units → lon/lat.
pub fn world_to_lonlat(u: f64, v: f64) -> (f64, f64) {
    let (x, y) = world_to_mercator(u, v);
    mercator_to_lonlat(x, y)
}

/// How many mercator metres correspond to `metres` on the ground at latitude `lat`.
///
/// Mercator stretches distances by `1 / cos(lat)`; kernels defined in ground metres must
/// be widened by this factor before they are evaluated in mercator space.
pub fn ground_to_mercator_distance(metres: f64, lat: f64) -> f64 {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    metres / lat.to_radians().cos()
}

/// Bounding box in lon/lat degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLatBounds {
    /// Western edge (minimum longitude).
    pub west: f64,
    /// Southern edge (minimum latitude).
    pub south: f64,
    /// Eastern edge (maximum longitude).
    pub east: f64,
    /// Northern edge (maximum latitude).
    pub north: f64,
}

impl LonLatBounds {
    /// Whether the point lies inside or on the edge of the box.
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        lon >= self.west && lon <= self.east && lat >= self.south && lat <= self.north
    }
}

/// Bounding box in mercator metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MercatorBounds {
    /// Minimum x (west).
    pub min_x: f64,
    /// Minimum y (south).
    pub min_y: f64,
    /// Maximum x (east).
    pub max_x: f64,
    /// Maximum y (north).
    pub max_y: f64,
}

impl MercatorBounds {
    /// The box grown by `d` metres on every side.
    pub fn expand(&self, d: f64) -> MercatorBounds {
        MercatorBounds {
            min_x: self.min_x - d,
            min_y: self.min_y - d,
            max_x: self.max_x + d,
            max_y: self.max_y + d,
        }
    }

    /// Whether the point lies inside or on the edge of the box.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.min_x && x <= self.max_x && y >= self.min_y && y <= self.max_y
    }

    /// Width (= height for tiles) in metres.
    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_roundtrip(lon: f64, lat: f64) {
        let (x, y) = lonlat_to_mercator(lon, lat);
        let (lon2, lat2) = mercator_to_lonlat(x, y);
        assert!((lon - lon2).abs() < 1e-9, "lon {lon} -> {lon2}");
        assert!((lat - lat2).abs() < 1e-9, "lat {lat} -> {lat2}");
        let (u, v) = lonlat_to_world(lon, lat);
        let (lon3, lat3) = world_to_lonlat(u, v);
        assert!((lon - lon3).abs() < 1e-9 && (lat - lat3).abs() < 1e-9);
    }

    #[test]
    fn roundtrips() {
        for (lon, lat) in [
            (0.0, 0.0),
            (104.397, 31.127),
            (-179.9, -85.0),
            (180.0, 85.0),
            (13.4, 52.5),
        ] {
            check_roundtrip(lon, lat);
        }
    }

    fn check_known(lon: f64, lat: f64, x: f64, y: f64) {
        let (px, py) = lonlat_to_mercator(lon, lat);
        assert!((px - x).abs() < 1e-3 && (py - y).abs() < 1e-3, "{px},{py}");
    }

    #[test]
    fn known_values() {
        // Values follow from the definition: x = R·λ, y = R·ln tan(π/4 + φ/2).
        check_known(0.0, 0.0, 0.0, 0.0);
        check_known(180.0, 0.0, ORIGIN_SHIFT, 0.0);
        check_known(-90.0, 0.0, -ORIGIN_SHIFT / 2.0, 0.0);
        check_known(0.0, MAX_LATITUDE, 0.0, ORIGIN_SHIFT);
        check_known(0.0, -89.9, 0.0, -ORIGIN_SHIFT);
    }

    #[test]
    fn ground_scale_grows_with_latitude() {
        assert!((ground_to_mercator_distance(100.0, 0.0) - 100.0).abs() < 1e-9);
        assert!((ground_to_mercator_distance(100.0, 60.0) - 200.0).abs() < 1e-9);
    }
}
