//! GeoJSON import: arbitrary bytes as areas.geojson or roads.geojson.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let file = if pick & 1 == 0 {
        "areas.geojson"
    } else {
        "roads.geojson"
    };
    let ctx = minqing_domain::import::ImportContext::default();
    let report = minqing_domain::import::check_bytes(file, bytes, &ctx).expect("a known file");
    assert_eq!(
        report.rows_total,
        report.rows_loaded + report.errors.len() as u64
    );
});
