//! Matches district-scale noisy records in a loop; run under `time` to read CPU time
//! per record independent of machine load.
#[path = "../tests/common/mod.rs"]
mod common;

use minqing_address::noisy_label;
use rand::{Rng, SeedableRng};

fn main() {
    let syn = common::build(common::Spec::district(), 0xB);
    let reg = syn.register();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let texts: Vec<String> = (0..20_000)
        .map(|_| {
            let u = &syn.units[rng.gen_range(0..syn.units.len())];
            noisy_label(&syn.unit_parts(u), &mut rng)
        })
        .collect();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let mut hits = 0usize;
    for _ in 0..rounds {
        for t in &texts {
            hits += usize::from(reg.match_address(t).code.is_some());
        }
    }
    println!("{} records matched, {hits} answered", rounds * texts.len());
}
