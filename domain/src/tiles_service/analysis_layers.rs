//! The `hotspots` and `risk` tile layers: the results of models 3 and 4 drawn as tiles.
//!
//! **Where the numbers come from.** Both layers show exactly what the analysis endpoints
//! answer for their default query, taken from the same result caches
//! ([`crate::analysis::hotspot_layer`]: Gi* over all events at H3 resolution 9, as
//! `GET /api/v1/analysis/hotspots`; [`crate::analysis::risk`] for the whole district over
//! the default window, as `GET /api/v1/analysis/risk?level=grid|building`). They are
//! aggregates: an H3 cell's event count and statistics, a grid's or building's score and
//! tier. No personal field and no key-group count is carried.
//!
//! **How the tile service gets them.** The pure render path cannot reach the analysis
//! models, so the results are copied into an [`AnalysisFeed`] (hexagon rings in world
//! units with an R-tree, scores indexed like `Index::areas` and `Index::buildings`) kept
//! in [`super::prepared::Prepared::analysis`]. [`refresh`] runs before every tile request
//! that includes one of these layers: when the analysis generation moved (any event
//! change bumps it; Gi* and the risk scores are global, so one event can change every
//! cell), it starts one rebuild of the feed in the background (single flight, on a
//! blocking thread) and serves the feed it has meanwhile; the rebuild swaps the feed and
//! drops every cached tile that includes `hotspots` or `risk`. Tiles of the other layers
//! are not touched. So a hot spot or risk tile follows the events within one rebuild
//! (Gi* + risk, ~0.1–0.3 s at `--scale 1`), and no request waits for it except the first
//! one after start, when there is no feed yet.
//!
//! **Zooms and budgets.**
//! - `hotspots`: every cell of the study area as a hexagon polygon from z8 (cells are
//!   ~350 m across, 9 tile units at z8). If a tile holds more cells than its share of
//!   the feature budget, not-significant cells are left out first, then the weakest
//!   |gi_z|.
//! - `risk`: grid polygons at every zoom from z8 (the grid level's shared-boundary
//!   generalisation, so neighbours match the `areas` layer at z14+), and from z14 the
//!   buildings whose tier is `medium` or `large` as points ([`RISK_POINT_MIN_ZOOM`]).
//!   Small-tier buildings are left out: they are the great majority, a point for each
//!   would repeat the `buildings` layer, and the view only needs to find the risky ones;
//!   their score is available from `GET /api/v1/analysis/risk?level=building`. Over the
//!   budget, the highest scores are kept. A building's score is detail about its own
//!   events and people, so the points go only to audiences that see the building
//!   ([`super::filters::EventAudience::sees_building`]; those tiles are cached per
//!   audience); anonymous callers, the large screen and mediators get the grids.

use super::layers::{BUFFER, RenderCtx, buffered_box, world_box};
use super::prepared::Prepared;
use crate::analysis::{self as an, RiskLevel, RiskQuery};
use crate::index::Index;
use crate::model::AreaLevel;
use crate::{App, Error};
use geo_types::{Coord, Geometry, LineString, Polygon};
use minqing_tiles::projection::lonlat_to_world;
use minqing_tiles::{EXTENT, EncodeError, LayerBuilder, PropValue};
use parking_lot::{Mutex, RwLock};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use std::sync::Arc;

/// The layers served from the analysis results.
pub const ANALYSIS_LAYERS: &[&str] = &["hotspots", "risk"];
/// From this zoom the `risk` layer adds building points.
pub const RISK_POINT_MIN_ZOOM: u8 = 14;

