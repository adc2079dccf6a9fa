//! Benchmarks: dense z14 point tile encoding (the lean point writer against the `mvt`
//! crate), polygon generalise+clip+encode, aggregation pyramid build/query, heat-map PNG
//! rendering.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use geo_types::Geometry;
use minqing_tiles::aggregate::AggregatePyramid;
use minqing_tiles::heatmap::{ColorRamp, PixelGrid, render_heatmap_png};
use minqing_tiles::mvt_encode::{EncodeOptions, PropValue, TileBuilder};
use minqing_tiles::projection::lonlat_to_mercator;
use minqing_tiles::simplify::Topology;
use minqing_tiles::tile::TileId;

fn core_tile() -> TileId {
    TileId::from_lonlat(104.397, 31.127, 14).unwrap()
}

fn encode_points(tile: TileId, merc: &[(f64, f64, [f64; 3])]) -> usize {
    let opts = EncodeOptions {
        buffer: 64,
        max_features_per_layer: 100_000,
    };
    let mut tb = TileBuilder::new(tile, opts);
    let layer = tb.layer("events");
    for (x, y, w) in merc {
        let props = [
            ("count", PropValue::F64(w[0])),
            ("severity", PropValue::I64(w[1] as i64)),
            ("score", PropValue::F64(w[2])),
        ];
        layer.add_mercator_point(*x, *y, None, &props).unwrap();
    }
    tb.finish().unwrap().bytes.len()
}

fn bench_points(c: &mut Criterion) {
    let tile = core_tile();
    let mut g = c.benchmark_group("encode_dense_z14_points");
    for n in [5_000usize, 20_000] {
        // Spread chosen so nearly all points fall into the one z14 tile.
        let pts = common::city_points(n, 0.003, 42);
        let merc: Vec<(f64, f64, [f64; 3])> = pts
            .iter()
            .map(|(lon, lat, w)| {
                let (x, y) = lonlat_to_mercator(*lon, *lat);
                (x, y, *w)
            })
            .collect();
        let mut tb = TileBuilder::new(
            tile,
            EncodeOptions {
                buffer: 64,
                max_features_per_layer: 100_000,
            },
        );
        for (x, y, _) in &merc {
            tb.layer("events")
                .add_mercator_point(*x, *y, None, &[])
                .unwrap();
        }
        let inside = tb.feature_counts()[0].1;
        let bytes = encode_points(tile, &merc);
        eprintln!("z14 tile {tile}: {inside} of {n} points in tile+buffer, {bytes} bytes");
        g.bench_with_input(BenchmarkId::new("mercator_input", n), &merc, |b, m| {
            b.iter(|| black_box(encode_points(tile, m)))
        });
        g.bench_with_input(BenchmarkId::new("lonlat_input", n), &pts, |b, p| {
            b.iter(|| {
                let mut tb = TileBuilder::new(
                    tile,
                    EncodeOptions {
                        buffer: 64,
                        max_features_per_layer: 100_000,
                    },
                );
                let layer = tb.layer("events");
                for (lon, lat, w) in p {
                    let props = [
                        ("count", PropValue::F64(w[0])),
                        ("severity", PropValue::I64(w[1] as i64)),
                        ("score", PropValue::F64(w[2])),
                    ];
                    layer.add_lonlat_point(*lon, *lat, None, &props).unwrap();
                }
                black_box(tb.finish().unwrap().bytes.len())
            })
        });
    }
    g.finish();
}

/// Building points as `render_buildings` hands them to the encoder: tile-local
/// coordinates (clustered, some in the buffer), a unique 19-digit code and three counts.
fn building_points(n: usize) -> Vec<(i64, i64, String, [u64; 3])> {
    let mut rng = common::Rng::new(2695);
    (0..n)
        .map(|i| {
            let x = (2048.0 + rng.normal() * 900.0).clamp(-64.0, 4160.0) as i64;
            let y = (2048.0 + rng.normal() * 900.0).clamp(-64.0, 4160.0) as i64;
            let code = format!("510603001{:010}", 4_003_000 + i);
            let units = rng.next_u64() % 60;
            (
                x,
                y,
                code,
                [units * 2 + rng.next_u64() % 5, units, rng.next_u64() % 3],
            )
        })
        .collect()
}

