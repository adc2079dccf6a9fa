//! The tile layer registry: one [`LayerSpec`] entry per layer (adding a layer is one
//! entry plus its render function). Every property a layer can carry is listed in its
//! spec, and the tests check the tiles against that list: no layer carries a person's
//! name, ID number or phone (the index holds none), and no key-group count is served yet.

use super::filters::{EventAudience, EventFilter};
use super::prepared::{LiveEvents, POINT_MIN_ZOOM, Prepared, area_level_for_zoom};
use crate::index::{EventIndex, Index};
use geo_types::{Coord, Geometry, LineString};
use minqing_tiles::aggregate::grid_cluster;
use minqing_tiles::simplify::simplify_line;
use minqing_tiles::{EXTENT, EncodeError, LayerBuilder, PropValue, TileId, round_half_away};
use rstar::AABB;

/// Buffer around every vector tile, in tile units (of 4096).
pub const BUFFER: u32 = 64;
/// The feature budget of one tile (all layers together): the browser draws at most this.
pub const MAX_FEATURES_PER_TILE: usize = 20_000;
/// Cell of the on-the-fly aggregation used when a point zoom is too dense (tile units).
pub const DENSE_CELL: u32 = 64;

/// Everything a layer's render function may read.
pub struct RenderCtx<'a> {
    pub tile: TileId,
    pub index: &'a Index,
    pub prepared: &'a Prepared,
    pub live: &'a LiveEvents,
    pub events: &'a EventIndex,
    pub filter: &'a EventFilter,
    /// Whose events may appear as points (see [`EventAudience`]).
    pub audience: &'a EventAudience,
    /// How many features this layer may add before it must aggregate.
    pub budget: usize,
    /// Force aggregation (the size guard re-renders with this when a tile grew too big).
    pub force_aggregate: bool,
}

