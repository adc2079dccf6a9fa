//! CSV row import: arbitrary bytes as each CSV import file (the first byte picks the
//! file), through the importer's own reader and row validation, linking free-text
//! addresses through the matcher. Errors are expected; panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;

const FILES: &[&str] = &[
    "buildings.csv",
    "units.csv",
    "housing.csv",
    "residents.csv",
    "enterprises.csv",
    "events.csv",
    "event_steps.csv",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let file = FILES[pick as usize % FILES.len()];
    let mut ctx = minqing_domain::import::ImportContext::default();
    if pick & 0x80 != 0 {
        ctx.register = Some(minqing_fuzz::register_arc());
    }
    if let Ok(report) = minqing_domain::import::check_bytes(file, bytes, &ctx) {
        assert_eq!(
            report.rows_total,
            report.rows_loaded + report.errors.len() as u64
        );
    }
});
