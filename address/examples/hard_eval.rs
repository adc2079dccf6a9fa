//! The hard evaluation set (`minqing_address::eval`) on a register dumped from the
//! generator (`MINQING_HARD_DUMP=DIR` on the server's hard-set tests writes
//! `buildings.tsv` and `units.tsv`), in a release build of this crate alone:
//!
//!     cargo run --release -p minqing-address --example hard_eval -- DIR SEED [PER_KIND MIXED]
//!
//! Prints the quality table and the matching rate per CPU second of this process.

use minqing_address::eval;
use std::time::Instant;

#[path = "support/dump.rs"]
mod dump;
use dump::cpu_seconds;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .expect("usage: hard_eval DIR SEED [PER_KIND MIXED]"),
    );
    let seed: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .expect("SEED (a number)");
    let per_kind: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let mixed: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let (buildings, units) = dump::read_register(&dir);
    let t = Instant::now();
    let p = eval::prepare(buildings, units, seed, per_kind, mixed).expect("register");
    println!(
        "hard set, seed {seed:#x}: register {} buildings, {} units, {} compounds ({} names now \
         shared); {} cases, prepared in {:.1} s",
        p.register.building_count(),
        p.register.unit_count(),
        p.compounds,
        p.shared.len(),
        p.cases.len(),
        t.elapsed().as_secs_f64()
    );
    let (cpu0, wall) = (cpu_seconds(), Instant::now());
    let (all, per, wrong) = eval::evaluate(&p.register, &p.units, &p.cases, 80);
    let (cpu1, secs) = (cpu_seconds(), wall.elapsed().as_secs_f64());
    println!("{}", eval::table(&all, &per));
    let n = p.cases.len() as f64;
    println!(
        "matching (and scoring): wall {secs:.2} s = {:.0} cases/s",
        n / secs
    );
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        println!(
            "cpu {:.2} s = {:.0} cases per CPU second (one thread)",
            b - a,
            n / (b - a).max(1e-9)
        );
    }
    println!("meets the goals: {}", all.meets_goals());
    println!("wrong answers (first {}):", wrong.len());
    for w in &wrong {
        println!("  {w}");
    }
}
