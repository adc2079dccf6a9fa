//! What the tile layers need beyond the index, built once when the index loads: area
//! topologies (generalised lazily, once per zoom, then kept), per-area counts, a road
//! R-tree, aggregation pyramids, and the live event aggregates that writes update.

use crate::index::{EventIndex, Index};
use crate::model::{AreaLevel, Event};
use geo::BoundingRect;
use minqing_tiles::projection::lonlat_to_world;
use minqing_tiles::{AggregatePyramid, EXTENT, Generalized, MAX_ZOOM, TileId, Topology};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Aggregation cells: 128 tile units, i.e. at most 32×32 cells per tile (plus buffer).
pub const AGG_CELL: u32 = 128;
/// Below this zoom the point layers are served from the aggregation pyramids.
pub const POINT_MIN_ZOOM: u8 = 14;
/// Zooms the pyramids cover.
pub const PYRAMID_MAX_ZOOM: u8 = POINT_MIN_ZOOM - 1;

/// One level of the area hierarchy with its shared-boundary topology.
pub struct AreaLevelTiles {
    pub level: AreaLevel,
    /// Index into `Index::areas` of each topology feature.
    pub area_ids: Vec<u32>,
    topology: Topology,
    generalized: Vec<OnceLock<Generalized>>,
}

impl AreaLevelTiles {
    fn new(index: &Index, level: AreaLevel) -> AreaLevelTiles {
        let area_ids: Vec<u32> = index
            .areas
            .iter()
            .enumerate()
            .filter(|(_, a)| a.area.level == level)
            .map(|(i, _)| i as u32)
            .collect();
        let polys: Vec<_> = area_ids
            .iter()
            .map(|&i| index.areas[i as usize].area.geometry.clone())
            .collect();
        AreaLevelTiles {
            level,
            area_ids,
            topology: Topology::build(&polys),
            generalized: (0..=MAX_ZOOM).map(|_| OnceLock::new()).collect(),
        }
    }

    /// This level simplified for zoom `z` (one tile unit tolerance), built on first use.
    pub fn at_zoom(&self, z: u8) -> &Generalized {
        self.generalized[usize::from(z.min(MAX_ZOOM))]
            .get_or_init(|| self.topology.generalize(z, 1.0))
    }
}

