//! The disclosure layer's cost, side by side with the exact path (issue 21): register
//! figures (an area lookup and drawn polygons, exact vs protected = snapped to whole
//! grids), the events tile layer (leaders' exact points and cells vs the public cells)
//! and heat-map tiles (public cells only; shown for their absolute cost). Same district
//! as the other benches (`MINQING_BENCH_SCALE`, default 1; or `MINQING_BENCH_STORE`).
//! The tile cache is off, so every call renders.
//!
//!     cargo bench -p minqing-server --bench disclosure

use minqing_domain::analysis as an;
use minqing_domain::model::AreaLevel;
use minqing_domain::tiles_service::filters::{EventAudience, EventFilter};
use minqing_domain::tiles_service::layers;
use minqing_tiles::TileId;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Best of five rounds of at least `MIN_ROUND` each: mean time per call.
fn measure(mut f: impl FnMut() -> usize) -> Duration {
    const MIN_ROUND: Duration = Duration::from_millis(300);
    for _ in 0..3 {
        black_box(f());
    }
    (0..5)
        .map(|_| {
            let t = Instant::now();
            let mut n = 0u32;
            while n < 5 || t.elapsed() < MIN_ROUND {
                black_box(f());
                n += 1;
            }
            t.elapsed() / n
        })
        .min()
        .unwrap_or_default()
}

fn row(name: &str, exact: Duration, protected: Duration) {
    let e = exact.as_secs_f64() * 1e6;
    let p = protected.as_secs_f64() * 1e6;
    println!(
        "{name:<40} {e:>12.1} {p:>14.1} {:>+9.1}%",
        (p / e - 1.0) * 100.0
    );
}

fn main() {
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
    let ix = state.index().expect("index");
    let reg = state.analysis.register(&ix);
    println!(
        "{:<40} {:>12} {:>14} {:>10}",
        "case", "exact µs", "protected µs", "added"
    );

    // Register figures.
    let district = an::resolve_area(&ix, None).expect("district") as usize;
    let km2 = ix.areas[district].area_km2;
    let json = minqing_server::http::analysis_json::population_json;
    row(
        "population_district",
        measure(|| json(&reg.area_population[district], km2).to_string().len()),
        measure(|| {
            json(&reg.protected.area_population[district], km2)
                .to_string()
                .len()
        }),
    );
    let community = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.area.level == AreaLevel::Community)
        .max_by_key(|(i, _)| reg.area_population[*i].residents)
        .map(|(_, a)| a.area.geometry.clone())
        .expect("a community");
    let grid = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.area.level == AreaLevel::Grid)
        .max_by_key(|(i, _)| reg.area_population[*i].residents)
        .map(|(_, a)| a.area.geometry.clone())
        .expect("a grid");
    for (name, polygon) in [
        ("population_polygon_community", community),
        ("population_polygon_grid", grid),
    ] {
        let exact = measure(|| {
            let (pop, housing, _) = an::population_of_polygon(&reg, &ix, &polygon);
            json(&pop, an::polygon_km2(&polygon)).to_string().len()
                + minqing_server::http::analysis_json::housing_json(&housing)
                    .to_string()
                    .len()
        });
        let protected = measure(|| {
            let inside = an::buildings_in_polygon(&ix, &polygon);
            let s = reg
                .protected
                .snap(
                    &ix,
                    &inside,
                    &reg.area_population[district],
                    &reg.area_housing[district],
                )
                .expect("whole grids");
            json(&s.population, s.area_km2).to_string().len()
                + minqing_server::http::analysis_json::housing_json(&s.housing)
                    .to_string()
                    .len()
        });
        row(name, exact, protected);
    }

    // Tiles: the events layer at the densest tile of each zoom, leaders vs the public.
    let mut per: HashMap<TileId, usize> = HashMap::new();
    for z in [10u8, 12, 14, 15, 16] {
        per.clear();
        for e in &state.events().events {
            *per.entry(TileId::from_lonlat(e.lon, e.lat, z).expect("tile"))
                .or_default() += 1;
        }
        let (tile, n) = per
            .iter()
            .max_by_key(|(t, n)| (**n, **t))
            .map(|(t, n)| (*t, *n))
            .expect("events");
        for filter in [
            EventFilter::default(),
            EventFilter::parse(
                &[("category".into(), "dispute".into())]
                    .into_iter()
                    .collect(),
            )
            .expect("filter"),
        ] {
            let specs = [layers::layer("events").expect("layer")];
            let render = |audience: &EventAudience| {
                state
                    .tiles
                    .render_vector(&specs, tile, &filter, audience, state.events_lock())
                    .expect("render")
                    .bytes
                    .len()
            };
            let label = if filter.is_empty() { "" } else { "_filtered" };
            row(
                &format!("events_z{z}{label}({n})"),
                measure(|| render(&EventAudience::All)),
                measure(|| render(&EventAudience::Aggregates)),
            );
        }
    }
}
