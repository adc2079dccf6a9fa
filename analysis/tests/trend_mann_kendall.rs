//! Mann–Kendall against pymannkendall on fixtures from `reference/mann_kendall_fixture.py`.

use minqing_analysis::trend::{Trend, mann_kendall, sens_slope};
use serde_json::Value;

fn close(a: f64, b: f64, what: &str, name: &str) {
    assert!((a - b).abs() <= 1e-9, "{name}: {what} {a} vs reference {b}");
}

fn check(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let x: Vec<f64> = case["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    let alpha = case["alpha"].as_f64().unwrap();
    let r = mann_kendall(&x, alpha);
    close(r.s, case["s"].as_f64().unwrap(), "S", name);
    close(r.var_s, case["var_s"].as_f64().unwrap(), "var(S)", name);
    close(r.z, case["z"].as_f64().unwrap(), "z", name);
    close(r.p, case["p"].as_f64().unwrap(), "p", name);
    close(r.tau, case["tau"].as_f64().unwrap(), "tau", name);
    assert_eq!(
        r.trend.as_str(),
        case["trend"].as_str().unwrap(),
        "{name}: trend"
    );
    let s = sens_slope(&x);
    close(s.slope, case["slope"].as_f64().unwrap(), "slope", name);
    close(
        s.intercept,
        case["intercept"].as_f64().unwrap(),
        "intercept",
        name,
    );
}

#[test]
fn mann_kendall_matches_pymannkendall() {
    let fx: Value = serde_json::from_str(include_str!("fixtures/mann_kendall.json")).unwrap();
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        check(case);
    }
}

#[test]
fn short_and_empty_series_do_not_panic() {
    for x in [&[][..], &[1.0][..], &[f64::NAN, f64::NAN][..]] {
        let r = mann_kendall(x, 0.05);
        assert_eq!((r.z, r.p, r.trend), (0.0, 1.0, Trend::NoTrend));
        let s = sens_slope(x);
        assert!(s.slope.is_finite() && s.intercept.is_finite());
    }
    let up: Vec<f64> = (0..30).map(f64::from).collect();
    assert_eq!(mann_kendall(&up, 0.05).trend, Trend::Increasing);
    let down: Vec<f64> = up.iter().map(|v| -v).collect();
    assert_eq!(mann_kendall(&down, 0.05).trend, Trend::Decreasing);
}
