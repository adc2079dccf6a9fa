//! Matching throughput on a district-scale synthetic register (≈122,000 buildings,
//! ≈330,000 units) with mixed noise. Criterion reports elements/s = records/s, on one
//! core (the loop is sequential). `independent_mixed_20k` links the evaluation set's
//! own noise (tests/common/noiser.rs: separators inside names and numbers, typos,
//! dropped and doubled characters, spans, aliases, levels out of order…), the goal
//! being ≥ 100,000 records/s.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use minqing_address::noisy_label;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

fn matching(c: &mut Criterion) {
    let syn = common::build(common::Spec::district(), 0xB);
    let mut reader = common::noiser::Reader::new(&syn.buildings, &syn.units);
    let aliases = reader.make_aliases(5);
    let reg =
        minqing_address::Register::with_aliases(syn.buildings.clone(), syn.units.clone(), &aliases)
            .expect("register");
    let mut nrng = ChaCha8Rng::seed_from_u64(43);
    let independent: Vec<String> = reader
        .mixed(20_000, &mut nrng)
        .into_iter()
        .map(|c| c.text)
        .collect();
    eprintln!(
        "register: {} buildings, {} units",
        reg.building_count(),
        reg.unit_count()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let texts: Vec<String> = (0..10_000)
        .map(|_| {
            let u = &syn.units[rng.gen_range(0..syn.units.len())];
            noisy_label(&syn.unit_parts(u), &mut rng)
        })
        .collect();
    let clean: Vec<String> = (0..10_000)
        .map(|_| {
            syn.unit_parts(&syn.units[rng.gen_range(0..syn.units.len())])
                .canonical_label()
        })
        .collect();

    let mut g = c.benchmark_group("match_address");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.sample_size(10);
    g.bench_function("mixed_noise_10k", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for t in &texts {
                n += usize::from(reg.match_address(black_box(t)).code.is_some());
            }
            n
        })
    });
    g.throughput(Throughput::Elements(independent.len() as u64));
    g.bench_function("independent_mixed_20k", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for t in &independent {
                n += usize::from(reg.match_address(black_box(t)).code.is_some());
            }
            n
        })
    });
    g.throughput(Throughput::Elements(clean.len() as u64));
    g.bench_function("clean_10k", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for t in &clean {
                n += usize::from(reg.match_address(black_box(t)).code.is_some());
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    for q in ["jxhy", "锦绣", "锦绣花园3", "红光", "jxhy3", "长江西路18号"] {
        g.bench_function(q, |b| b.iter(|| reg.search(black_box(q), 10)));
    }
    g.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