pub struct LayerSpec {
    pub id: &'static str,
    pub description: &'static str,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// Fields of individual features (and of aggregated cells, where different).
    pub fields: &'static [(&'static str, &'static str)],
    /// Whether the layer changes with events (for cache invalidation) and takes filters.
    pub uses_events: bool,
    /// Most point features this layer sends before aggregating (bytes guard).
    pub max_points: usize,
    pub render: fn(&RenderCtx<'_>, &mut LayerBuilder) -> Result<(), EncodeError>,
}

pub static LAYERS: &[LayerSpec] = &[
    LayerSpec {
        id: "areas",
        description: "Townships (z0–10), communities (z11–13) and grids (z14+), generalised per zoom with shared boundaries kept identical",
        minzoom: 0,
        maxzoom: 22,
        fields: &[
            ("code", "String: area code"),
            ("name", "String: the area's place name (乡镇/社区/网格)"),
            ("level", "String: township, community or grid"),
            (
                "kind",
                "String: street/town, community/village, urban/rural",
            ),
            ("buildings", "Number: building addresses in the area"),
            ("residents", "Number: residents linked to those buildings"),
            ("events", "Number: events reported in the area (live)"),
        ],
        uses_events: true,
        max_points: usize::MAX,
        render: render_areas,
    },
    LayerSpec {
        id: "roads",
        description: "Named roads: main from z8, rural from z11, streets from z13",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            ("name", "String: the road's name"),
            ("class", "String: main, street or rural"),
        ],
        uses_events: false,
        max_points: usize::MAX,
        render: render_roads,
    },
    LayerSpec {
        id: "landuse",
        description: "Basemap land use: built-up areas, farmland, forest on the hills, parks; polygons from z8 (below z13 generalised by two tile units, patches under 64 square units left out)",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            (
                "kind",
                "String: residential, commercial, industrial, farmland, forest or park",
            ),
            (
                "name",
                "String: the park's or hill's name (when it has one)",
            ),
        ],
        uses_events: false,
        max_points: usize::MAX,
        render: super::basemap::render_landuse,
    },
    LayerSpec {
        id: "water",
        description: "Basemap water: rivers, lakes, reservoirs and ponds as polygons, rivers, streams and canals also as centrelines; from z8",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            (
                "kind",
                "String: river, lake, reservoir, pond, stream or canal",
            ),
            ("name", "String: the water's name (when it has one)"),
        ],
        uses_events: false,
        max_points: usize::MAX,
        render: super::basemap::render_water,
    },
    LayerSpec {
        id: "pois",
        description: "Basemap points of interest: governance centres, township offices, police stations, mediation rooms, schools, hospitals, markets, stations; rank 1 from z11, rank 2 from z13, rank 3 from z15",
        minzoom: 11,
        maxzoom: 22,
        fields: &[
            (
                "kind",
                "String: governance_centre, township_office, police, mediation_room, school, hospital, market or station",
            ),
            ("name", "String: the institution's name"),
            (
                "rank",
                "Number: 1 district-wide, 2 a township's, 3 a community's",
            ),
        ],
        uses_events: false,
        max_points: usize::MAX,
        render: super::basemap::render_pois,
    },
    LayerSpec {
        id: "patrols",
        description: "Patrols of the last 30 days of the record: GPS tracks from z13; below, patrol visits of hot-spot-sized cells summed in 64-unit cells",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            ("code", "String: patrol code (tracks only)"),
            ("team", "String: the patrol team's name (tracks only)"),
            (
                "day",
                "String: the day it started, YYYY-MM-DD CST (tracks only)",
            ),
            (
                "visits",
                "Number: patrol visits of cells here (coverage cells only)",
            ),
        ],
        uses_events: false,
        max_points: usize::MAX,
        render: crate::forces::tiles::render,
    },
    LayerSpec {
        id: "buildings",
        description: "Building addresses: points from z14; below, 128-unit cells with summed counts (cluster=true)",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            ("code", "String: building address code (points only)"),
            ("residents", "Number: residents (summed in cells)"),
            ("units", "Number: unit/room addresses (summed in cells)"),
            ("enterprises", "Number: enterprises (summed in cells)"),
            ("count", "Number: buildings in the cell (cells only)"),
            ("cluster", "Boolean: true for an aggregated cell"),
        ],
        uses_events: false,
        max_points: 8_000,
        render: render_buildings,
    },
    LayerSpec {
        id: "enterprises",
        description: "Enterprises at their building: points from z14 (industry section and size only); cells below",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            (
                "industry",
                "String: industry section (GB/T 4754 letter; points only)",
            ),
            ("size", "String: size class (points only)"),
            ("count", "Number: enterprises in the cell (cells only)"),
            ("cluster", "Boolean: true for an aggregated cell"),
        ],
        uses_events: false,
        max_points: 8_000,
        render: render_enterprises,
    },
    LayerSpec {
        id: "events",
        description: "Events: points from z14, cells below; filters category, status, from, to (dates: whole CST days, both ends inclusive)",
        minzoom: 0,
        maxzoom: 22,
        fields: &[
            ("code", "String: event code (points only)"),
            ("category", "String: dispute category (points only)"),
            ("status", "String: closed-loop status (points only)"),
            ("risk_tier", "String: small, medium or large (points only)"),
            ("reported_at", "Number: unix seconds (points only)"),
            ("count", "Number: events in the cell (cells only)"),
            ("open", "Number: events not closed in the cell (cells only)"),
            ("cluster", "Boolean: true for an aggregated cell"),
        ],
        uses_events: true,
        max_points: 6_000,
        render: render_events,
    },
    LayerSpec {
        id: "hotspots",
        description: "Getis-Ord Gi* hot spots of all events on the district's H3 cells (resolution 9, FDR-corrected; the default answer of /api/v1/analysis/hotspots): hexagons from z8; over the feature budget, not-significant cells are left out first",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            ("cell", "String: H3 cell index (hex)"),
            ("count", "Number: events in the cell"),
            ("gi_z", "Number: Gi* z-score"),
            ("p", "Number: two-sided p-value, before the FDR correction"),
            (
                "class",
                "String: hot99, hot95, hot90, not_significant, cold90, cold95 or cold99 (after Benjamini-Hochberg FDR)",
            ),
        ],
        // Not per event: Gi* is global, so the whole layer is refreshed on any change.
        uses_events: false,
        max_points: usize::MAX,
        render: super::analysis_layers::render_hotspots,
    },
    LayerSpec {
        id: "risk",
        description: "Risk scores over the default window (as /api/v1/analysis/risk): grid polygons from z8; from z14 also the medium- and large-tier buildings as points",
        minzoom: 8,
        maxzoom: 22,
        fields: &[
            ("code", "String: grid or building address code"),
            ("level", "String: grid (polygons) or building (points)"),
            ("score", "Number: risk score 0-100"),
            ("tier", "String: small, medium or large"),
        ],
        uses_events: false,
        max_points: usize::MAX,
        render: super::analysis_layers::render_risk,
    },
];

