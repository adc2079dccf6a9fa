//! The uncached tile path through the server's own code, on a district generated on the
//! fly (`--scale 1` by default; `MINQING_BENCH_SCALE` overrides; or an imported store,
//! `MINQING_BENCH_STORE=sqlite://…|postgres://…`): for each case the CPU
//! time per tile of the render alone (`TileService::render_vector`: R-tree query,
//! aggregation, encoding) and of the whole HTTP handler stack (`app(state)` through
//! `tower::ServiceExt::oneshot`: routing, extractors, metrics middleware, ETag, headers;
//! no socket; the tile cache off, as `MINQING_TILE_CACHE=off`), measured as thread CPU time so that a machine busy with compilers does not
//! inflate it. The cases: the densest z14 buildings tile, the densest z10–z13 tiles
//! (aggregated cells), composite tiles, and per zoom 8–16 the basemap tile
//! (`landuse,water,roads,pois`) holding the most basemap vertices.
//!
//!     cargo bench -p minqing-server --bench tiles
//!
//! For a profile, `MINQING_BENCH_ONLY=<case>` runs one case and `MINQING_BENCH_REPS`
//! sets the repetitions; the loop is the function `profile_loop`, so e.g.
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*profile_loop*'`
//! counts exactly the tiles.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use minqing_domain::tiles_service::filters::{EventAudience, EventFilter};
use minqing_domain::tiles_service::layers;
use minqing_tiles::TileId;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// CPU time of this thread in nanoseconds (Linux `/proc/thread-self/schedstat`). The
/// kernel brings that figure up to date only at a scheduler tick or a switch (a few ms),
/// so every measured round runs for [`MIN_ROUND`] at least.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn densest(index: &minqing_domain::index::Index, z: u8) -> (TileId, usize) {
    let mut counts: HashMap<TileId, usize> = HashMap::new();
    for b in &index.buildings {
        if let Ok(t) = TileId::from_lonlat(b.lon, b.lat, z) {
            *counts.entry(t).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(t, n)| (*n, *t))
        .expect("buildings")
}

/// The tile of zoom `z` holding the most basemap vertices and points, and that count.
fn densest_basemap(index: &minqing_domain::index::Index, z: u8) -> (TileId, usize) {
    use geo::CoordsIter;
    let mut counts: HashMap<TileId, usize> = HashMap::new();
    let b = &index.basemap;
    let coords = b
        .landuse
        .iter()
        .chain(&b.water)
        .chain(&b.pois)
        .flat_map(|f| f.geometry.coords_iter())
        .chain(index.roads.iter().flat_map(|r| r.geometry.coords_iter()));
    for c in coords {
        if let Ok(t) = TileId::from_lonlat(c.x, c.y, z) {
            *counts.entry(t).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(t, n)| (*n, *t))
        .expect("a basemap")
}

/// Shortest measured round: a hundred scheduler ticks or more, so that the tick-late
/// CPU clock is off by about 1 % at most.
const MIN_ROUND: Duration = Duration::from_millis(400);

struct Case {
    name: String,
    layers: &'static str,
    tile: TileId,
}

#[inline(never)]
fn profile_loop(reps: u32, mut f: impl FnMut() -> usize) -> usize {
    let mut total = 0;
    for _ in 0..reps {
        total += black_box(f());
    }
    total
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let only = std::env::var("MINQING_BENCH_ONLY").ok();
    let reps: u32 = std::env::var("MINQING_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    // Both columns are the uncached path: the tile service reads MINQING_TILE_CACHE once,
    // so without it this bench runs itself again with the cache off.
    if std::env::var("MINQING_TILE_CACHE").as_deref() != Ok("off") {
        let status = std::process::Command::new(std::env::current_exe().expect("own path"))
            .args(std::env::args_os().skip(1))
            .env("MINQING_TILE_CACHE", "off")
            .status()
            .expect("run the bench with the tile cache off");
        std::process::exit(status.code().unwrap_or(1));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    let (state, how) = rt
        .block_on(minqing_domain::bench_state(tmp.path()))
        .expect("the district to measure");
    eprintln!("{how}");
    let index = state.index().expect("index");
    eprintln!(
        "loaded {} buildings, {} events",
        index.buildings.len(),
        state.events().len()
    );

    let mut cases = Vec::new();
    for z in 10..=16u8 {
        let (tile, n) = densest(&index, z);
        cases.push(Case {
            name: format!("buildings_z{z}_densest({n})"),
            layers: "buildings",
            tile,
        });
    }
    for z in [12u8, 14] {
        let (tile, _) = densest(&index, z);
        cases.push(Case {
            name: format!("buildings,events_z{z}"),
            layers: "buildings,events",
            tile,
        });
        cases.push(Case {
            name: format!("areas,roads,buildings,events_z{z}"),
            layers: "areas,roads,buildings,events",
            tile,
        });
    }

    // The basemap (issue 24: its densest tile within 2 ms): per zoom, the tile holding
    // the most basemap vertices (land use, water, roads) and points of interest.
    for z in 8..=16u8 {
        let (tile, n) = densest_basemap(&index, z);
        cases.push(Case {
            name: format!("basemap_z{z}_densest({n})"),
            layers: "landuse,water,roads,pois",
            tile,
        });
    }

    let app = minqing_server::http::app(state.clone());
    println!(
        "{:<42} {:>9} {:>10} {:>12} {:>12}",
        "case", "features", "bytes", "render µs", "http µs"
    );
    for case in &cases {
        if only.as_deref().is_some_and(|o| !case.name.starts_with(o)) {
            continue;
        }
        let specs: Vec<_> = case
            .layers
            .split(',')
            .map(|l| layers::layer(l).expect("layer"))
            .collect();
        let render = || {
            state
                .tiles
                .render_vector(
                    &specs,
                    case.tile,
                    &EventFilter::default(),
                    &EventAudience::Aggregates,
                    state.events_lock(),
                )
                .expect("render")
        };
        let first = render();
        let uri = format!(
            "/tiles/{}/{}/{}/{}.mvt",
            case.layers,
            case.tile.z(),
            case.tile.x(),
            case.tile.y()
        );
        let http = || {
            rt.block_on(async {
                let resp = app
                    .clone()
                    .oneshot(Request::get(&uri).body(Body::empty()).expect("request"))
                    .await
                    .expect("response");
                resp.into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes()
                    .len()
            })
        };
        assert_eq!(
            http(),
            first.bytes.len(),
            "{uri}: the handler sends the tile"
        );
        let measure = |f: &dyn Fn() -> usize| {
            // Warm up, then the best of three rounds (CPU time, not wall time), each at
            // least `reps` calls and at least MIN_ROUND of wall time.
            profile_loop(reps / 10 + 1, f);
            (0..3)
                .map(|_| {
                    let (t0, wall) = (thread_cpu_ns(), Instant::now());
                    let mut calls = 0u64;
                    while calls < u64::from(reps) || wall.elapsed() < MIN_ROUND {
                        profile_loop(reps, f);
                        calls += u64::from(reps);
                    }
                    Duration::from_nanos((thread_cpu_ns() - t0) / calls)
                })
                .min()
                .unwrap_or_default()
        };
        let r = measure(&|| render().bytes.len());
        let h = measure(&http);
        println!(
            "{:<42} {:>9} {:>10} {:>12.1} {:>12.1}",
            case.name,
            first.features,
            first.bytes.len(),
            r.as_secs_f64() * 1e6,
            h.as_secs_f64() * 1e6
        );
    }
}
