//! Patrol coverage of the hot spots (model 3) through the server's code path (no HTTP),
//! on a district generated on the fly (`--scale 1` by default; `MINQING_BENCH_SCALE`
//! overrides) or an imported store (`MINQING_BENCH_STORE`): the report for the 30 days
//! ending 2024-12-01 (a month of patrols: 320 at scale 1), with model 3's Gi* cached as
//! a served request finds it, and the visit count alone.
//!
//!     cargo bench -p minqing-server --bench forces

use criterion::{Criterion, criterion_group, criterion_main};
use minqing_domain::forces;
use std::hint::black_box;
use std::time::Instant;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    let (state, how) = rt
        .block_on(minqing_domain::bench_state(tmp.path()))
        .expect("the district to measure");
    eprintln!("{how}");
    // 2024-12-01 00:00 CST.
    let to = 1_732_982_400;
    let t = Instant::now();
    let r = forces::patrol_coverage(&state, Some(to), None).expect("coverage");
    eprintln!(
        "first report (Gi* computed and cached) in {:.1?}: {} significant hot cells, {} patrols in 30 days, {} covered in 30 days, {} in 7 days",
        t.elapsed(),
        r.hot_cells,
        r.patrols_30d,
        r.covered_30d,
        r.covered_7d
    );
    let ix = state.index().expect("index");
    let hot: Vec<u64> = r
        .cells
        .iter()
        .filter_map(|c| u64::from_str_radix(&c.cell, 16).ok())
        .collect();
    let mut g = c.benchmark_group("forces");
    g.bench_function("patrol_coverage_month", |b| {
        b.iter(|| black_box(forces::patrol_coverage(&state, Some(to), None).expect("coverage")))
    });
    g.bench_function("visits_month", |b| {
        b.iter(|| {
            let f = ix.forces.read();
            black_box(forces::coverage::visits(&hot, &f.patrols, to))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