fn encode_buildings_lean(tile: TileId, pts: &[(i64, i64, String, [u64; 3])]) -> usize {
    let mut tb = TileBuilder::new(
        tile,
        EncodeOptions {
            buffer: 64,
            max_features_per_layer: 20_000,
        },
    );
    let layer = tb.layer("buildings");
    for (x, y, code, w) in pts {
        layer
            .add_tile_point(
                *x,
                *y,
                None,
                &[
                    ("code", PropValue::Str(code)),
                    ("residents", PropValue::U64(w[0])),
                    ("units", PropValue::U64(w[1])),
                    ("enterprises", PropValue::U64(w[2])),
                ],
            )
            .unwrap();
    }
    tb.finish().unwrap().bytes.len()
}

/// The same through the `mvt` crate (what `LayerBuilder` did before the lean writer).
fn encode_buildings_mvt(pts: &[(i64, i64, String, [u64; 3])]) -> usize {
    let tile = mvt::Tile::new(4096);
    let mut layer = tile.create_layer("buildings");
    for (x, y, code, w) in pts {
        let g = mvt::GeomEncoder::new(mvt::GeomType::Point)
            .point(*x as i32, *y as i32)
            .unwrap()
            .encode()
            .unwrap();
        let mut f = layer.into_feature(g);
        f.add_tag_string("code", code);
        f.add_tag_uint("residents", w[0]);
        f.add_tag_uint("units", w[1]);
        f.add_tag_uint("enterprises", w[2]);
        layer = f.into_layer();
    }
    let mut tile = mvt::Tile::new(4096);
    tile.add_layer(layer).unwrap();
    tile.to_bytes().unwrap().len()
}

/// CPU time of this thread in nanoseconds (Linux `/proc/thread-self/schedstat`), so that
/// a figure survives a machine shared with compilers: wall time counts their slices too.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Mean CPU time per call of `f` over at least `n` calls and 400 ms of wall time (the
/// kernel updates the clock above only at a scheduler tick or a switch, every few ms),
/// if the platform tells.
fn cpu_per_call(n: u32, mut f: impl FnMut() -> usize) -> Option<std::time::Duration> {
    let (t0, wall) = (thread_cpu_ns()?, std::time::Instant::now());
    let mut calls = 0u64;
    while calls < u64::from(n) || wall.elapsed() < std::time::Duration::from_millis(400) {
        black_box(f());
        calls += 1;
    }
    let t1 = thread_cpu_ns()?;
    Some(std::time::Duration::from_nanos((t1 - t0) / calls))
}

/// The densest z14 tile of the generated district at --scale 1 holds 2,695 buildings in
/// tile + buffer; 8,000 is the buildings layer's cap before it clusters.
fn bench_building_tile(c: &mut Criterion) {
    let tile = core_tile();
    let mut g = c.benchmark_group("dense_z14_buildings");
    for n in [2_695usize, 8_000] {
        let pts = building_points(n);
        let (lean, theirs) = (
            encode_buildings_lean(tile, &pts),
            encode_buildings_mvt(&pts),
        );
        assert_eq!(lean, theirs, "same bytes either way");
        eprintln!("{n} building points: {lean} bytes");
        for _ in 0..3 {
            let l = cpu_per_call(200, || encode_buildings_lean(tile, &pts));
            let m = cpu_per_call(50, || encode_buildings_mvt(&pts));
            if let (Some(l), Some(m)) = (l, m) {
                eprintln!("  CPU time per tile: lean {l:?}, mvt crate {m:?}");
            }
        }
        g.bench_with_input(BenchmarkId::new("lean", n), &pts, |b, p| {
            b.iter(|| black_box(encode_buildings_lean(tile, p)))
        });
        g.bench_with_input(BenchmarkId::new("mvt_crate", n), &pts, |b, p| {
            b.iter(|| black_box(encode_buildings_mvt(p)))
        });
    }
    g.finish();
}