/// The area level drawn at a zoom: townships up to 10, communities 11–13, grids from 14.
pub fn area_level_for_zoom(z: u8) -> AreaLevel {
    match z {
        0..=10 => AreaLevel::Township,
        11..=13 => AreaLevel::Community,
        _ => AreaLevel::Grid,
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AreaCounts {
    pub buildings: u64,
    pub residents: u64,
}

/// The building points as the `buildings` layer draws them, laid out for the uncached
/// tile path: world coordinates (no projection per request), and the records in Z-order,
/// so that one tile's points are near each other in memory instead of scattered over
/// `Index::buildings` (profiling showed the scattered reads and the per-point Mercator
/// projection costing about as much as encoding).
///
/// Lookup is a flat cell grid, not an R-tree: in Z-order every quadtree cell is one
/// contiguous run of records, so a table per level from cell to run finds a tile's points
/// with a few dozen hash lookups and a linear scan (the R-tree walk was 13 % of the
/// uncached buildings path under wrk, more than the scan of the 2–3× larger area costs).
pub struct BuildingPoints {
    /// World coordinates (the Web Mercator unit square) of each record.
    pub world: Vec<[f64; 2]>,
    /// `cells[i]`: cell at level `CELL_LEVELS.start() + i` → its run `start..end` of records.
    cells: Vec<HashMap<u64, (u32, u32), foldhash::fast::FixedState>>,
    /// residents, units, enterprises.
    pub counts: Vec<[u32; 3]>,
    codes: String,
    code_ends: Vec<u32>,
}

/// A building's resident count as every tile shows it: protected by the disclosure
/// layer (tiles are not audited, so nobody gets exact per-building figures from them);
/// areas sum these.
fn shown_residents(b: &crate::index::BuildingEntry) -> u32 {
    crate::disclosure::protected_building_residents(&b.code, b.residents)
}

impl BuildingPoints {
    fn build(index: &Index) -> BuildingPoints {
        BuildingPoints::from_points(index.buildings.iter().map(|b| {
            (
                b.lon,
                b.lat,
                b.code.as_str(),
                [shown_residents(b), b.units, b.enterprises],
            )
        }))
    }

    /// From `(lon, lat, code, [residents, units, enterprises])` per building.
    fn from_points<'a>(points: impl Iterator<Item = (f64, f64, &'a str, [u32; 3])>) -> Self {
        let points: Vec<_> = points.collect();
        let mut order: Vec<(u64, u32, [f64; 2])> = points
            .iter()
            .enumerate()
            .filter_map(|(i, &(lon, lat, _, _))| {
                let (u, v) = lonlat_to_world(lon, lat);
                (u.is_finite() && v.is_finite()).then(|| (z_order(u, v), i as u32, [u, v]))
            })
            .collect();
        order.sort_unstable_by_key(|&(key, i, _)| (key, i));
        let mut codes = String::new();
        let mut code_ends = Vec::with_capacity(order.len());
        let mut counts = Vec::with_capacity(order.len());
        for &(_, i, _) in &order {
            let (_, _, code, c) = points[i as usize];
            codes.push_str(code);
            code_ends.push(codes.len() as u32);
            counts.push(c);
        }
        let cells = CELL_LEVELS
            .map(|level| {
                let mut runs: HashMap<u64, (u32, u32), foldhash::fast::FixedState> =
                    HashMap::default();
                for (k, &(key, _, _)) in order.iter().enumerate() {
                    let cell = key >> (2 * (Z_ORDER_BITS - level));
                    runs.entry(cell).or_insert((k as u32, k as u32)).1 = k as u32 + 1;
                }
                runs
            })
            .collect();
        BuildingPoints {
            world: order.iter().map(|&(_, _, w)| w).collect(),
            cells,
            counts,
            codes,
            code_ends,
        }
    }

    /// Appends `(x, y, record)` for every record inside the tile grown by `buffer` tile
    /// units, in tile-local integer coordinates, in record order (each cell is a run of
    /// the Z-ordered records; the runs are visited in order, so the hits need no sort).
    pub fn hits(&self, tile: TileId, buffer: u32, out: &mut Vec<(i32, i32, u32)>) {
        let (lo, hi) = (-i64::from(buffer), i64::from(EXTENT + buffer));
        // Cells a quarter of the tile wide (up to the finest level): the buffered tile
        // then touches at most 6×6 of them.
        let level = (u32::from(tile.z()) + 2).clamp(*CELL_LEVELS.start(), *CELL_LEVELS.end());
        let runs = &self.cells[(level - CELL_LEVELS.start()) as usize];
        let t = tile.transform();
        let (u0, v0, u1, v1) = tile.bounds_world();
        let pad = (f64::from(buffer) + 1.0) / f64::from(EXTENT) * (u1 - u0);
        let cell_of = |c: f64| z_order_axis(c) >> (Z_ORDER_BITS - level);
        let (cx0, cx1) = (cell_of(u0 - pad), cell_of(u1 + pad));
        let (cy0, cy1) = (cell_of(v0 - pad), cell_of(v1 + pad));
        let mut cells: Vec<(u32, u32)> = (cy0..=cy1)
            .flat_map(|cy| (cx0..=cx1).map(move |cx| interleave(cx) | (interleave(cy) << 1)))
            .filter_map(|cell| runs.get(&cell).copied())
            .collect();
        // Runs in record order (they are disjoint); their total bounds the hits.
        cells.sort_unstable();
        out.reserve(cells.iter().map(|&(s, e)| (e - s) as usize).sum());
        for (start, end) in cells {
            for k in start..end {
                let [u, v] = self.world[k as usize];
                if let Some((x, y)) = t.world_to_tile_i64(u, v)
                    && x >= lo
                    && x <= hi
                    && y >= lo
                    && y <= hi
                {
                    out.push((x as i32, y as i32, k));
                }
            }
        }
    }

    /// The building code of record `k`.
    pub fn code(&self, k: u32) -> &str {
        let k = k as usize;
        let start = if k == 0 {
            0
        } else {
            self.code_ends[k - 1] as usize
        };
        &self.codes[start..self.code_ends[k] as usize]
    }
}

/// Bits per axis of the Z-order grid (2^24 cells a side, about 2.4 m at the equator: the
/// store order only needs to be finer than the lookup's finest cells, level 18, ~150 m).
const Z_ORDER_BITS: u32 = 24;
/// Cell levels of [`BuildingPoints`]' lookup tables: z14 tiles use level 16, z16+ level 18.
const CELL_LEVELS: std::ops::RangeInclusive<u32> = 16..=18;

