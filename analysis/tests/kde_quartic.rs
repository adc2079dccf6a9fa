//! Quartic KDE against direct numpy evaluation (`reference/kde_fixture.py`).

use minqing_analysis::kde::{
    GridSpec, KdeError, KernelDensity, default_bandwidth, quartic_at, quartic_grid,
};
use serde_json::Value;

fn pairs(v: &Value) -> Vec<(f64, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Relative error 1e-9, with an absolute floor far below any non-zero density here.
fn check_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1e-6 * scale),
            "{what}[{i}]: {g} vs numpy {w}"
        );
    }
}

#[test]
fn quartic_matches_numpy() {
    let fx: Value = serde_json::from_str(include_str!("fixtures/kde.json")).unwrap();
    let points = pairs(&fx["points"]);
    let queries = pairs(&fx["queries"]);
    let g = &fx["grid_spec"];
    let spec = GridSpec {
        origin_x: g["origin_x"].as_f64().unwrap(),
        origin_y: g["origin_y"].as_f64().unwrap(),
        pixel_size: g["pixel_size"].as_f64().unwrap(),
        width: g["width"].as_u64().unwrap() as usize,
        height: g["height"].as_u64().unwrap() as usize,
    };
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let r = case["radius"].as_f64().unwrap();
        let w = case["weights"].as_array().map(|_| floats(&case["weights"]));
        let at = quartic_at(&points, w.as_deref(), r, &queries).unwrap();
        check_close(&at, &floats(&case["at"]), &format!("{name} at"));
        let grid = quartic_grid(&points, w.as_deref(), r, &spec).unwrap();
        check_close(&grid, &floats(&case["grid"]), &format!("{name} grid"));
        let bw = default_bandwidth(&points, w.as_deref()).unwrap();
        let want = case["bandwidth"].as_f64().unwrap();
        assert!(
            (bw - want).abs() <= 1e-9 * want,
            "{name}: bandwidth {bw} vs {want}"
        );
    }
}

#[test]
fn density_integrates_to_total_weight() {
    // One point of weight 2 in the middle of a fine grid: Σ density · pixel² ≈ 2.
    let spec = GridSpec {
        origin_x: -100.0,
        origin_y: 100.0,
        pixel_size: 0.5,
        width: 400,
        height: 400,
    };
    let grid = quartic_grid(&[(0.3, -0.2)], Some(&[2.0]), 40.0, &spec).unwrap();
    let total: f64 = grid.iter().sum::<f64>() * 0.25;
    assert!((total - 2.0).abs() < 1e-3, "integral {total}");
}

#[test]
fn bad_inputs_are_errors_or_skipped() {
    assert_eq!(
        KernelDensity::new(&[(0.0, 0.0)], None, 0.0).unwrap_err(),
        KdeError::BadRadius(0.0)
    );
    assert!(KernelDensity::new(&[(0.0, 0.0)], Some(&[]), 1.0).is_err());
    let kd = KernelDensity::new(&[(0.0, 0.0), (f64::NAN, 1.0)], None, 1.0).unwrap();
    assert_eq!((kd.len(), kd.skipped), (1, 1));
    assert!(kd.at(0.0, 0.0) > 0.0 && kd.at(5.0, 5.0) == 0.0);
    let bad = GridSpec {
        origin_x: 0.0,
        origin_y: 0.0,
        pixel_size: -1.0,
        width: 2,
        height: 2,
    };
    assert_eq!(kd.grid(&bad).unwrap_err(), KdeError::BadGrid);
    let empty = KernelDensity::new(&[], None, 1.0).unwrap();
    assert_eq!(empty.at(0.0, 0.0), 0.0);
    assert_eq!(default_bandwidth(&[(1.0, 1.0)], None), None);
    assert_eq!(default_bandwidth(&[(1.0, 1.0), (1.0, 1.0)], None), None);
    // A huge extent with a tiny radius must not allocate unbounded buckets.
    let far = KernelDensity::new(&[(0.0, 0.0), (1e9, 1e9)], None, 1e-3).unwrap();
    assert_eq!(far.at(1e9, 1e9), 3.0 / std::f64::consts::PI / 1e-6);
}
