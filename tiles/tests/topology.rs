//! Shared boundaries stay identical after generalisation, at every zoom.

mod common;

use std::collections::HashMap;

use geo_types::{Coord, MultiPolygon};
use minqing_tiles::clip::ring_area2;
use minqing_tiles::projection::LonLatBounds;
use minqing_tiles::projection::lonlat_to_world;
use minqing_tiles::simplify::{Topology, simplify_line};
use minqing_tiles::tile::{TileId, TileRange, world_to_grid};

type P = (i64, i64);

fn frame_grid(z: u8) -> (i64, i64, i64, i64) {
    let (w, s, e, n) = common::FRAME;
    let (u0, v0) = lonlat_to_world(w, n);
    let (u1, v1) = lonlat_to_world(e, s);
    let (x0, y0) = world_to_grid(u0, v0, z).unwrap();
    let (x1, y1) = world_to_grid(u1, v1, z).unwrap();
    (x0, y0, x1, y1)
}

/// Directed edges of every ring, counted.
fn edges(polys: &[MultiPolygon<i64>]) -> HashMap<(P, P), i32> {
    let mut m = HashMap::new();
    for mp in polys {
        for p in &mp.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for w in ring.0.windows(2) {
                    let (a, b) = ((w[0].x, w[0].y), (w[1].x, w[1].y));
                    *m.entry((a, b)).or_insert(0) += 1;
                }
            }
        }
    }
    m
}

/// Number of directed edges without an opposite partner that are not on the frame.
fn unmatched_interior_edges(polys: &[MultiPolygon<i64>], z: u8) -> usize {
    let (x0, y0, x1, y1) = frame_grid(z);
    let on_frame = |a: P, b: P| {
        (a.0 == x0 && b.0 == x0)
            || (a.0 == x1 && b.0 == x1)
            || (a.1 == y0 && b.1 == y0)
            || (a.1 == y1 && b.1 == y1)
    };
    let m = edges(polys);
    m.iter()
        .filter(|&(&(a, b), &c)| m.get(&(b, a)).copied().unwrap_or(0) != c && !on_frame(a, b))
        .count()
}

fn signed_area2_sum(polys: &[MultiPolygon<i64>]) -> i128 {
    polys
        .iter()
        .flat_map(|mp| mp.0.iter())
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| ring_area2(&r.0[..r.0.len() - 1]))
        .sum()
}

fn check_consistent(g: usize, k: usize, seed: u64, z: u8, tolerance: f64) {
    let input = common::tessellation(g, k, seed);
    let topo = Topology::build(&input);
    let stats = topo.stats();
    assert!(stats.shared_arcs > 0, "{stats:?}");
    let gen_ = topo.generalize(z, tolerance);
    let polys: Vec<_> = (0..input.len()).map(|i| gen_.feature_grid(i)).collect();
    assert_eq!(
        unmatched_interior_edges(&polys, z),
        0,
        "g={g} z={z} tol={tolerance}"
    );
    // Interior edges cancel, so the signed areas of a gap-free, overlap-free partition add
    // up exactly to the frame. The rings are counter-clockwise in lon/lat, hence
    // negative on the y-down grid.
    let (x0, y0, x1, y1) = frame_grid(z);
    let frame = -i128::from(x1 - x0) * i128::from(y1 - y0) * 2;
    assert_eq!(
        signed_area2_sum(&polys),
        frame,
        "g={g} z={z} tol={tolerance}"
    );
}

#[test]
fn shared_boundaries_identical_after_simplification() {
    for (g, k, seed, z, tol) in [
        (4, 30, 1, 14, 1.0),
        (4, 30, 1, 12, 1.0),
        (6, 60, 2, 13, 2.0),
        (6, 60, 3, 16, 0.5),
        (8, 20, 4, 11, 4.0),
        (3, 100, 5, 18, 0.0),
    ] {
        check_consistent(g, k, seed, z, tol);
    }
}

#[test]
fn simplification_removes_vertices() {
    let input = common::tessellation(6, 60, 7);
    let topo = Topology::build(&input);
    let fine = topo.generalize(18, 0.0).vertex_count();
    let coarse = topo.generalize(8, 2.0).vertex_count();
    assert!(coarse * 3 < fine, "coarse {coarse} fine {fine}");
}

/// The same check fails for the naive approach (each ring simplified on its own), which
/// shows the test can detect slivers.
#[test]
fn naive_per_ring_simplification_breaks_boundaries() {
    let z = 13;
    let input = common::tessellation(6, 60, 2);
    let naive: Vec<MultiPolygon<i64>> = input
        .iter()
        .map(|mp| {
            mp.map_coords_i64(
                |c| {
                    let (u, v) = lonlat_to_world(c.x, c.y);
                    let (x, y) = world_to_grid(u, v, z).unwrap();
                    Coord { x, y }
                },
                |ring| simplify_line(ring, 2.0),
            )
        })
        .collect();
    assert!(unmatched_interior_edges(&naive, z) > 0);
}

trait MapI64 {
    fn map_coords_i64(
        &self,
        f: impl Fn(Coord<f64>) -> Coord<i64>,
        s: impl Fn(&[Coord<i64>]) -> Vec<Coord<i64>>,
    ) -> MultiPolygon<i64>;
}

impl MapI64 for MultiPolygon<f64> {
    fn map_coords_i64(
        &self,
        f: impl Fn(Coord<f64>) -> Coord<i64>,
        s: impl Fn(&[Coord<i64>]) -> Vec<Coord<i64>>,
    ) -> MultiPolygon<i64> {
        let ring = |r: &geo_types::LineString<f64>| {
            let pts: Vec<_> = r.0.iter().map(|&c| f(c)).collect();
            geo_types::LineString::new(s(&pts))
        };
        MultiPolygon::new(
            self.0
                .iter()
                .map(|p| {
                    geo_types::Polygon::new(
                        ring(p.exterior()),
                        p.interiors().iter().map(ring).collect(),
                    )
                })
                .collect(),
        )
    }
}

/// Clipped to a tile inside the district, the pieces still cover the tile exactly.
#[test]
fn tile_pieces_cover_interior_tiles_exactly() {
    let input = common::tessellation(6, 60, 9);
    let topo = Topology::build(&input);
    let (w, s, e, n) = common::FRAME;
    let inner = LonLatBounds {
        west: w + 0.02,
        south: s + 0.02,
        east: e - 0.02,
        north: n - 0.02,
    };
    for z in [12u8, 13] {
        let gen_ = topo.generalize(z, 1.0);
        let range = TileRange::covering(&inner, z).unwrap();
        let mut checked = 0;
        for t in range.iter() {
            let b = t.bounds_lonlat();
            if !(b.west > w && b.east < e && b.south > s && b.north < n) {
                continue;
            }
            let pieces = gen_.tile_features(t, 0);
            let area: i128 = pieces
                .iter()
                .flat_map(|(_, mp)| mp.0.iter())
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(|r| ring_area2(&r.0[..r.0.len() - 1]))
                .sum();
            assert_eq!(area, -2 * 4096 * 4096, "tile {t}");
            checked += 1;
        }
        assert!(checked > 0, "no interior tile at z{z}");
    }
    // A tile at another zoom yields nothing rather than wrong coordinates.
    let gen_ = topo.generalize(12, 1.0);
    assert!(
        gen_.tile_features(TileId::new(13, 0, 0).unwrap(), 0)
            .is_empty()
    );
}