/// One axis of a world position on the Z-order grid.
fn z_order_axis(c: f64) -> u64 {
    (c.clamp(0.0, 1.0) * f64::from(1u32 << Z_ORDER_BITS)).min(f64::from((1u32 << Z_ORDER_BITS) - 1))
        as u64
}

/// Morton (Z-order) key of a world position on the 2^24 grid.
fn z_order(u: f64, v: f64) -> u64 {
    interleave(z_order_axis(u)) | (interleave(z_order_axis(v)) << 1)
}

/// Spread the low 32 bits of `x` to the even bits of a u64.
fn interleave(mut x: u64) -> u64 {
    x &= 0xFFFF_FFFF;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// An enterprise as tiles show it: where, which industry section, what size. Nothing else.
pub struct EnterprisePoint {
    pub lon: f64,
    pub lat: f64,
    pub industry: String,
    pub size: String,
}

/// Derived, immutable after load — except [`Prepared::analysis`], the hot spot and risk
/// results that [`super::analysis_layers::refresh`] replaces when the events changed.
pub struct Prepared {
    /// The generalised area polygons (shared with a relinked copy: they never change).
    pub area_levels: Arc<Vec<AreaLevelTiles>>,
    pub area_counts: Vec<AreaCounts>,
    /// World-unit bounding box `(u0, v0, u1, v1)` of every area (for invalidation).
    pub area_world_bbox: Vec<(f64, f64, f64, f64)>,
    pub area_index_by_code: HashMap<String, u32>,
    pub road_tree: Arc<RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>>,
    /// The basemap layers' structures (shared with a relinked copy: they never change).
    pub basemap: Arc<super::basemap::BasemapTiles>,
    pub building_points: BuildingPoints,
    /// Weights: residents, units, enterprises.
    pub building_pyramid: AggregatePyramid,
    pub enterprises: Vec<EnterprisePoint>,
    pub enterprise_tree: RTree<GeomWithData<[f64; 2], u32>>,
    pub enterprise_pyramid: AggregatePyramid,
    /// `[west, south, east, north]` of the district.
    pub bounds: [f64; 4],
    pub heat: super::heat::HeatScales,
    /// The `hotspots` and `risk` layers' copy of the analysis results.
    pub analysis: super::analysis_layers::AnalysisSlot,
}

impl Prepared {
    pub fn build(index: &Index, events: &EventIndex) -> Prepared {
        let area_levels = Arc::new(
            [AreaLevel::Township, AreaLevel::Community, AreaLevel::Grid]
                .into_iter()
                .map(|l| AreaLevelTiles::new(index, l))
                .collect(),
        );
        let road_tree = Arc::new(RTree::bulk_load(
            index
                .roads
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let b = r.geometry.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                        i as u32,
                    ))
                })
                .collect(),
        ));
        let basemap = Arc::new(super::basemap::BasemapTiles::build(index));
        Self::with_shapes(index, events, area_levels, road_tree, basemap)
    }

    /// The same structures for an index whose record links changed (a review
    /// resolution): the area polygons and roads are shared, everything that counts
    /// records (area counts, building points, pyramids, enterprises) is rebuilt.
    pub fn relinked(&self, index: &Index, events: &EventIndex) -> Prepared {
        Self::with_shapes(
            index,
            events,
            self.area_levels.clone(),
            self.road_tree.clone(),
            self.basemap.clone(),
        )
    }

    fn with_shapes(
        index: &Index,
        events: &EventIndex,
        area_levels: Arc<Vec<AreaLevelTiles>>,
        road_tree: Arc<RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>>,
        basemap: Arc<super::basemap::BasemapTiles>,
    ) -> Prepared {
        let mut area_counts = vec![AreaCounts::default(); index.areas.len()];
        for b in &index.buildings {
            let mut cur = b.grid;
            while let Some(a) = cur {
                area_counts[a as usize].buildings += 1;
                area_counts[a as usize].residents += u64::from(shown_residents(b));
                cur = index.areas[a as usize].parent;
            }
        }
        let area_world_bbox = index
            .areas
            .iter()
            .map(|a| match a.area.geometry.bounding_rect() {
                Some(r) => {
                    let (u0, v0) = lonlat_to_world(r.min().x, r.max().y);
                    let (u1, v1) = lonlat_to_world(r.max().x, r.min().y);
                    (u0, v0, u1, v1)
                }
                None => (0.0, 0.0, 0.0, 0.0),
            })
            .collect();
        let area_index_by_code = index
            .areas
            .iter()
            .enumerate()
            .map(|(i, a)| (a.area.code.clone(), i as u32))
            .collect();
        let building_weights: Vec<[f64; 3]> = index
            .buildings
            .iter()
            .map(|b| {
                [
                    f64::from(shown_residents(b)),
                    f64::from(b.units),
                    f64::from(b.enterprises),
                ]
            })
            .collect();
        let (building_pyramid, _) = AggregatePyramid::build(
            index
                .buildings
                .iter()
                .zip(&building_weights)
                .map(|(b, w)| (b.lon, b.lat, &w[..])),
            0..=PYRAMID_MAX_ZOOM,
            AGG_CELL,
            3,
        )
        .expect("static pyramid parameters are valid");
        let enterprises: Vec<EnterprisePoint> = index
            .enterprises
            .iter()
            .filter_map(|e| {
                let b = &index.buildings[e.building? as usize];
                Some(EnterprisePoint {
                    lon: b.lon,
                    lat: b.lat,
                    industry: e.industry.clone(),
                    size: e.size.clone(),
                })
            })
            .collect();
        let enterprise_tree = RTree::bulk_load(
            enterprises
                .iter()
                .enumerate()
                .map(|(i, e)| GeomWithData::new([e.lon, e.lat], i as u32))
                .collect(),
        );
        let (enterprise_pyramid, _) = AggregatePyramid::build(
            enterprises.iter().map(|e| (e.lon, e.lat, &[][..])),
            0..=PYRAMID_MAX_ZOOM,
            AGG_CELL,
            0,
        )
        .expect("static pyramid parameters are valid");
        let bounds = index
            .areas
            .iter()
            .filter_map(|a| a.area.geometry.bounding_rect())
            .fold(None, |acc: Option<[f64; 4]>, r| {
                Some(match acc {
                    None => [r.min().x, r.min().y, r.max().x, r.max().y],
                    Some(b) => [
                        b[0].min(r.min().x),
                        b[1].min(r.min().y),
                        b[2].max(r.max().x),
                        b[3].max(r.max().y),
                    ],
                })
            })
            .unwrap_or([-180.0, -85.0, 180.0, 85.0]);
        Prepared {
            area_levels,
            area_counts,
            area_world_bbox,
            area_index_by_code,
            road_tree,
            basemap,
            building_points: BuildingPoints::build(index),
            building_pyramid,
            enterprises,
            enterprise_tree,
            enterprise_pyramid,
            bounds,
            heat: super::heat::HeatScales::build(&events.events),
            analysis: Default::default(),
        }
    }

    pub fn area_level(&self, level: AreaLevel) -> Option<&AreaLevelTiles> {
        self.area_levels.iter().find(|l| l.level == level)
    }
}