pub fn layer(id: &str) -> Option<&'static LayerSpec> {
    LAYERS.iter().find(|l| l.id == id)
}

/// The world-unit box of the tile grown by the buffer (plus a hair, as [`buffered_box`]).
pub(super) fn world_box(tile: TileId) -> AABB<[f64; 2]> {
    let (u0, v0, u1, v1) = tile.bounds_world();
    let pad = (f64::from(BUFFER) + 1.0) / f64::from(EXTENT) * (u1 - u0);
    AABB::from_corners([u0 - pad, v0 - pad], [u1 + pad, v1 + pad])
}

/// The lon/lat box of the tile grown by the buffer (plus a hair, so that the exact
/// integer clip in the encoder, not this box, decides membership).
pub(crate) fn buffered_box(tile: TileId, extra_units: u32) -> AABB<[f64; 2]> {
    let t = tile.transform();
    let pad = f64::from(BUFFER + extra_units) + 1.0;
    let (w, n) = t.tile_to_lonlat(-pad, -pad);
    let (e, s) = t.tile_to_lonlat(f64::from(EXTENT) + pad, f64::from(EXTENT) + pad);
    AABB::from_corners([w, s], [e, n])
}

fn render_areas(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let level = area_level_for_zoom(ctx.tile.z());
    let Some(tiles) = ctx.prepared.area_level(level) else {
        return Ok(());
    };
    let generalized = tiles.at_zoom(ctx.tile.z());
    for (i, mp) in generalized.tile_features(ctx.tile, BUFFER) {
        let a = tiles.area_ids[i] as usize;
        let area = &ctx.index.areas[a].area;
        let counts = ctx.prepared.area_counts[a];
        let mut props = vec![
            ("code", PropValue::Str(&area.code)),
            ("name", PropValue::Str(&area.name)),
            ("level", PropValue::Str(level.as_str())),
            ("kind", PropValue::Str(&area.kind)),
            ("buildings", PropValue::U64(counts.buildings)),
            ("residents", PropValue::U64(counts.residents)),
        ];
        // Left out when 1–4 (the disclosure layer's count rule).
        let events = ctx.live.area_events[a];
        if crate::disclosure::count_may_leave(events) {
            props.push(("events", PropValue::U64(events)));
        }
        out.add_tile_geometry(&Geometry::MultiPolygon(mp), None, &props)?;
    }
    Ok(())
}

fn road_min_zoom(class: &str) -> u8 {
    match class {
        "main" => 8,
        "rural" => 11,
        "country" => 12,
        "service" => 14,
        _ => 13,
    }
}

fn render_roads(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let t = ctx.tile.transform();
    for entry in ctx
        .prepared
        .road_tree
        .locate_in_envelope_intersecting(&buffered_box(ctx.tile, 0))
    {
        let road = &ctx.index.roads[entry.data as usize];
        if ctx.tile.z() < road_min_zoom(&road.class) {
            continue;
        }
        let pts: Option<Vec<Coord<i64>>> = road
            .geometry
            .0
            .iter()
            .map(|c| t.lonlat_to_tile_i64(c.x, c.y).map(|(x, y)| Coord { x, y }))
            .collect();
        let Some(pts) = pts else { continue };
        let line = LineString::new(simplify_line(&pts, super::basemap::tolerance(ctx.tile.z())));
        out.add_tile_geometry(
            &Geometry::LineString(line),
            None,
            &[
                ("name", PropValue::Str(&road.name)),
                ("class", PropValue::Str(&road.class)),
            ],
        )?;
    }
    Ok(())
}

