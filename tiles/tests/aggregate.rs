//! The aggregation pyramid agrees with a brute-force grid count and supports writes.

mod common;

use std::collections::BTreeMap;

use minqing_tiles::aggregate::{AggregateError, AggregatePyramid, grid_cluster};
use minqing_tiles::projection::lonlat_to_world;
use minqing_tiles::tile::TileId;

type Pts = Vec<(f64, f64, [f64; 3])>;

fn pyramid(pts: &Pts, cell: u32) -> AggregatePyramid {
    let (p, report) = AggregatePyramid::build(
        pts.iter().map(|(a, b, w)| (*a, *b, &w[..])),
        0..=14,
        cell,
        3,
    )
    .unwrap();
    assert_eq!(report.accepted, pts.len());
    p
}

/// Brute force: fractional tile coordinates, cells of `cell` units, inside [0, 4096).
/// (row, col) → (count, weight sums, Σx, Σy).
type BruteCells = BTreeMap<(i64, i64), (u64, [f64; 3], f64, f64)>;

fn brute(pts: &Pts, tile: TileId, cell: f64) -> BruteCells {
    let n = (1u64 << tile.z()) as f64 * 4096.0;
    let mut m = BTreeMap::new();
    for (lon, lat, w) in pts {
        let (u, v) = lonlat_to_world(*lon, *lat);
        let x = u * n - f64::from(tile.x()) * 4096.0;
        let y = v * n - f64::from(tile.y()) * 4096.0;
        if !(0.0..4096.0).contains(&x) || !(0.0..4096.0).contains(&y) {
            continue;
        }
        let e = m
            .entry(((y / cell).floor() as i64, (x / cell).floor() as i64))
            .or_insert((0, [0.0; 3], 0.0, 0.0));
        e.0 += 1;
        for (acc, v) in e.1.iter_mut().zip(w) {
            *acc += v;
        }
        e.2 += x;
        e.3 += y;
    }
    m
}

fn check_against_brute(pts: &Pts, p: &AggregatePyramid, z: u8, cell: u32) {
    let tile = TileId::from_lonlat(104.397, 31.127, z).unwrap();
    let got = p.query(tile, 0).unwrap();
    let want = brute(pts, tile, f64::from(cell));
    assert_eq!(got.len(), want.len(), "z{z}");
    let total: u64 = want.values().map(|e| e.0).sum();
    assert_eq!(p.count_in_tile(tile).unwrap(), total);
    for (g, (_, (n, w, sx, sy))) in got.iter().zip(&want) {
        assert_eq!(g.count, *n, "z{z}");
        for (a, b) in g.weights.iter().zip(w) {
            assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()));
        }
        let (cx, cy) = (sx / *n as f64, sy / *n as f64);
        assert!(
            (f64::from(g.x) - cx).abs() <= 1.0 && (f64::from(g.y) - cy).abs() <= 1.0,
            "z{z}"
        );
    }
}

#[test]
fn pyramid_matches_brute_force() {
    let pts = common::city_points(20_000, 0.01, 3);
    for cell in [64u32, 256] {
        let p = pyramid(&pts, cell);
        for z in [6u8, 10, 12, 13, 14] {
            check_against_brute(&pts, &p, z, cell);
        }
    }
}

#[test]
fn grid_cluster_matches_pyramid() {
    let pts = common::city_points(5000, 0.004, 5);
    let p = pyramid(&pts, 128);
    let tile = TileId::from_lonlat(104.397, 31.127, 13).unwrap();
    let tr = tile.transform();
    let local: Vec<(i32, i32, &[f64])> = pts
        .iter()
        .filter_map(|(lon, lat, w)| {
            let (u, v) = lonlat_to_world(*lon, *lat);
            let (x, y) = tr.world_to_tile_i64(u, v)?;
            // Same half-open tile as the pyramid (rounding only affects the centroid).
            let n = (1u64 << 13) as f64 * 4096.0;
            let fx = u * n - f64::from(tile.x()) * 4096.0;
            let fy = v * n - f64::from(tile.y()) * 4096.0;
            ((0.0..4096.0).contains(&fx) && (0.0..4096.0).contains(&fy)).then_some((
                x as i32,
                y as i32,
                &w[..],
            ))
        })
        .collect();
    let clusters = grid_cluster(local.iter().copied(), 128, 3);
    let cells = p.query(tile, 0).unwrap();
    let counts = |v: Vec<u64>| v.iter().sum::<u64>();
    assert_eq!(
        counts(clusters.iter().map(|c| c.count).collect()),
        counts(cells.iter().map(|c| c.count).collect())
    );
    // Cell boundaries differ only for points within half a unit of a cell edge.
    assert!((clusters.len() as i64 - cells.len() as i64).abs() <= 3);
}

