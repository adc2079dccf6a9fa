//! The basemap's tile layers — `landuse`, `water`, `pois` — over `Index::basemap`
//! (see `crate::basemap`), drawn under the other layers by the views' styles.
//!
//! A named polygon (a park, a lake) carries its name on one point, its interior point,
//! written only into the tile that holds it: a name on the polygon would be placed once
//! per tile the polygon crosses, so a park across a tile edge had its name twice.
//!
//! Polygons (land use, lakes and river banks) go through the same shared-arc topology
//! as the areas (`minqing_tiles::Topology`): generalised once per zoom on first use and
//! kept, so land-use patches that share a boundary keep sharing it at every zoom and a
//! tile only clips. Below z13 lines and polygons are simplified by [`tolerance`] four
//! tile units instead of one (half a pixel of a 512-pixel tile: the low zooms' tiles
//! held 17,000–34,000 vertices each, beyond the 2 ms budget) and
//! patches smaller than [`MIN_AREA_LOW_ZOOM`] are left out: at the district's scale they
//! would be specks that cost bytes and drawing time. Water centrelines and points of
//! interest are looked up in R-trees; a point of interest appears from the zoom its rank
//! allows ([`poi_min_zoom`]).

use super::layers::{BUFFER, RenderCtx, buffered_box};
use crate::basemap::Feature;
use crate::index::Index;
use geo::BoundingRect;
use geo_types::{Coord, Geometry, LineString, MultiPolygon};
use minqing_tiles::clip::ring_area2;
use minqing_tiles::simplify::simplify_line;
use minqing_tiles::{EncodeError, Generalized, LayerBuilder, MAX_ZOOM, PropValue, Topology};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use std::sync::OnceLock;

/// Below z13, polygons whose area is under this many square tile units are left out.
pub const MIN_AREA_LOW_ZOOM: i128 = 64;

/// The zoom from which a point of interest of `rank` is drawn: the district's own from
/// z11, a township's from z13, a community's (mediation rooms) from z15.
pub fn poi_min_zoom(rank: u8) -> u8 {
    match rank {
        0 | 1 => 11,
        2 => 13,
        _ => 15,
    }
}

/// How far (in tile units) a basemap or road line may be moved by simplification at zoom
/// `z`: four units below z13 (half a pixel of a 512-pixel tile, where the district's
/// whole network falls into a few tiles), one from z13 on.
pub fn tolerance(z: u8) -> f64 {
    if z < 13 { 4.0 } else { 1.0 }
}

/// Polygon features of one layer with their topology.
struct PolygonLayer {
    /// Index into the layer's feature list of each topology feature.
    ids: Vec<u32>,
    topology: Topology,
    generalized: Vec<OnceLock<Generalized>>,
    /// Per topology feature with a name: where its name goes (lon, lat).
    label_at: Vec<Option<(f64, f64)>>,
}

impl PolygonLayer {
    fn new(features: &[Feature]) -> PolygonLayer {
        use geo::InteriorPoint;
        let mut ids = Vec::new();
        let mut polys = Vec::new();
        let mut label_at = Vec::new();
        for (i, f) in features.iter().enumerate() {
            let mp = match &f.geometry {
                Geometry::Polygon(p) => MultiPolygon::new(vec![p.clone()]),
                Geometry::MultiPolygon(m) => m.clone(),
                _ => continue,
            };
            ids.push(i as u32);
            label_at.push(
                f.name
                    .as_ref()
                    .and_then(|_| mp.interior_point())
                    .map(|p| (p.x(), p.y())),
            );
            polys.push(mp);
        }
        PolygonLayer {
            ids,
            topology: Topology::build(&polys),
            generalized: (0..=MAX_ZOOM).map(|_| OnceLock::new()).collect(),
            label_at,
        }
    }

    fn at_zoom(&self, z: u8) -> &Generalized {
        self.generalized[usize::from(z.min(MAX_ZOOM))]
            .get_or_init(|| self.topology.generalize(z, tolerance(z)))
    }

    /// Each feature's clipped polygons in the tile, small ones dropped below z13.
    fn render(
        &self,
        ctx: &RenderCtx<'_>,
        features: &[Feature],
        out: &mut LayerBuilder,
    ) -> Result<(), EncodeError> {
        let z = ctx.tile.z();
        for (i, mut mp) in self.at_zoom(z).tile_features(ctx.tile, BUFFER) {
            if z < 13 {
                mp.0.retain(|p| ring_area2(&p.exterior().0).abs() >= 2 * MIN_AREA_LOW_ZOOM);
                if mp.0.is_empty() {
                    continue;
                }
            }
            let f = &features[self.ids[i] as usize];
            out.add_tile_geometry(
                &Geometry::MultiPolygon(mp),
                None,
                &[("kind", PropValue::Str(&f.kind))],
            )?;
        }
        // Names on their points, each in the one tile that holds it (from z12, where the
        // views start to label parks and lakes).
        if z < 12 {
            return Ok(());
        }
        let t = ctx.tile.transform();
        let extent = i64::from(minqing_tiles::EXTENT);
        for (i, at) in self.label_at.iter().enumerate() {
            let Some((lon, lat)) = *at else { continue };
            let Some((x, y)) = t.lonlat_to_tile_i64(lon, lat) else {
                continue;
            };
            if !(0..extent).contains(&x) || !(0..extent).contains(&y) {
                continue;
            }
            let f = &features[self.ids[i] as usize];
            if let Some(name) = &f.name {
                out.add_tile_point(
                    x,
                    y,
                    None,
                    &[
                        ("kind", PropValue::Str(&f.kind)),
                        ("name", PropValue::Str(name)),
                    ],
                )?;
            }
        }
        Ok(())
    }
}

