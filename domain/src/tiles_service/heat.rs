//! Heat-map tiles: quartic kernel density of the (filtered) events, evaluated at pixel
//! centres in Web Mercator metres by `minqing_analysis::kde`, coloured by
//! `minqing_tiles::render_heatmap_png`.
//!
//! **Bandwidth rule.** One radius per zoom, fixed at load: the ArcGIS/QGIS default search
//! radius of all events (`kde::default_bandwidth`, in mercator metres) clamped to between
//! 4 and 40 pixels of that zoom — wide enough to show at low zooms, tight enough to keep
//! detail at high zooms. Every tile of a zoom uses the same radius and pixel lattice, so
//! tiles join without seams.
//!
//! **Colour scale.** Fixed per zoom at load (filters and later writes do not change it,
//! so colours stay comparable): the ramp saturates at half the kernel peak
//! (`3/(π r²)`) times the largest number of events in any `r × r` square of that zoom's
//! bin lattice.

use super::filters::EventFilter;
use crate::index::EventIndex;
use crate::model::Event;
use minqing_analysis::kde::{GridSpec, KernelDensity, default_bandwidth};
use minqing_tiles::heatmap::TILE_PIXELS;
use minqing_tiles::projection::{ORIGIN_SHIFT, lonlat_to_mercator, mercator_to_lonlat};
use minqing_tiles::{ColorRamp, MAX_ZOOM, PixelGrid, TileId, render_heatmap_png};
use std::collections::HashMap;
use std::f64::consts::PI;

#[derive(Debug, Clone)]
pub struct HeatScales {
    /// Kernel radius in mercator metres, per zoom.
    pub radius: Vec<f64>,
    /// Density at which the ramp saturates, per zoom.
    pub scale_max: Vec<f32>,
}

/// Mercator metres per pixel of a 256-pixel tile at zoom `z`.
fn pixel_metres(z: u8) -> f64 {
    2.0 * ORIGIN_SHIFT / ((1u64 << z) as f64 * f64::from(TILE_PIXELS))
}

impl HeatScales {
    pub fn build(events: &[Event]) -> HeatScales {
        let pts: Vec<(f64, f64)> = events
            .iter()
            .map(|e| lonlat_to_mercator(e.lon, e.lat))
            .collect();
        let base = default_bandwidth(&pts, None).unwrap_or(500.0);
        let mut radius = Vec::new();
        let mut scale_max = Vec::new();
        for z in 0..=MAX_ZOOM {
            let px = pixel_metres(z);
            let r = base.clamp(4.0 * px, 40.0 * px);
            let mut bins: HashMap<(i64, i64), u32> = HashMap::new();
            for &(x, y) in &pts {
                *bins
                    .entry(((x / r).floor() as i64, (y / r).floor() as i64))
                    .or_default() += 1;
            }
            let densest = bins.values().copied().max().unwrap_or(1).max(1);
            radius.push(r);
            scale_max.push((0.5 * f64::from(densest) * 3.0 / (PI * r * r)) as f32);
        }
        HeatScales { radius, scale_max }
    }

    /// How far (world units, 0..1) a point's influence reaches at zoom `z`, plus a pixel.
    pub fn reach_world(&self, z: u8) -> f64 {
        (self.radius[usize::from(z)] + pixel_metres(z)) / (2.0 * ORIGIN_SHIFT)
    }
}

/// Render one heat-map tile. A tile with no density is a fully transparent PNG.
pub fn render(
    tile: TileId,
    events: &EventIndex,
    filter: &EventFilter,
    scales: &HeatScales,
) -> anyhow::Result<Vec<u8>> {
    let z = usize::from(tile.z());
    let r = scales.radius[z];
    let grid = PixelGrid::new(tile, TILE_PIXELS);
    let reach = grid.influence_bounds(r);
    // Grown by one public cell so that every cell it touches is counted whole.
    let cell_m = 2.0 * ORIGIN_SHIFT / f64::from(1u32 << crate::disclosure::PUBLIC_CELL_LEVEL);
    let (west, south) = mercator_to_lonlat(reach.min_x - cell_m, reach.min_y - cell_m);
    let (east, north) = mercator_to_lonlat(reach.max_x + cell_m, reach.max_y + cell_m);
    // The disclosure layer: events count at their public cell's centre, and a cell with
    // 1–4 events adds nothing (heat maps are not audited, so this holds for everyone).
    let mut cells: std::collections::BTreeMap<(i64, i64), (f64, f64, u64)> = Default::default();
    for e in events
        .in_box([west, south], [east, north])
        .filter(|e| filter.matches(e))
    {
        let c = cells
            .entry(crate::disclosure::public_cell(e.lon, e.lat))
            .or_insert_with(|| {
                let (lon, lat) = crate::disclosure::public_cell_centre(e.lon, e.lat);
                (lon, lat, 0)
            });
        c.2 += 1;
    }
    let (pts, weights): (Vec<(f64, f64)>, Vec<f64>) = cells
        .values()
        .filter(|c| c.2 >= u64::from(crate::disclosure::MIN_COUNT))
        .map(|&(lon, lat, n)| (lonlat_to_mercator(lon, lat), n as f64))
        .unzip();
    let n = (TILE_PIXELS * TILE_PIXELS) as usize;
    let values: Vec<f32> = if pts.is_empty() {
        vec![0.0; n]
    } else {
        let kde = KernelDensity::new(&pts, Some(&weights), r)?;
        kde.grid(&GridSpec {
            origin_x: grid.bounds.min_x,
            origin_y: grid.bounds.max_y,
            pixel_size: grid.pixel,
            width: TILE_PIXELS as usize,
            height: TILE_PIXELS as usize,
        })?
        .into_iter()
        .map(|v| v as f32)
        .collect()
    };
    Ok(render_heatmap_png(
        &values,
        scales.scale_max[z],
        &ColorRamp::default(),
    )?)
}
