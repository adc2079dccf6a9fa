//! Gi* against PySAL esda on fixtures from `reference/gi_star_fixture.py`.

use geo::{LineString, MultiPolygon, Polygon};
use h3o::Resolution;
use minqing_analysis::hotspot::{
    HotspotClass, HotspotError, StudyArea, fdr_bh, gi_star, gi_star_z, two_sided_p,
};
use serde_json::Value;

fn fixture() -> Value {
    let text = include_str!("fixtures/gi_star.json");
    serde_json::from_str(text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn cells(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn ring(v: &Value) -> LineString<f64> {
    LineString::from(
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect::<Vec<_>>(),
    )
}

/// Checks one fixture case: neighbourhoods equal h3-py's, z/p/BH equal esda/scipy.
fn check(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let ids = cells(&case["cells"]);
    let area = StudyArea::from_cells(ids.iter().copied()).unwrap();
    assert_eq!(area.cells(), &ids[..], "{name}: cell order");
    for (i, nb) in case["neighbours"].as_array().unwrap().iter().enumerate() {
        let mut want: Vec<u32> = nb
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        want.push(i as u32);
        want.sort_unstable();
        assert_eq!(area.neighbours(i), &want[..], "{name}: neighbours of {i}");
    }
    let y = floats(&case["values"]);
    let z_ref = floats(&case["z"]);
    let p_norm = floats(&case["p_norm"]);
    let p_bh = floats(&case["p_bh"]);
    let report = gi_star(&area, &y).unwrap();
    assert_eq!(report.undefined_cells, 0);
    let mut worst = 0.0f64;
    for (i, c) in report.cells.iter().enumerate() {
        let dz = (c.gi_z - z_ref[i]).abs();
        worst = worst.max(dz);
        assert!(
            dz <= 1e-9,
            "{name} cell {i}: z {} vs esda {}",
            c.gi_z,
            z_ref[i]
        );
        // Our p is two-sided; esda's p_norm is the one-sided tail.
        assert!(
            (c.p - 2.0 * p_norm[i]).abs() <= 1e-12,
            "{name} cell {i}: p {} vs 2*p_norm {}",
            c.p,
            2.0 * p_norm[i]
        );
        assert!(
            (c.p_adjusted - p_bh[i]).abs() <= 1e-12,
            "{name} cell {i}: p_adj {} vs scipy {}",
            c.p_adjusted,
            p_bh[i]
        );
        assert_eq!(c.class, HotspotClass::from_z_p(z_ref[i], p_bh[i]));
        assert_eq!(c.cell, ids[i]);
        assert_eq!(c.count, y[i]);
    }
    eprintln!("{name}: {} cells, max |z - esda| = {worst:e}", ids.len());
}

#[test]
fn gi_star_matches_esda_on_every_fixture() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        check(case);
    }
}

#[test]
fn planted_cluster_is_found_hot() {
    let fx = fixture();
    let case = &fx["cases"][0];
    let area = StudyArea::from_cells(cells(&case["cells"])).unwrap();
    let report = gi_star(&area, &floats(&case["values"])).unwrap();
    // The fixture plants extra events around position n/3.
    let planted = report.cells[area.len() / 3].class;
    assert_eq!(planted, HotspotClass::Hot99);
}

#[test]
fn polygon_tiling_matches_h3_polygon_to_cells() {
    let fx = fixture();
    let case = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c.get("polygon").is_some())
        .unwrap();
    let poly = &case["polygon"];
    let holes = poly["holes"].as_array().unwrap().iter().map(ring).collect();
    let mp = MultiPolygon(vec![Polygon::new(ring(&poly["exterior"]), holes)]);
    let res = Resolution::try_from(case["resolution"].as_u64().unwrap() as u8).unwrap();
    let area = StudyArea::from_polygon(&mp, res).unwrap();
    assert_eq!(area.cells(), &cells(&case["cells"])[..]);
    assert_eq!(area.resolution(), 8);
}

#[test]
fn counting_points_puts_each_point_in_its_cell() {
    let fx = fixture();
    let case = &fx["cases"][0];
    let area = StudyArea::from_cells(cells(&case["cells"])).unwrap();
    let centre_cell = h3o::LatLng::new(31.127, 104.397)
        .unwrap()
        .to_cell(Resolution::Nine);
    let i = area.index_of(u64::from(centre_cell)).unwrap();
    let counts = area.count_weighted_points([
        (104.397, 31.127, 2.0),
        (104.397, 31.127, 0.5),
        (120.0, 31.0, 1.0),               // outside
        (f64::NAN, 31.0, 1.0),            // invalid
        (104.397, 31.127, f64::INFINITY), // invalid weight
    ]);
    assert_eq!(counts.counts[i], 2.5);
    assert_eq!(counts.counts.iter().sum::<f64>(), 2.5);
    assert_eq!((counts.outside, counts.invalid), (1, 2));
    assert_eq!(area.locate(104.397, 31.127), Some(i));
    let plain = area.count_points([(104.397, 31.127)]);
    assert_eq!(plain.counts[i], 1.0);
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let fx = fixture();
    let area = StudyArea::from_cells(cells(&fx["cases"][2]["cells"])).unwrap();
    let n = area.len();
    // Zero variance: all z undefined → 0, p 1, not significant.
    for v in [0.0, 3.0] {
        let r = gi_star(&area, &vec![v; n]).unwrap();
        assert_eq!(r.undefined_cells, n);
        assert!(
            r.cells
                .iter()
                .all(|c| c.gi_z == 0.0 && c.p == 1.0 && c.class == HotspotClass::NotSignificant)
        );
    }
    assert_eq!(
        gi_star_z(&area, &[1.0]).unwrap_err(),
        HotspotError::LengthMismatch {
            expected: n,
            got: 1
        }
    );
    let mut bad = vec![1.0; n];
    bad[4] = f64::NAN;
    assert_eq!(
        gi_star(&area, &bad).unwrap_err(),
        HotspotError::NonFinite(4)
    );
    // A single cell is its own whole neighbourhood.
    let one = StudyArea::from_cells([area.cells()[0]]).unwrap();
    assert_eq!(gi_star(&one, &[5.0]).unwrap().undefined_cells, 1);
    assert!(StudyArea::from_cells([]).is_err());
    assert!(StudyArea::from_cells([12345]).is_err());
    assert_eq!(fdr_bh(&[]), Vec::<f64>::new());
    assert_eq!(fdr_bh(&[f64::NAN, 0.01]), vec![1.0, 0.02]);
    assert_eq!(two_sided_p(f64::NAN), 1.0);
    let empty = MultiPolygon::<f64>(vec![]);
    assert!(StudyArea::from_polygon(&empty, Resolution::Nine).is_err());
}
