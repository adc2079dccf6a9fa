//! Benchmarks at the seed district's scale: 627,000 residents in 122,000
//! buildings, 327,000 housing units, 18,000 enterprises, 24,000 events a year.
//!
//! The inputs are generated here with a fixed-seed splitmix64 so every run measures
//! the same data; their distributions are only roughly realistic, which is enough
//! because the cost of these models depends on counts, not on values.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use minqing_analysis::efficiency::{
    AnomalyConfig, EventFacts, Window, annual_change, anomalous_weeks, efficiency, week_start,
    weekly_counts,
};
use minqing_analysis::housing::{
    EnterpriseFacts, EnterpriseSize, HousingProfile, Occupancy, UnitFacts,
};
use minqing_analysis::population::{AgeBasis, PersonFacts, PopulationProfile, Sex, YearMonth};
use minqing_analysis::risk::{RiskConfig, RiskInputs, score};

const PERSONS: usize = 627_000;
const BUILDINGS: usize = 122_000;
const UNITS: usize = 327_000;
const ENTERPRISES: usize = 18_000;
const EVENTS: usize = 24_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn persons(rng: &mut Rng) -> Vec<PersonFacts> {
    (0..PERSONS)
        .map(|_| {
            let household_size = 1 + rng.below(6) as u8;
            PersonFacts {
                birth_year: 1925 + rng.below(100) as u16,
                birth_month: 1 + rng.below(12) as u8,
                sex: if rng.below(2) == 0 {
                    Sex::Male
                } else {
                    Sex::Female
                },
                registered: rng.below(10) < 8,
                household_size,
                lives_alone: household_size == 1,
                key_groups: if rng.below(200) == 0 {
                    1 << rng.below(5)
                } else {
                    0
                },
            }
        })
        .collect()
}

fn events(rng: &mut Rng, year: Window) -> Vec<EventFacts> {
    let span = (year.to - year.from) as u64;
    (0..EVENTS)
        .map(|_| {
            let accepted_at = year.from + rng.below(span) as i64;
            let closed = rng.below(100) < 97;
            EventFacts {
                category: rng.below(5) as u8,
                source: rng.below(5) as u8,
                accepted_at,
                closed_at: closed.then(|| accepted_at + rng.below(30 * 86_400) as i64),
                resolved_by_mediation: rng.below(3) < 2,
                diverted: rng.below(20) == 0,
                deadline: accepted_at + 15 * 86_400,
                worker: Some(rng.below(331) as u32),
                area: rng.below(331) as u32,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x006d_696e_7169_6e67);
    let basis = AgeBasis::at(YearMonth::new(2024, 12));
    let people = persons(&mut rng);

    c.bench_function("population: add 627,000 persons", |b| {
        b.iter(|| PopulationProfile::of(basis, black_box(&people)).finish(1.0))
    });
    let polygon = &people[..60_000];
    c.bench_function("population: add 60,000 persons (a drawn polygon)", |b| {
        b.iter(|| PopulationProfile::of(basis, black_box(polygon)).finish(1.0))
    });

    // Per-building partials: consecutive persons share a building.
    let per_building: Vec<PopulationProfile> = people
        .chunks(PERSONS.div_ceil(BUILDINGS))
        .map(|chunk| PopulationProfile::of(basis, chunk))
        .collect();
    c.bench_function("population: merge 122,000 building profiles", |b| {
        b.iter(|| {
            let mut p = PopulationProfile::new(basis);
            for q in black_box(&per_building) {
                p.merge(q);
            }
            p.finish(1.0)
        })
    });
    c.bench_function(
        "population: merge 12,000 building profiles (a polygon)",
        |b| {
            b.iter(|| {
                let mut p = PopulationProfile::new(basis);
                for q in black_box(&per_building[..12_000]) {
                    p.merge(q);
                }
                p.finish(1.0)
            })
        },
    );

    let units: Vec<UnitFacts> = (0..UNITS)
        .map(|_| UnitFacts {
            occupancy: [Occupancy::Owner, Occupancy::Rented, Occupancy::Vacant]
                [rng.below(3) as usize],
            residents: rng.below(8) as u16,
            floor_area_m2: 20.0 + rng.below(150) as f32,
        })
        .collect();
    let enterprises: Vec<EnterpriseFacts> = (0..ENTERPRISES)
        .map(|_| EnterpriseFacts {
            industry: rng.below(20) as u8,
            size: EnterpriseSize::ALL[rng.below(4) as usize],
            employees: rng.below(500) as u32,
        })
        .collect();
    c.bench_function("housing: add 327,000 units and 18,000 enterprises", |b| {
        b.iter(|| {
            let mut p = HousingProfile::default();
            black_box(&units).iter().for_each(|u| p.add_unit(u));
            black_box(&enterprises)
                .iter()
                .for_each(|e| p.add_enterprise(e));
            p.finish()
        })
    });
    let housing_per_building: Vec<HousingProfile> = units
        .chunks(UNITS.div_ceil(BUILDINGS))
        .map(|chunk| {
            let mut p = HousingProfile::default();
            chunk.iter().for_each(|u| p.add_unit(u));
            p
        })
        .collect();
    c.bench_function("housing: merge 122,000 building profiles", |b| {
        b.iter(|| {
            let mut p = HousingProfile::default();
            for q in black_box(&housing_per_building) {
                p.merge(q);
            }
            p.finish()
        })
    });

    let inputs: Vec<RiskInputs> = (0..BUILDINGS)
        .map(|_| RiskInputs {
            residents: rng.below(20) as u32,
            key_group_persons: rng.below(2) as u32,
            repeat_dispute_addresses: rng.below(2) as u32,
            overdue_events: rng.below(2) as u32,
            unresolved_events: rng.below(3) as u32,
            petitions: rng.below(2) as u32,
            overcrowded_units: rng.below(2) as u32,
        })
        .collect();
    let building = RiskConfig::building();
    c.bench_function("risk: score 122,000 buildings", |b| {
        b.iter(|| {
            black_box(&inputs)
                .iter()
                .map(|i| score(i, &building).score)
                .sum::<f64>()
        })
    });

    let year = Window::year(2024);
    let evs = events(&mut rng, year);
    c.bench_function("efficiency: 24,000 events, one year", |b| {
        b.iter(|| efficiency(black_box(&evs), year, year.to))
    });
    c.bench_function("efficiency: one area's events out of 24,000", |b| {
        b.iter(|| {
            efficiency(
                black_box(&evs).iter().filter(|e| e.area == 17),
                year,
                year.to,
            )
        })
    });
    c.bench_function("efficiency: year-on-year by category, 24,000 events", |b| {
        b.iter(|| annual_change(black_box(&evs), 2024))
    });
    c.bench_function("efficiency: weekly counts + anomalies, 53 weeks", |b| {
        b.iter(|| {
            let counts = weekly_counts(black_box(&evs), week_start(year.from), 53);
            anomalous_weeks(&counts, &AnomalyConfig::default())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
