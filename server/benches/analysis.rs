//! The analysis models through the server's code path (no HTTP), on a district
//! generated on the fly (`--scale 1` by default; `MINQING_BENCH_SCALE` overrides) or,
//! with `MINQING_BENCH_STORE=sqlite://…|postgres://…`, on a store already imported:
//! Gi* with FDR over two years of events at resolution 9, emerging hot spots (monthly
//! and weekly), the population profile of the whole district and of drawn polygons.
//!
//!     cargo bench -p minqing-server --bench analysis

use criterion::{Criterion, criterion_group, criterion_main};
use minqing_domain::analysis::{
    self as an, EmergingQuery, HotspotQuery, RESOLUTIONS, Step, compute_emerging, compute_hotspots,
};
use minqing_domain::model::AreaLevel;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn square(lon: f64, lat: f64, half_deg: f64) -> geo_types::MultiPolygon<f64> {
    geo_types::MultiPolygon::new(vec![geo_types::Polygon::new(
        geo_types::LineString::from(vec![
            (lon - half_deg, lat - half_deg),
            (lon + half_deg, lat - half_deg),
            (lon + half_deg, lat + half_deg),
            (lon - half_deg, lat + half_deg),
            (lon - half_deg, lat - half_deg),
        ]),
        vec![],
    )])
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    let (state, how) = rt
        .block_on(minqing_domain::bench_state(tmp.path()))
        .expect("the district to measure");
    eprintln!("{how}");
    let ix = state.index().expect("index");
    let t = Instant::now();
    let register = state.analysis.register(&ix);
    eprintln!(
        "register profiles (per building and per area, once per load) built in {:.1?}",
        t.elapsed()
    );
    let t = Instant::now();
    let events = state.analysis.events(&state, &ix);
    eprintln!(
        "{} events turned into model facts in {:.1?}",
        events.facts.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let area = state.analysis.study_area(&ix, 9).expect("study area");
    eprintln!(
        "study area at resolution 9: {} cells, built once in {:.1?} (resolutions {:?})",
        area.len(),
        t.elapsed(),
        RESOLUTIONS
    );

    let mut g = c.benchmark_group("analysis");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("gi_star_fdr_res9_all_events", |b| {
        b.iter(|| compute_hotspots(area.clone(), &events, black_box(HotspotQuery::default())))
    });
    for (name, step) in [
        ("emerging_monthly", Step::Month),
        ("emerging_weekly", Step::Week),
    ] {
        let q = EmergingQuery {
            step,
            resolution: 9,
            window: None,
            category: None,
            source: None,
        };
        g.bench_function(name, |b| {
            b.iter(|| compute_emerging(&area, &events, black_box(q)))
        });
    }
    let district = an::resolve_area(&ix, None).expect("district");
    let km2 = ix.areas[district as usize].area_km2;
    g.bench_function("population_district", |b| {
        b.iter(|| {
            let reg = state.analysis.register(&ix);
            minqing_server::http::analysis_json::population_json(
                &reg.area_population[district as usize],
                km2,
            )
        })
    });
    // Drawn polygons: the most populous community's outline, and a 1 km square at the
    // building with the most residents.
    let community = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.area.level == AreaLevel::Community)
        .max_by_key(|(i, _)| register.area_population[*i].residents)
        .map(|(_, a)| a.area.geometry.clone())
        .expect("a community");
    let centre = ix
        .buildings
        .iter()
        .max_by_key(|b| b.residents)
        .map(|b| (b.lon, b.lat))
        .expect("a building");
    for (name, polygon) in [
        ("population_polygon_community", community),
        (
            "population_polygon_1km_square",
            square(centre.0, centre.1, 0.005),
        ),
    ] {
        let (_, _, n) = an::population_of_polygon(&register, &ix, &polygon);
        eprintln!("{name}: {n} buildings inside");
        g.bench_function(name, |b| {
            b.iter(|| {
                let (pop, housing, _) = an::population_of_polygon(&register, &ix, &polygon);
                (
                    minqing_server::http::analysis_json::population_json(
                        &pop,
                        an::polygon_km2(&polygon),
                    ),
                    minqing_server::http::analysis_json::housing_json(&housing),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