/// One H3 cell of the hot spot result.
pub struct HexCell {
    pub cell: String,
    /// Closed ring in world units (0..1 Web Mercator square).
    pub ring: Vec<(f64, f64)>,
    pub count: f64,
    pub gi_z: f64,
    pub p: f64,
    pub class: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskValue {
    pub score: f64,
    pub tier: &'static str,
}

/// The analysis results as the tiles draw them.
pub struct AnalysisFeed {
    /// [`crate::analysis::Analysis::generation`] when the feed was built.
    pub generation: u64,
    pub hexes: Vec<HexCell>,
    hex_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    /// Indexed like `Index::areas` (grids only).
    pub grid_risk: Vec<Option<RiskValue>>,
    /// Indexed like `Index::buildings`; only medium and large tiers.
    pub building_risk: Vec<Option<RiskValue>>,
}

/// The feed slot in [`Prepared`]: the one part of it that changes after load.
#[derive(Default)]
pub struct AnalysisSlot {
    feed: RwLock<Option<Arc<AnalysisFeed>>>,
    rebuilding: Mutex<()>,
    /// A background rebuild is queued or running (so requests do not pile up tasks).
    scheduled: std::sync::atomic::AtomicBool,
}

impl AnalysisSlot {
    pub fn get(&self) -> Option<Arc<AnalysisFeed>> {
        self.feed.read().clone()
    }

    fn set(&self, feed: Arc<AnalysisFeed>) {
        *self.feed.write() = Some(feed);
    }

    fn fresh(&self, generation: u64) -> bool {
        self.get().is_some_and(|f| f.generation == generation)
    }
}

pub fn is_analysis_layer(id: &str) -> bool {
    ANALYSIS_LAYERS.contains(&id)
}

fn risk_values(
    state: &App,
    ix: &Index,
    level: RiskLevel,
    len: usize,
    keep: impl Fn(&minqing_analysis::risk::RiskScore) -> bool,
) -> Vec<Option<RiskValue>> {
    let mut out = vec![None; len];
    let result = an::resolve_area(ix, None).and_then(|area| {
        an::risk_with(
            state,
            RiskQuery {
                level,
                area,
                window: None,
            },
            an::Priority::TileFeed,
        )
    });
    // Tiles are shared by every caller: they carry the score without the key-group
    // factor (see `RiskUnit::without_key_groups`), never one a key-group count moved.
    let config = match level {
        RiskLevel::Grid => &state.analysis.risk_grid,
        RiskLevel::Building => &state.analysis.risk_building,
    };
    match result {
        Ok(r) => {
            for u in r.units.iter() {
                let public = u.without_key_groups(config);
                if !keep(&public) {
                    continue;
                }
                if let Some(slot) = out.get_mut(u.unit as usize) {
                    *slot = Some(RiskValue {
                        score: public.score,
                        tier: an::tier_name(public.tier),
                    });
                }
            }
        }
        Err(e) => tracing::warn!("risk tile layer ({level:?}) left empty: {e}"),
    }
    out
}

impl AnalysisFeed {
    /// Copy the current results (an analysis failure leaves that part empty, logged).
    fn build(state: &App, ix: &Index, generation: u64) -> AnalysisFeed {
        let hexes: Vec<HexCell> = match an::hotspot_layer(state) {
            Ok(cells) => cells
                .into_iter()
                .map(|c| HexCell {
                    ring: c
                        .boundary
                        .iter()
                        .map(|&(lon, lat)| lonlat_to_world(lon, lat))
                        .collect(),
                    cell: c.cell,
                    count: c.count,
                    gi_z: c.gi_z,
                    p: c.p,
                    class: c.class,
                })
                .collect(),
            Err(e) => {
                tracing::warn!("hotspots tile layer left empty: {e}");
                Vec::new()
            }
        };
        let hex_tree = RTree::bulk_load(
            hexes
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.ring.is_empty())
                .map(|(i, h)| {
                    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
                    for &(u, v) in &h.ring {
                        lo = [lo[0].min(u), lo[1].min(v)];
                        hi = [hi[0].max(u), hi[1].max(v)];
                    }
                    GeomWithData::new(Rectangle::from_corners(lo, hi), i as u32)
                })
                .collect(),
        );
        let grid_risk = risk_values(state, ix, RiskLevel::Grid, ix.areas.len(), |_| true);
        let building_risk = risk_values(state, ix, RiskLevel::Building, ix.buildings.len(), |s| {
            s.tier != minqing_analysis::risk::Tier::Small
        });
        AnalysisFeed {
            generation,
            hexes,
            hex_tree,
            grid_risk,
            building_risk,
        }
    }
}

