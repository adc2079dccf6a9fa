//! Patrol coverage of the hot spots (model 3) through the server's code path (no HTTP),
//! on a district generated on the fly (`--scale 1` by default; `MINQING_BENCH_SCALE`
//! overrides) or an imported store (`MINQING_BENCH_STORE`): the report for the 30 days
//! ending 2024-12-01 (a month of patrols: 320 at scale 1), with model 3's Gi* cached as
//! a served request finds it, and the visit count alone.
//!
//!     cargo bench -p minqing-server --bench forces

use criterion::{Criterion, criterion_group, criterion_main};
use minqing_domain::forces;
use minqing_domain::tiles_service::filters::{EventAudience, EventFilter};
use minqing_domain::tiles_service::layers;
use minqing_tiles::TileId;
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
    // The `patrols` layer's densest tiles: the z13 and z15 tiles (tracks) and the z11
    // tile (coverage cells) holding the most fixes of the layer's 30 days.
    let densest = |z: u8| -> TileId {
        let f = ix.forces.read();
        let last = f.patrols.last().expect("patrols").started_at;
        let mut counts: std::collections::HashMap<(u32, u32), usize> = Default::default();
        for p in f.patrols_between(last + 1 - 30 * 86_400, last + 1) {
            for &(x, y) in &p.track {
                let n = f64::from(1u32 << z);
                let tx = ((x + 180.0) / 360.0 * n) as u32;
                let lat = y.to_radians();
                let ty = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0
                    * n) as u32;
                *counts.entry((tx, ty)).or_default() += 1;
            }
        }
        let ((x, y), n) = counts
            .into_iter()
            .max_by_key(|&(k, n)| (n, k))
            .expect("a tile");
        eprintln!("densest patrols tile at z{z}: {x}/{y} with {n} fixes");
        TileId::new(z, x, y).expect("tile")
    };
    let spec = [layers::layer("patrols").expect("the patrols layer")];
    for z in [11u8, 13, 15] {
        let tile = densest(z);
        let render = || {
            state
                .tiles
                .render_vector(
                    &spec,
                    tile,
                    &EventFilter::default(),
                    &EventAudience::Aggregates,
                    state.events_lock(),
                )
                .expect("render")
        };
        let r = render();
        eprintln!("  {} features, {} bytes", r.features, r.bytes.len());
        g.bench_function(format!("patrols_tile_densest_z{z}"), |b| {
            b.iter(|| black_box(render()))
        });
        if z >= forces::tiles::LINE_MIN_ZOOM {
            let f = ix.forces.read();
            eprintln!("  unprepared: {} bytes", unprepared(&f, tile));
            g.bench_function(format!("patrols_tile_densest_z{z}_unprepared"), |b| {
                b.iter(|| black_box(unprepared(&f, tile)))
            });
        }
    }
    g.finish();
}

/// The track tile as it was rendered before tracks were prepared at load (kept here to
/// compare in one run on the same machine): every fix of every track crossing the tile
/// projected from lon/lat, the tile-unit line simplified (Douglas–Peucker, 2 units) and
/// the day formatted, per request. Returns the tile's size.
fn unprepared(f: &forces::ForcesIndex, tile: TileId) -> usize {
    use geo_types::{Coord, Geometry, LineString};
    use minqing_tiles::{EXTENT, EncodeOptions, PropValue, TileBuilder};
    let last = f.patrols.last().expect("patrols").started_at;
    let t = tile.transform();
    let pad = 65.0;
    let (w, n) = t.tile_to_lonlat(-pad, -pad);
    let (e, s) = t.tile_to_lonlat(f64::from(EXTENT) + pad, f64::from(EXTENT) + pad);
    let mut tb = TileBuilder::new(tile, EncodeOptions::default());
    let out = tb.layer("patrols");
    for p in f.patrols_between(last + 1 - 30 * 86_400, last + 1) {
        if p.bbox[2] < w || p.bbox[0] > e || p.bbox[3] < s || p.bbox[1] > n {
            continue;
        }
        let pts: Option<Vec<Coord<i64>>> = p
            .track
            .iter()
            .map(|&(x, y)| t.lonlat_to_tile_i64(x, y).map(|(x, y)| Coord { x, y }))
            .collect();
        let Some(pts) = pts else { continue };
        let line = LineString::new(minqing_tiles::simplify::simplify_line(&pts, 2.0));
        let day = minqing_domain::time::format_date(p.started_at);
        let team = &f.teams[p.team as usize];
        out.add_tile_geometry(
            &Geometry::LineString(line),
            None,
            &[
                ("code", PropValue::Str(&p.code)),
                ("team", PropValue::Str(&team.name)),
                ("day", PropValue::Str(&day)),
            ],
        )
        .expect("encode");
    }
    tb.finish().expect("tile").bytes.len()
}

criterion_group!(benches, bench);
criterion_main!(benches);
