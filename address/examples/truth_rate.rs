//! Linking rate and quality on a labelled set dumped from the generator's ground truth
//! (`MINQING_EVAL_DUMP=DIR` on the server's `full_district_matching_quality_and_rate`
//! test writes `buildings.tsv`, `units.tsv` and `records.tsv`).
//!
//!     cargo run --release -p minqing-address --example truth_rate -- DIR
//!
//! The rate is records per CPU second of this process (read from /proc/self/stat on
//! Linux, so a loaded machine does not distort it), on one thread.

use minqing_address::Register;
use std::time::Instant;

#[path = "support/dump.rs"]
mod dump;
use dump::cpu_seconds;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: truth_rate DIR"));
    let (buildings, units) = dump::read_register(&dir);
    let t = Instant::now();
    let reg = Register::new(buildings, units).expect("register");
    println!(
        "register: {} buildings, {} units, built in {:.2} s",
        reg.building_count(),
        reg.unit_count(),
        t.elapsed().as_secs_f64()
    );
    let records_text = std::fs::read_to_string(dir.join("records.tsv")).expect("records.tsv");
    let records: Vec<(&str, bool, &str)> = records_text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            Some((*f.get(1)?, *f.get(2)? == "unit", *f.get(4)?))
        })
        .collect();
    let (cpu0, wall) = (cpu_seconds(), Instant::now());
    let results: Vec<_> = records.iter().map(|r| reg.match_address(r.2)).collect();
    let (cpu1, secs) = (cpu_seconds(), wall.elapsed().as_secs_f64());
    let (mut answered, mut b_right, mut u_truths, mut u_answered, mut u_right, mut conf_wrong) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for ((code, unit_level, _), r) in records.iter().zip(&results) {
        u_truths += u64::from(*unit_level);
        let Some(c) = r.code.as_deref() else { continue };
        answered += 1;
        let b_ok = c.get(..19) == code.get(..19);
        b_right += u64::from(b_ok);
        let mut u_ok = true;
        if *unit_level && c.len() == 25 {
            u_answered += 1;
            u_ok = c == *code;
            u_right += u64::from(u_ok);
        }
        if !(b_ok && u_ok) && r.confidence >= 0.9 {
            conf_wrong += 1;
        }
    }
    let n = records.len() as f64;
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    println!(
        "n={}  building P={:.4} R={:.4}  unit P={:.4} R={:.4}  confident-wrong={:.5}",
        records.len(),
        ratio(b_right, answered),
        b_right as f64 / n,
        ratio(u_right, u_answered),
        ratio(u_right, u_truths),
        conf_wrong as f64 / n
    );
    println!("wall: {secs:.2} s = {:.0} records/s", n / secs);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        println!(
            "cpu:  {:.2} s = {:.0} records per CPU second (one thread)",
            b - a,
            n / (b - a).max(1e-9)
        );
    }
}