type BoxTree = RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>;

/// What the basemap layers need beyond the index, built once at load.
pub struct BasemapTiles {
    landuse: PolygonLayer,
    water_areas: PolygonLayer,
    /// Water centrelines (index into `basemap.water`).
    water_lines: BoxTree,
    /// Points of interest (index into `basemap.pois`).
    pois: RTree<GeomWithData<[f64; 2], u32>>,
}

fn boxes(features: &[Feature], keep: impl Fn(&Geometry<f64>) -> bool) -> BoxTree {
    RTree::bulk_load(
        features
            .iter()
            .enumerate()
            .filter(|(_, f)| keep(&f.geometry))
            .filter_map(|(i, f)| {
                let b = f.geometry.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    i as u32,
                ))
            })
            .collect(),
    )
}

impl BasemapTiles {
    pub fn build(index: &Index) -> BasemapTiles {
        let b = &index.basemap;
        BasemapTiles {
            landuse: PolygonLayer::new(&b.landuse),
            water_areas: PolygonLayer::new(&b.water),
            water_lines: boxes(&b.water, |g| {
                matches!(g, Geometry::LineString(_) | Geometry::MultiLineString(_))
            }),
            pois: RTree::bulk_load(
                b.pois
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| match f.geometry {
                        Geometry::Point(p) => Some(GeomWithData::new([p.x(), p.y()], i as u32)),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

pub fn render_landuse(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let tiles = &ctx.prepared.basemap;
    tiles.landuse.render(ctx, &ctx.index.basemap.landuse, out)
}

/// A line in tile units, simplified by [`tolerance`].
fn tile_line(ctx: &RenderCtx<'_>, line: &LineString<f64>) -> Option<LineString<i64>> {
    let t = ctx.tile.transform();
    let pts: Option<Vec<Coord<i64>>> = line
        .0
        .iter()
        .map(|c| t.lonlat_to_tile_i64(c.x, c.y).map(|(x, y)| Coord { x, y }))
        .collect();
    Some(LineString::new(simplify_line(
        &pts?,
        tolerance(ctx.tile.z()),
    )))
}

pub fn render_water(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let tiles = &ctx.prepared.basemap;
    let water = &ctx.index.basemap.water;
    tiles.water_areas.render(ctx, water, out)?;
    let mut hits: Vec<u32> = tiles
        .water_lines
        .locate_in_envelope_intersecting(&buffered_box(ctx.tile, 0))
        .map(|e| e.data)
        .collect();
    hits.sort_unstable();
    for i in hits {
        let f = &water[i as usize];
        let lines: Vec<LineString<i64>> = match &f.geometry {
            Geometry::LineString(l) => tile_line(ctx, l).into_iter().collect(),
            Geometry::MultiLineString(m) => m.0.iter().filter_map(|l| tile_line(ctx, l)).collect(),
            _ => continue,
        };
        let mut props = vec![("kind", PropValue::Str(&f.kind))];
        if let Some(name) = &f.name {
            props.push(("name", PropValue::Str(name)));
        }
        out.add_tile_geometry(
            &Geometry::MultiLineString(geo_types::MultiLineString::new(lines)),
            None,
            &props,
        )?;
    }
    Ok(())
}

pub fn render_pois(ctx: &RenderCtx<'_>, out: &mut LayerBuilder) -> Result<(), EncodeError> {
    let z = ctx.tile.z();
    let pois = &ctx.index.basemap.pois;
    let mut hits: Vec<u32> = ctx
        .prepared
        .basemap
        .pois
        .locate_in_envelope(&buffered_box(ctx.tile, 0))
        .map(|e| e.data)
        .filter(|&i| z >= poi_min_zoom(pois[i as usize].rank))
        .collect();
    hits.sort_unstable();
    let t = ctx.tile.transform();
    for i in hits {
        let f = &pois[i as usize];
        let Geometry::Point(p) = f.geometry else {
            continue;
        };
        let Some((x, y)) = t.lonlat_to_tile_i64(p.x(), p.y()) else {
            continue;
        };
        let mut props = vec![
            ("kind", PropValue::Str(&f.kind)),
            ("rank", PropValue::U64(u64::from(f.rank))),
        ];
        if let Some(name) = &f.name {
            props.push(("name", PropValue::Str(name)));
        }
        out.add_tile_point(x, y, None, &props)?;
    }
    Ok(())
}
