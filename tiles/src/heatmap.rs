//! Heat-map raster tiles.
//!
//! The density itself belongs to the analysis crate (quartic kernel); this module only
//! says *where* to evaluate it and turns the values into a PNG. Values are evaluated at
//! pixel **centres** in mercator metres: neighbouring tiles' pixel lattices continue one
//! another exactly, so equal densities give equal pixels on both sides of a seam and no
//! edge ever shows.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use crate::projection::{MercatorBounds, ORIGIN_SHIFT};
use crate::tile::TileId;

/// Side of a standard raster tile, pixels.
pub const TILE_PIXELS: u32 = 256;

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeatmapError {
    /// `values.len()` is not `width · height`.
    #[error("expected {expected} values, got {got}")]
    WrongLength {
        /// `width · height`.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// Ramp stops must be non-empty, in `[0, 1]` and increasing.
    #[error("colour ramp stops must be non-empty, within [0, 1] and strictly increasing")]
    BadRamp,
    /// Zero or oversized image.
    #[error("image size {0}×{1} is not allowed")]
    BadSize(u32, u32),
    /// PNG encoder failure.
    #[error("png encoding: {0}")]
    Png(String),
}

/// The pixel lattice of one raster tile in mercator metres.
///
/// Centres are computed from the *global* pixel index at the tile's zoom, not from the
/// tile's own corner, so adjacent tiles share one lattice bit for bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelGrid {
    /// Tile bounds.
    pub bounds: MercatorBounds,
    /// Pixels per side.
    pub size: u32,
    /// Pixel side, metres (the same for every tile of a zoom).
    pub pixel: f64,
    col0: f64,
    row0: f64,
}

impl PixelGrid {
    /// A `size × size` lattice over `tile` (256 for standard tiles, 512 for high-DPI).
    pub fn new(tile: TileId, size: u32) -> PixelGrid {
        let size = size.clamp(1, 4096);
        let per_world = (1u64 << tile.z()) as f64 * f64::from(size);
        PixelGrid {
            bounds: tile.bounds_mercator(),
            size,
            pixel: 2.0 * ORIGIN_SHIFT / per_world,
            col0: f64::from(tile.x()) * f64::from(size),
            row0: f64::from(tile.y()) * f64::from(size),
        }
    }

    /// Centre of pixel (`col`, `row`), row 0 at the top (north), in mercator metres.
    pub fn centre(&self, col: u32, row: u32) -> (f64, f64) {
        (
            (self.col0 + f64::from(col) + 0.5) * self.pixel - ORIGIN_SHIFT,
            ORIGIN_SHIFT - (self.row0 + f64::from(row) + 0.5) * self.pixel,
        )
    }

    /// All pixel centres, row-major (the order [`render_heatmap_png`] expects).
    pub fn centres(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        (0..self.size).flat_map(move |r| (0..self.size).map(move |c| self.centre(c, r)))
    }

    /// The area whose points can influence this tile: the bounds grown by the kernel
    /// bandwidth in **mercator** metres (see
    /// [`crate::projection::ground_to_mercator_distance`]).
    pub fn influence_bounds(&self, bandwidth_mercator: f64) -> MercatorBounds {
        self.bounds.expand(bandwidth_mercator.max(0.0))
    }
}

/// A colour ramp: stops at positions in `[0, 1]` with RGBA colours, linearly interpolated.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorRamp {
    stops: Vec<(f32, [u8; 4])>,
    /// Normalised values at or below this are fully transparent.
    pub threshold: f32,
}

impl Default for ColorRamp {
    /// Transparent → blue → cyan → yellow → red, opacity rising with density so that
    /// sparse areas stay see-through over the base map.
    fn default() -> Self {
        ColorRamp {
            stops: vec![
                (0.0, [0, 0, 255, 0]),
                (0.15, [0, 64, 255, 120]),
                (0.4, [0, 220, 255, 170]),
                (0.7, [255, 230, 0, 210]),
                (1.0, [230, 20, 0, 235]),
            ],
            threshold: 0.005,
        }
    }
}

impl ColorRamp {
    /// A custom ramp; positions must be in `[0, 1]` and strictly increasing.
    pub fn new(stops: Vec<(f32, [u8; 4])>, threshold: f32) -> Result<ColorRamp, HeatmapError> {
        let ok = !stops.is_empty()
            && stops.iter().all(|(p, _)| (0.0..=1.0).contains(p))
            && stops.windows(2).all(|w| w[0].0 < w[1].0)
            && threshold.is_finite();
        if !ok {
            return Err(HeatmapError::BadRamp);
        }
        Ok(ColorRamp { stops, threshold })
    }

    /// Colour for a normalised value `t` (clamped to `[0, 1]`; NaN → transparent).
    pub fn sample(&self, t: f32) -> [u8; 4] {
        if t.is_nan() || t <= self.threshold {
            return [0, 0, 0, 0];
        }
        let t = t.min(1.0);
        let first = self.stops[0];
        if t <= first.0 {
            return first.1;
        }
        for w in self.stops.windows(2) {
            let ((p0, c0), (p1, c1)) = (w[0], w[1]);
            if t <= p1 {
                let f = (t - p0) / (p1 - p0);
                let mut c = [0u8; 4];
                for i in 0..4 {
                    let v = f32::from(c0[i]) + (f32::from(c1[i]) - f32::from(c0[i])) * f;
                    c[i] = v.round().clamp(0.0, 255.0) as u8;
                }
                return c;
            }
        }
        self.stops[self.stops.len() - 1].1
    }
}

/// Whether every value would render transparent (serve an empty response instead).
pub fn is_blank(values: &[f32], scale_max: f32, ramp: &ColorRamp) -> bool {
    values
        .iter()
        .all(|&v| ramp.sample(normalise(v, scale_max))[3] == 0)
}

fn normalise(v: f32, scale_max: f32) -> f32 {
    if scale_max > 0.0 && scale_max.is_finite() {
        v / scale_max
    } else {
        f32::NAN
    }
}

/// Renders 256×256 row-major density values (top row first) as an RGBA PNG.
/// `scale_max` is the density mapped to the top of the ramp (values above saturate);
/// values ≤ the ramp threshold, NaN, or a non-positive `scale_max` give transparency.
pub fn render_heatmap_png(
    values: &[f32],
    scale_max: f32,
    ramp: &ColorRamp,
) -> Result<Vec<u8>, HeatmapError> {
    render_heatmap_png_sized(values, TILE_PIXELS, TILE_PIXELS, scale_max, ramp)
}

/// As [`render_heatmap_png`] for any size up to 4096×4096.
pub fn render_heatmap_png_sized(
    values: &[f32],
    width: u32,
    height: u32,
    scale_max: f32,
    ramp: &ColorRamp,
) -> Result<Vec<u8>, HeatmapError> {
    if width == 0 || height == 0 || width > 4096 || height > 4096 {
        return Err(HeatmapError::BadSize(width, height));
    }
    let expected = width as usize * height as usize;
    if values.len() != expected {
        return Err(HeatmapError::WrongLength {
            expected,
            got: values.len(),
        });
    }
    let mut rgba = Vec::with_capacity(expected * 4);
    for &v in values {
        rgba.extend_from_slice(&ramp.sample(normalise(v, scale_max)));
    }
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(&rgba, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| HeatmapError::Png(e.to_string()))?;
    Ok(out)
}