/// Make the feed current before a tile of `layers` is rendered (see the module docs).
pub async fn refresh(state: &App, layers: &[&super::layers::LayerSpec]) -> Result<(), Error> {
    if !layers.iter().any(|l| is_analysis_layer(l.id)) {
        return Ok(());
    }
    let prepared = state.tiles.prepared().ok_or(Error::Loading)?;
    if prepared.analysis.fresh(state.analysis.generation()) {
        return Ok(());
    }
    let state = state.clone();
    if prepared.analysis.get().is_some() {
        // Serve the feed we have and let one background rebuild catch up: under steady
        // intake every request would otherwise wait for Gi* and the risk scores (found
        // by the mixed load test: tiles starved while events came in). The rebuild
        // drops the cached tiles of these layers when it swaps the feed, well within
        // the second a change may take to reach the tiles.
        use std::sync::atomic::Ordering;
        if prepared
            .analysis
            .scheduled
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tokio::task::spawn_blocking(move || {
                let result = rebuild(&state, &prepared);
                prepared.analysis.scheduled.store(false, Ordering::Release);
                if let Err(e) = result {
                    tracing::warn!(error = %e, "rebuilding the hotspots/risk tile feed failed");
                }
            });
        }
        return Ok(());
    }
    // No feed yet (the first request after start): wait for it.
    tokio::task::spawn_blocking(move || rebuild(&state, &prepared))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("analysis tile feed task failed: {e}")))?
}

/// Build the feed once the index is loaded, before the first map asks for it (the first
/// tile of these layers would otherwise wait for Gi* and the risk scores, behind any
/// analysis requests already computing). Blocking: call from a blocking thread.
pub fn warm(state: &App) -> Result<(), Error> {
    let prepared = state.tiles.prepared().ok_or(Error::Loading)?;
    rebuild(state, &prepared)
}

/// Rebuild the feed if it is stale (one rebuild at a time; waiters find it fresh).
pub fn rebuild(state: &App, prepared: &Prepared) -> Result<(), Error> {
    let slot = &prepared.analysis;
    let _one = slot.rebuilding.lock();
    let generation = state.analysis.generation();
    if slot.fresh(generation) {
        return Ok(());
    }
    let ix = state.index()?;
    let feed = AnalysisFeed::build(state, &ix, generation);
    // Swap first, then drop: a render that read the old feed started before the drop,
    // and the cache's generation check refuses its bytes.
    slot.set(Arc::new(feed));
    state.tiles.cache.drop_layers(ANALYSIS_LAYERS);
    Ok(())
}

/// Keep at most `budget` of `items`, preferring the ones `rank` orders first; the kept
/// ones stay in their original order.
fn within_budget<T>(
    items: &mut Vec<T>,
    budget: usize,
    rank: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    if items.len() > budget {
        items.sort_by(&rank);
        items.truncate(budget);
    }
}