#[test]
fn add_and_remove_are_inverse() {
    let pts = common::city_points(6000, 0.006, 8);
    let (first, second) = pts.split_at(3000);
    let mut all = pyramid(&pts, 64);
    let only_first = pyramid(&first.to_vec(), 64);
    for (lon, lat, w) in second {
        all.remove(*lon, *lat, w).unwrap();
    }
    for z in [8u8, 12, 14] {
        let tile = TileId::from_lonlat(104.397, 31.127, z).unwrap();
        let a = all.query(tile, 64).unwrap();
        let b = only_first.query(tile, 64).unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.x, x.y, x.count), (y.x, y.y, y.count));
            for k in 0..3 {
                assert!((x.weights[k] - y.weights[k]).abs() < 1e-6);
            }
        }
        assert_eq!(all.cell_count(z), only_first.cell_count(z));
    }
    // Removing something absent changes nothing.
    let before = all.count_in_tile(TileId::new(0, 0, 0).unwrap()).unwrap();
    assert_eq!(
        all.remove(10.0, 10.0, &[1.0, 0.0, 0.0]),
        Err(AggregateError::NotPresent)
    );
    assert_eq!(
        all.count_in_tile(TileId::new(0, 0, 0).unwrap()).unwrap(),
        before
    );
    assert_eq!(before, 3000);
}

#[test]
fn buffer_adds_neighbour_cells_inside_the_buffer_only() {
    let pts = common::city_points(20_000, 0.01, 4);
    let p = pyramid(&pts, 64);
    let tile = TileId::from_lonlat(104.397, 31.127, 14).unwrap();
    let plain = p.query(tile, 0).unwrap();
    let buffered = p.query(tile, 128).unwrap();
    assert!(buffered.len() > plain.len());
    assert!(
        buffered
            .iter()
            .all(|c| (-128..=4224).contains(&c.x) && (-128..=4224).contains(&c.y))
    );
    assert!(
        plain
            .iter()
            .all(|c| (0..=4096).contains(&c.x) && (0..=4096).contains(&c.y))
    );
}

#[test]
fn bad_inputs_are_errors() {
    assert_eq!(
        AggregatePyramid::new(0..=14, 100, 1).unwrap_err(),
        AggregateError::BadCellSize(100)
    );
    assert_eq!(
        AggregatePyramid::new(0..=21, 64, 1).unwrap_err(),
        AggregateError::BadZoomRange(0, 21)
    );
    let mut p = AggregatePyramid::new(5..=10, 64, 2).unwrap();
    assert!(matches!(
        p.add(1.0, 1.0, &[1.0]),
        Err(AggregateError::WeightCount { .. })
    ));
    assert_eq!(
        p.add(f64::NAN, 1.0, &[1.0, 2.0]),
        Err(AggregateError::NonFinite)
    );
    assert_eq!(
        p.query(TileId::new(4, 0, 0).unwrap(), 0).unwrap_err(),
        AggregateError::ZoomNotInPyramid(4)
    );
    p.add(1.0, 1.0, &[1.0, 2.0]).unwrap();
    let t = TileId::from_lonlat(1.0, 1.0, 10).unwrap();
    let cells = p.query(t, 0).unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0].weights, &[1.0, 2.0]);
    let (lon, lat) = cells[0].lon_lat();
    assert!((lon - 1.0).abs() < 1e-6 && (lat - 1.0).abs() < 1e-6);
}