fn bench_polygons(c: &mut Criterion) {
    let input = common::tessellation(12, 80, 5);
    let vertices: usize = input
        .iter()
        .map(|m| m.0.iter().map(|p| p.exterior().0.len()).sum::<usize>())
        .sum();
    let mut g = c.benchmark_group("polygons");
    g.sample_size(20);
    g.bench_function(
        format!(
            "topology_build_{}_features_{}_vertices",
            input.len(),
            vertices
        ),
        |b| b.iter(|| black_box(Topology::build(&input).stats())),
    );
    let topo = Topology::build(&input);
    eprintln!("topology: {:?}", topo.stats());
    for z in [10u8, 13] {
        g.bench_function(format!("generalize_z{z}"), |b| {
            b.iter(|| black_box(topo.generalize(z, 1.0).vertex_count()))
        });
        let generalized = topo.generalize(z, 1.0);
        let tile = TileId::from_lonlat(104.40, 31.125, z).unwrap();
        eprintln!(
            "z{z}: {} vertices after generalisation, {} features in tile {tile}",
            generalized.vertex_count(),
            generalized.tile_features(tile, 64).len()
        );
        g.bench_function(format!("clip_and_encode_tile_z{z}"), |b| {
            b.iter(|| {
                let mut tb = TileBuilder::new(tile, EncodeOptions::default());
                for (i, mp) in generalized.tile_features(tile, 64) {
                    tb.layer("grid")
                        .add_tile_geometry(
                            &Geometry::MultiPolygon(mp),
                            Some(i as u64),
                            &[("id", PropValue::U64(i as u64))],
                        )
                        .unwrap();
                }
                black_box(tb.finish().unwrap().bytes.len())
            })
        });
    }
    g.finish();
}

fn bench_pyramid(c: &mut Criterion) {
    let pts = common::city_points(122_000, 0.03, 9);
    let mut g = c.benchmark_group("pyramid");
    g.sample_size(10);
    g.bench_function("build_122k_points_z0-14", |b| {
        b.iter(|| {
            let (p, _) = AggregatePyramid::build(
                pts.iter().map(|(a, b, w)| (*a, *b, &w[..])),
                0..=14,
                64,
                3,
            )
            .unwrap();
            black_box(p.cell_count(14))
        })
    });
    let (mut p, _) =
        AggregatePyramid::build(pts.iter().map(|(a, b, w)| (*a, *b, &w[..])), 0..=14, 64, 3)
            .unwrap();
    let cells: usize = (0..=14).map(|z| p.cell_count(z)).sum();
    eprintln!(
        "pyramid: {cells} cells over z0-14, ~{} KiB",
        p.approx_bytes() / 1024
    );
    for z in [8u8, 11, 14] {
        let tile = TileId::from_lonlat(104.397, 31.127, z).unwrap();
        eprintln!(
            "z{z} tile {tile}: {} cells",
            p.query(tile, 64).unwrap().len()
        );
        g.bench_function(format!("query_z{z}_buffer64"), |b| {
            b.iter(|| black_box(p.query(tile, 64).unwrap().len()))
        });
    }
    g.bench_function("add_remove_one_point", |b| {
        b.iter(|| {
            p.add(104.397, 31.127, &[1.0, 2.0, 3.0]).unwrap();
            p.remove(104.397, 31.127, &[1.0, 2.0, 3.0]).unwrap();
        })
    });
    g.finish();
}

fn bench_heatmap(c: &mut Criterion) {
    let grid = PixelGrid::new(core_tile(), 256);
    let (cx, cy) = grid.centre(128, 128);
    let h = grid.pixel * 80.0;
    let values: Vec<f32> = grid
        .centres()
        .map(|(x, y)| {
            let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() / h;
            if d < 1.0 {
                ((1.0 - d * d) * (1.0 - d * d)) as f32
            } else {
                0.0
            }
        })
        .collect();
    let ramp = ColorRamp::default();
    eprintln!(
        "heatmap png: {} bytes",
        render_heatmap_png(&values, 1.0, &ramp).unwrap().len()
    );
    c.bench_function("heatmap_png_256", |b| {
        b.iter(|| black_box(render_heatmap_png(&values, 1.0, &ramp).unwrap().len()))
    });
}

criterion_group!(
    benches,
    bench_building_tile,
    bench_points,
    bench_polygons,
    bench_pyramid,
    bench_heatmap
);
criterion_main!(benches);