pub fn render_hotspots(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let Some(feed) = ctx.prepared.analysis.get() else {
        return Ok(());
    };
    let t = ctx.tile.transform();
    let mut hits: Vec<u32> = feed
        .hex_tree
        .locate_in_envelope_intersecting(&world_box(ctx.tile))
        .map(|e| e.data)
        .collect();
    hits.sort_unstable();
    if hits.len() > ctx.budget {
        hits.retain(|&i| feed.hexes[i as usize].class != "not_significant");
        within_budget(&mut hits, ctx.budget, |a, b| {
            let (za, zb) = (feed.hexes[*a as usize].gi_z, feed.hexes[*b as usize].gi_z);
            zb.abs().total_cmp(&za.abs()).then(a.cmp(b))
        });
        hits.sort_unstable();
    }
    for i in hits {
        let h = &feed.hexes[i as usize];
        let ring: Option<Vec<Coord<i64>>> = h
            .ring
            .iter()
            .map(|&(u, v)| t.world_to_tile_i64(u, v).map(|(x, y)| Coord { x, y }))
            .collect();
        let Some(ring) = ring else { continue };
        let mut props = vec![("cell", PropValue::Str(&h.cell))];
        // The disclosure layer's count rule: a cell's count of 1–4 is left out.
        if crate::disclosure::count_may_leave(h.count.max(0.0).round() as u64) {
            props.push(("count", PropValue::F64(h.count)));
        }
        props.extend([
            ("gi_z", PropValue::F64(h.gi_z)),
            ("p", PropValue::F64(h.p)),
            ("class", PropValue::Str(h.class)),
        ]);
        out.add_tile_geometry(
            &Geometry::Polygon(Polygon::new(LineString::new(ring), Vec::new())),
            None,
            &props,
        )?;
    }
    Ok(())
}

fn by_score(a: &RiskValue, b: &RiskValue) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score)
}

pub fn render_risk(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let Some(feed) = ctx.prepared.analysis.get() else {
        return Ok(());
    };
    let z = ctx.tile.z();
    let mut budget = ctx.budget;
    if let Some(grids) = ctx.prepared.area_level(AreaLevel::Grid) {
        let mut polys: Vec<(u32, _, RiskValue)> = grids
            .at_zoom(z)
            .tile_features(ctx.tile, BUFFER)
            .into_iter()
            .filter_map(|(i, mp)| {
                let a = grids.area_ids[i];
                feed.grid_risk
                    .get(a as usize)
                    .copied()
                    .flatten()
                    .map(|r| (a, mp, r))
            })
            .collect();
        within_budget(&mut polys, budget, |a, b| {
            by_score(&a.2, &b.2).then(a.0.cmp(&b.0))
        });
        polys.sort_unstable_by_key(|p| p.0);
        budget -= polys.len();
        for (a, mp, r) in polys {
            out.add_tile_geometry(
                &Geometry::MultiPolygon(mp),
                None,
                &[
                    (
                        "code",
                        PropValue::Str(&ctx.index.areas[a as usize].area.code),
                    ),
                    ("level", PropValue::Str("grid")),
                    ("score", PropValue::F64(r.score)),
                    ("tier", PropValue::Str(r.tier)),
                ],
            )?;
        }
    }
    if z < RISK_POINT_MIN_ZOOM {
        return Ok(());
    }
    let t = ctx.tile.transform();
    let (lo, hi) = (-i64::from(BUFFER), i64::from(EXTENT + BUFFER));
    let mut points: Vec<(u32, i64, i64, RiskValue)> = ctx
        .index
        .building_tree
        .locate_in_envelope(&buffered_box(ctx.tile, 0))
        .filter_map(|e| {
            let r = feed.building_risk.get(e.data as usize).copied().flatten()?;
            let b = &ctx.index.buildings[e.data as usize];
            let grid = b
                .grid
                .map(|g| ctx.index.areas[g as usize].area.code.as_str());
            if !ctx.audience.sees_building(grid) {
                return None;
            }
            let (x, y) = t.lonlat_to_tile_i64(b.lon, b.lat)?;
            (x >= lo && x <= hi && y >= lo && y <= hi).then_some((e.data, x, y, r))
        })
        .collect();
    within_budget(&mut points, budget, |a, b| {
        by_score(&a.3, &b.3).then(a.0.cmp(&b.0))
    });
    points.sort_unstable_by_key(|p| p.0);
    for (i, x, y, r) in points {
        out.add_tile_point(
            x,
            y,
            None,
            &[
                (
                    "code",
                    PropValue::Str(&ctx.index.buildings[i as usize].code),
                ),
                ("level", PropValue::Str("building")),
                ("score", PropValue::F64(r.score)),
                ("tier", PropValue::Str(r.tier)),
            ],
        )?;
    }
    Ok(())
}
