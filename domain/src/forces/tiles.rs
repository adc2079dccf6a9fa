//! The `patrols` tile layer: the patrols of the last 30 days of the record (ending at
//! the newest patrol's start), as their tracks (lines) from [`LINE_MIN_ZOOM`], and below
//! as coverage: the patrol visits of each visited H3 cell (resolution 9) summed into
//! 64-unit tile cells at the cell's centre. Tracks carry the patrol code, team name and
//! day, never a person. Tracks are projected and simplified per zoom once, when a
//! patrol is loaded or logged ([`prepare_lines`]).

use crate::tiles_service::layers::{BUFFER, RenderCtx};
use crate::time::DAY;
use geo::Simplify;
use geo_types::{Coord, Geometry, LineString};
use minqing_tiles::projection::lonlat_to_world;
use minqing_tiles::{EXTENT, EncodeError, LayerBuilder, PropValue};
use std::collections::HashMap;

/// From this zoom the layer draws tracks; below, coverage cells.
pub const LINE_MIN_ZOOM: u8 = 13;
/// Tracks are prepared for each zoom up to this one; deeper zooms draw this one's.
pub const LINE_MAX_PREPARED: u8 = 16;
/// The simplification tolerance, in tile units (1/16 of a pixel of a 256-pixel tile at
/// extent 4096: well below what a line of width 1.5 px shows).
const TOLERANCE_UNITS: f64 = 1.0;

/// A track projected once to world coordinates (Web Mercator, 0–1) and simplified
/// (Douglas–Peucker, `geo`'s `Simplify`) for each zoom of `LINE_MIN_ZOOM..=
/// LINE_MAX_PREPARED` at [`TOLERANCE_UNITS`] of that zoom's tiles: a track tile then
/// scales and rounds the few vertices that matter, with no projection and no
/// simplification per request (a walked track has a fix every ~30 m, mostly along a
/// straight road).
pub fn prepare_lines(track: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let world: LineString<f64> = track
        .iter()
        .map(|&(x, y)| {
            let (u, v) = lonlat_to_world(x, y);
            Coord { x: u, y: v }
        })
        .collect();
    (LINE_MIN_ZOOM..=LINE_MAX_PREPARED)
        .map(|z| {
            let eps = TOLERANCE_UNITS / (f64::from(EXTENT) * f64::from(1u32 << z));
            world
                .simplify(&eps)
                .0
                .into_iter()
                .map(|c| (c.x, c.y))
                .collect()
        })
        .collect()
}
/// Tile units of a coverage cell.
const COVER_CELL: i64 = 64;

/// The start of the layer's window: 30 days before the newest patrol started.
fn window(patrols: &[super::Patrol]) -> Option<(i64, i64)> {
    let last = patrols.last()?.started_at;
    Some((last + 1 - 30 * DAY, last + 1))
}

/// Render the layer into `out`.
pub fn render(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let forces = ctx.index.forces.read();
    let Some((from, to)) = window(&forces.patrols) else {
        return Ok(());
    };
    let b = crate::tiles_service::layers::buffered_box(ctx.tile, 0);
    let ([w, s], [e, n]) = (b.lower(), b.upper());
    let t = ctx.tile.transform();
    let patrols = forces.patrols_between(from, to);
    if ctx.tile.z() >= LINE_MIN_ZOOM && !ctx.force_aggregate {
        let band = usize::from(ctx.tile.z().min(LINE_MAX_PREPARED) - LINE_MIN_ZOOM);
        let mut pts: Vec<Coord<i64>> = Vec::new();
        for p in patrols {
            if p.bbox[2] < w || p.bbox[0] > e || p.bbox[3] < s || p.bbox[1] > n {
                continue;
            }
            let Some(line) = p.lines.get(band) else {
                continue;
            };
            pts.clear();
            for &(u, v) in line {
                let Some((x, y)) = t.world_to_tile_i64(u, v) else {
                    continue;
                };
                if pts.last() != Some(&Coord { x, y }) {
                    pts.push(Coord { x, y });
                }
            }
            if pts.len() < 2 {
                continue;
            }
            let team = &forces.teams[p.team as usize];
            out.add_tile_geometry(
                &Geometry::LineString(LineString::new(std::mem::take(&mut pts))),
                None,
                &[
                    ("code", PropValue::Str(&p.code)),
                    ("team", PropValue::Str(&team.name)),
                    ("day", PropValue::Str(&p.day)),
                ],
            )?;
        }
        return Ok(());
    }
    let lo = -i64::from(BUFFER);
    let hi = i64::from(EXTENT + BUFFER);
    let mut cells: HashMap<(i64, i64), u64> = HashMap::new();
    for p in patrols {
        if p.bbox[2] < w || p.bbox[0] > e || p.bbox[3] < s || p.bbox[1] > n {
            continue;
        }
        for &(x, y) in &p.cell_centres {
            if x < w || x > e || y < s || y > n {
                continue;
            }
            let Some((tx, ty)) = t.lonlat_to_tile_i64(x, y) else {
                continue;
            };
            if tx < lo || tx > hi || ty < lo || ty > hi {
                continue;
            }
            *cells
                .entry((tx.div_euclid(COVER_CELL), ty.div_euclid(COVER_CELL)))
                .or_default() += 1;
        }
    }
    let mut cells: Vec<((i64, i64), u64)> = cells.into_iter().collect();
    cells.sort_unstable();
    let visits = out.key("visits");
    for ((cx, cy), v) in cells {
        let (x, y) = (
            cx * COVER_CELL + COVER_CELL / 2,
            cy * COVER_CELL + COVER_CELL / 2,
        );
        out.add_tile_point_keyed(x, y, None, &[(visits, PropValue::U64(v))])?;
    }
    Ok(())
}