/// What the tiles keep of an event to undo its contribution when it changes.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    lon: f64,
    lat: f64,
    open: f64,
    grid: Option<u32>,
}

/// The event aggregates that writes keep current.
pub struct LiveEvents {
    /// Weights: open (not closed) events.
    pub pyramid: AggregatePyramid,
    /// Events per area (all statuses), including ancestors.
    pub area_events: Vec<u64>,
    tracked: HashMap<String, Tracked>,
}

/// What one applied change touched, for cache invalidation.
#[derive(Debug, Default)]
pub struct Touched {
    /// World-unit points (new and old position).
    pub points: Vec<(f64, f64)>,
    /// Areas whose event count changed.
    pub areas: Vec<u32>,
}

fn tracked(e: &Event, prepared: &Prepared) -> Tracked {
    Tracked {
        lon: e.lon,
        lat: e.lat,
        open: if e.status == "closed" { 0.0 } else { 1.0 },
        grid: prepared.area_index_by_code.get(&e.grid_code).copied(),
    }
}

impl LiveEvents {
    pub fn build(events: &EventIndex, prepared: &Prepared, index: &Index) -> LiveEvents {
        let mut live = LiveEvents {
            pyramid: AggregatePyramid::new(0..=PYRAMID_MAX_ZOOM, AGG_CELL, 1)
                .expect("static pyramid parameters are valid"),
            area_events: vec![0; index.areas.len()],
            tracked: HashMap::with_capacity(events.len()),
        };
        for e in &events.events {
            live.insert(e.code.clone(), tracked(e, prepared), index);
        }
        live
    }