/// Whether a point layer sends aggregated cells for this tile.
fn aggregate_here(ctx: &RenderCtx<'_>) -> bool {
    ctx.tile.z() < POINT_MIN_ZOOM || ctx.force_aggregate
}

/// Tile-local integer position of a lon/lat point, if it lies in the buffered tile.
fn local(ctx: &RenderCtx<'_>, lon: f64, lat: f64) -> Option<(i32, i32)> {
    let (x, y) = ctx.tile.transform().lonlat_to_tile_i64(lon, lat)?;
    let (lo, hi) = (-i64::from(BUFFER), i64::from(EXTENT + BUFFER));
    (x >= lo && x <= hi && y >= lo && y <= hi).then_some((x as i32, y as i32))
}

/// Emit aggregated cells (from the pyramid or clustered on the fly) with summed weights.
fn emit_cells<'w>(
    out: &mut LayerBuilder,
    cells: impl Iterator<Item = (i32, i32, u64, &'w [f64])>,
    weight_names: &[&'static str],
) -> Result<(), EncodeError> {
    let mut cells = cells.peekable();
    if cells.peek().is_none() {
        return Ok(());
    }
    // Keys looked up once per tile: count, the weights, cluster.
    let count = out.key("count");
    let weight_keys: Vec<_> = weight_names.iter().map(|name| out.key(name)).collect();
    let cluster = out.key("cluster");
    let mut props = Vec::with_capacity(weight_names.len() + 2);
    for (x, y, n, weights) in cells {
        props.clear();
        props.push((count, PropValue::U64(n)));
        for (&key, w) in weight_keys.iter().zip(weights) {
            props.push((key, PropValue::U64(round_half_away(w.max(0.0)) as u64)));
        }
        props.push((cluster, PropValue::Bool(true)));
        out.add_tile_point_keyed(i64::from(x), i64::from(y), None, &props)?;
    }
    Ok(())
}

fn cluster_points(
    out: &mut LayerBuilder,
    pts: &[(i32, i32, Vec<f64>)],
    n_weights: usize,
    weight_names: &[&'static str],
) -> Result<(), EncodeError> {
    let clusters = grid_cluster(
        pts.iter().map(|(x, y, w)| (*x, *y, &w[..])),
        DENSE_CELL,
        n_weights,
    );
    emit_cells(
        out,
        clusters.iter().map(|c| (c.x, c.y, c.count, &c.weights[..])),
        weight_names,
    )
}

const BUILDING_WEIGHTS: &[&str] = &["residents", "units", "enterprises"];

fn render_buildings(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    if ctx.tile.z() < POINT_MIN_ZOOM {
        let cells = ctx
            .prepared
            .building_pyramid
            .query(ctx.tile, BUFFER)
            .unwrap_or_default();
        return emit_cells(
            out,
            cells.iter().map(|c| (c.x, c.y, c.count, c.weights)),
            BUILDING_WEIGHTS,
        );
    }
    // The compact store: records in Z-order, found through its cell grid.
    let bp = &ctx.prepared.building_points;
    let mut hits: Vec<(i32, i32, u32)> = Vec::new();
    bp.hits(ctx.tile, BUFFER, &mut hits);
    if hits.len() > ctx.budget || ctx.force_aggregate {
        let pts: Vec<(i32, i32, Vec<f64>)> = hits
            .iter()
            .map(|&(x, y, k)| (x, y, bp.counts[k as usize].map(f64::from).to_vec()))
            .collect();
        return cluster_points(out, &pts, 3, BUILDING_WEIGHTS);
    }
    // `hits` come in store order (Z-order, then index): the bytes are deterministic.
    out.reserve_points(hits.len(), 4);
    out.reserve_string_bytes(hits.iter().map(|&(_, _, k)| bp.code(k).len()).sum());
    let keys = ["code", "residents", "units", "enterprises"].map(|k| out.key(k));
    for (x, y, k) in hits {
        let [residents, units, enterprises] = bp.counts[k as usize];
        out.add_tile_point_keyed(
            i64::from(x),
            i64::from(y),
            None,
            &[
                // One feature per building: its code is never a repeated value.
                (keys[0], PropValue::UniqueStr(bp.code(k))),
                (keys[1], PropValue::U64(u64::from(residents))),
                (keys[2], PropValue::U64(u64::from(units))),
                (keys[3], PropValue::U64(u64::from(enterprises))),
            ],
        )?;
    }
    Ok(())
}

fn render_enterprises(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    if aggregate_here(ctx) && ctx.tile.z() < POINT_MIN_ZOOM {
        let cells = ctx
            .prepared
            .enterprise_pyramid
            .query(ctx.tile, BUFFER)
            .unwrap_or_default();
        return emit_cells(
            out,
            cells.iter().map(|c| (c.x, c.y, c.count, c.weights)),
            &[],
        );
    }
    let mut hits: Vec<(i32, i32, u32)> = ctx
        .prepared
        .enterprise_tree
        .locate_in_envelope(&buffered_box(ctx.tile, 0))
        .filter_map(|e| {
            let p = &ctx.prepared.enterprises[e.data as usize];
            local(ctx, p.lon, p.lat).map(|(x, y)| (x, y, e.data))
        })
        .collect();
    if hits.len() > ctx.budget || ctx.force_aggregate {
        let pts: Vec<(i32, i32, Vec<f64>)> =
            hits.iter().map(|&(x, y, _)| (x, y, Vec::new())).collect();
        return cluster_points(out, &pts, 0, &[]);
    }
    hits.sort_unstable_by_key(|h| h.2);
    for (x, y, i) in hits {
        let p = &ctx.prepared.enterprises[i as usize];
        out.add_tile_point(
            i64::from(x),
            i64::from(y),
            None,
            &[
                ("industry", PropValue::Str(&p.industry)),
                ("size", PropValue::Str(&p.size)),
            ],
        )?;
    }
    Ok(())
}

/// Event cells for callers who may not see the events behind them: each event counts in
/// its public cell (`disclosure::public_cell_units`: the 128-unit cells below z14, the
/// public grid of about 130 m above), the cell is drawn at its centre (never at the
/// mean of its events), only when its centre lies in the tile (so every count is the
/// whole cell's), only up to z18 (above, a public cell is larger than a tile), and a
/// cell with 1–4 events is left out (its `open` count too, when that is 1–4).
/// `items`: (tile-local x, y, events, open events).
fn emit_public_cells(
    ctx: &RenderCtx<'_>,
    out: &mut LayerBuilder,
    items: impl Iterator<Item = (i32, i32, u64, u64)>,
) -> Result<(), EncodeError> {
    use crate::disclosure::{count_may_leave, public_cell_units};
    let extent = i64::from(EXTENT);
    let cell = public_cell_units(ctx.tile.z(), EXTENT, super::prepared::AGG_CELL);
    if cell > extent {
        return Ok(());
    }
    // Only cells whose centre lies in the tile are drawn: a dense row-major table of
    // them (a few hundred at most, the cell being at least AGG_CELL units) sums the items
    // in one pass, with no ordered map per item.
    let side = (extent + cell - 1) / cell;
    let mut cells = vec![(0u64, 0u64); (side * side) as usize];
    for (x, y, n, open) in items {
        let (row, col) = (i64::from(y).div_euclid(cell), i64::from(x).div_euclid(cell));
        // A cell outside the table has its centre outside the tile.
        if !(0..side).contains(&row) || !(0..side).contains(&col) {
            continue;
        }
        let c = &mut cells[(row * side + col) as usize];
        c.0 += n;
        c.1 += open;
    }
    let count = out.key("count");
    let open_key = out.key("open");
    let cluster = out.key("cluster");
    // One property list for every cell (no allocation per drawn cell).
    let mut props = Vec::with_capacity(3);
    for (i, &(n, open)) in cells.iter().enumerate() {
        let (row, col) = (i as i64 / side, i as i64 % side);
        let (cx, cy) = (col * cell + cell / 2, row * cell + cell / 2);
        let drawn = n > 0 && count_may_leave(n);
        if !(0..extent).contains(&cx) || !(0..extent).contains(&cy) || !drawn {
            continue;
        }
        props.clear();
        props.push((count, PropValue::U64(n)));
        if count_may_leave(open) {
            props.push((open_key, PropValue::U64(open)));
        }
        props.push((cluster, PropValue::Bool(true)));
        out.add_tile_point_keyed(cx, cy, None, &props)?;
    }
    Ok(())
}

fn render_events(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    // Unfiltered low zooms come from the live pyramid; filtered ones are clustered from
    // the matching events of the tile (any time window cannot be pre-aggregated).
    // Events the audience may not see as records (all of them for the public, other
    // grids' or organisations' for scoped roles) are drawn as cells at every zoom; the
    // rest as points from the point zoom on.
    // Callers who may not see every event get public cells (see `emit_public_cells`).
    let public = *ctx.audience != EventAudience::All;
    if ctx.tile.z() < POINT_MIN_ZOOM && ctx.filter.is_empty() {
        let cells = ctx.live.pyramid.query(ctx.tile, BUFFER).unwrap_or_default();
        if public {
            // Pyramid cells are the 128-unit cells; their mean lies in their cell.
            return emit_public_cells(
                ctx,
                out,
                cells
                    .iter()
                    .map(|c| (c.x, c.y, c.count, c.weights[0].max(0.0).round() as u64)),
            );
        }
        return emit_cells(
            out,
            cells.iter().map(|c| (c.x, c.y, c.count, c.weights)),
            &["open"],
        );
    }
    let bbox = buffered_box(ctx.tile, 0);
    let hits: Vec<(i32, i32, u32)> = ctx
        .events
        .tree
        .locate_in_envelope(&bbox)
        .filter_map(|e| {
            let ev = &ctx.events.events[e.data as usize];
            if !ctx.filter.matches(ev) {
                return None;
            }
            local(ctx, ev.lon, ev.lat).map(|(x, y)| (x, y, e.data))
        })
        .collect();
    let (mut points, hidden): (Vec<_>, Vec<_>) = hits
        .iter()
        .copied()
        .partition(|&(_, _, i)| ctx.audience.sees(&ctx.events.events[i as usize]));
    let all_cells = aggregate_here(ctx) || points.len() > ctx.budget;
    if public && !hidden.is_empty() {
        emit_public_cells(
            ctx,
            out,
            hidden.iter().map(|&(x, y, i)| {
                let open = ctx.events.events[i as usize].status != "closed";
                (x, y, 1, u64::from(open))
            }),
        )?;
    }
    let clustered = match (all_cells, public) {
        (true, true) => &points,
        (true, false) => &hits,
        (false, true) => &Vec::new(),
        (false, false) => &hidden,
    };
    if !clustered.is_empty() {
        let pts: Vec<(i32, i32, Vec<f64>)> = clustered
            .iter()
            .map(|&(x, y, i)| {
                let open = ctx.events.events[i as usize].status != "closed";
                (x, y, vec![if open { 1.0 } else { 0.0 }])
            })
            .collect();
        // Low zooms use the pyramid's cell size so that filtered and unfiltered cells
        // look alike; dense point zooms use the finer cell.
        let cell = if ctx.tile.z() < POINT_MIN_ZOOM {
            super::prepared::AGG_CELL
        } else {
            DENSE_CELL
        };
        let clusters = grid_cluster(pts.iter().map(|(x, y, w)| (*x, *y, &w[..])), cell, 1);
        emit_cells(
            out,
            clusters.iter().map(|c| (c.x, c.y, c.count, &c.weights[..])),
            &["open"],
        )?;
    }
    if all_cells {
        return Ok(());
    }
    points.sort_unstable_by_key(|h| h.2);
    for (x, y, i) in points {
        let e = &ctx.events.events[i as usize];
        out.add_tile_point(
            i64::from(x),
            i64::from(y),
            None,
            &[
                ("code", PropValue::Str(&e.code)),
                ("category", PropValue::Str(&e.category)),
                ("status", PropValue::Str(&e.status)),
                ("risk_tier", PropValue::Str(&e.risk_tier)),
                ("reported_at", PropValue::I64(e.reported_at)),
            ],
        )?;
    }
    Ok(())
}