    fn insert(&mut self, code: String, t: Tracked, index: &Index) {
        // A non-finite position simply stays out of the aggregates.
        let _ = self.pyramid.add(t.lon, t.lat, &[t.open]);
        self.bump_areas(t.grid, index, true);
        self.tracked.insert(code, t);
    }

    fn bump_areas(&mut self, grid: Option<u32>, index: &Index, up: bool) {
        let mut cur = grid;
        while let Some(a) = cur {
            let c = &mut self.area_events[a as usize];
            *c = if up { *c + 1 } else { c.saturating_sub(1) };
            cur = index.areas[a as usize].parent;
        }
    }

    /// Apply the current version of an event (`None` if it vanished) and say what moved.
    pub fn apply(
        &mut self,
        code: &str,
        current: Option<&Event>,
        prepared: &Prepared,
        index: &Index,
    ) -> Touched {
        let mut touched = Touched::default();
        let old = self.tracked.remove(code);
        if let Some(o) = old {
            let _ = self.pyramid.remove(o.lon, o.lat, &[o.open]);
            touched.points.push(lonlat_to_world(o.lon, o.lat));
        }
        let new = current.map(|e| tracked(e, prepared));
        if let Some(n) = new {
            let _ = self.pyramid.add(n.lon, n.lat, &[n.open]);
            touched.points.push(lonlat_to_world(n.lon, n.lat));
            self.tracked.insert(code.to_string(), n);
        }
        let (og, ng) = (old.and_then(|o| o.grid), new.and_then(|n| n.grid));
        if old.is_none() || new.is_none() || og != ng {
            if old.is_some() {
                self.bump_areas(og, index, false);
            }
            if new.is_some() {
                self.bump_areas(ng, index, true);
            }
            for g in [og, ng].into_iter().flatten() {
                let mut cur = Some(g);
                while let Some(a) = cur {
                    touched.areas.push(a);
                    cur = index.areas[a as usize].parent;
                }
            }
        }
        touched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_are_every_point_of_the_buffered_tile_in_record_order() {
        // A clustered cloud over a few z14 tiles, and far-off strays.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let pts: Vec<(f64, f64, String)> = (0..20_000)
            .map(|i| {
                let (lon, lat) = if i % 50 == 0 {
                    (60.0 + 60.0 * next(), -30.0 + 60.0 * next())
                } else {
                    (104.38 + 0.04 * next() * next(), 31.11 + 0.03 * next())
                };
                (lon, lat, format!("B{i:06}"))
            })
            .collect();
        let bp = BuildingPoints::from_points(
            pts.iter()
                .map(|(lon, lat, code)| (*lon, *lat, code.as_str(), [1, 2, 3])),
        );
        let mut checked = 0;
        for z in 14..=18u8 {
            let centre = TileId::from_lonlat(104.395, 31.125, z).expect("tile");
            for dy in -2i64..=2 {
                for dx in -2i64..=2 {
                    let Ok(tile) = TileId::new(
                        z,
                        (i64::from(centre.x()) + dx) as u32,
                        (i64::from(centre.y()) + dy) as u32,
                    ) else {
                        continue;
                    };
                    let mut got = Vec::new();
                    bp.hits(tile, 64, &mut got);
                    assert!(
                        got.windows(2).all(|w| w[0].2 < w[1].2),
                        "{tile:?}: hits not in record order"
                    );
                    let t = tile.transform();
                    let want: Vec<(i32, i32, u32)> = bp
                        .world
                        .iter()
                        .enumerate()
                        .filter_map(|(k, &[u, v])| {
                            let (x, y) = t.world_to_tile_i64(u, v)?;
                            ((-64..=4096 + 64).contains(&x) && (-64..=4096 + 64).contains(&y))
                                .then_some((x as i32, y as i32, k as u32))
                        })
                        .collect();
                    assert_eq!(got, want, "{tile:?}");
                    checked += want.len();
                }
            }
        }
        assert!(
            checked > 10_000,
            "the tiles held too few points to test: {checked}"
        );
        // Codes follow their records.
        let mut got = Vec::new();
        bp.hits(
            TileId::from_lonlat(104.395, 31.125, 14).expect("tile"),
            64,
            &mut got,
        );
        for &(_, _, k) in &got {
            let code = bp.code(k);
            let (lon, lat, _) = &pts[code[1..].parse::<usize>().expect("code")];
            let (u, v) = lonlat_to_world(*lon, *lat);
            assert_eq!(bp.world[k as usize], [u, v]);
        }
    }
}
