//! Model 4: the score formula, its explanation, tiers, config validation and the
//! repeat-address count.

use minqing_analysis::risk::{
    Factor, FactorConfig, RiskConfig, RiskConfigError, RiskInputs, Tier, TierThresholds,
    repeat_addresses, score, tier,
};
use proptest::prelude::*;

/// A config where every factor has weight 1 and reference 1, so each normalised
/// value is `x / (x + 1)` and each contribution is `100/6 · x / (x + 1)`.
fn flat() -> RiskConfig {
    let mut c = RiskConfig::grid();
    c.factors = [FactorConfig {
        weight: 1.0,
        reference: 1.0,
    }; 6];
    c
}

#[test]
fn hand_computed_scores() {
    // (inputs, config, expected score, expected tier)
    let cases = [
        (RiskInputs::default(), RiskConfig::grid(), 0.0, Tier::Small),
        (
            // Every raw value equals its reference: every factor is at 0.5.
            RiskInputs {
                residents: 2000,
                key_group_persons: 10, // 5 per 1,000
                repeat_dispute_addresses: 3,
                overdue_events: 3,
                unresolved_events: 5,
                petitions: 3,
                overcrowded_units: 5,
            },
            RiskConfig::grid(),
            50.0,
            Tier::Medium,
        ),
        (
            // Only petitions, at three times the reference: 0.15 · 0.75 · 100.
            RiskInputs {
                residents: 2000,
                petitions: 9,
                ..RiskInputs::default()
            },
            RiskConfig::grid(),
            11.25,
            Tier::Small,
        ),
        (
            // Flat config, every raw value 1 (density: 1 per 1,000 residents).
            RiskInputs {
                residents: 5000,
                key_group_persons: 5,
                repeat_dispute_addresses: 1,
                overdue_events: 1,
                unresolved_events: 1,
                petitions: 1,
                overcrowded_units: 1,
            },
            flat(),
            50.0,
            Tier::Medium,
        ),
        (
            // Flat config, every raw value 9: 90.
            RiskInputs {
                residents: 1000,
                key_group_persons: 9,
                repeat_dispute_addresses: 9,
                overdue_events: 9,
                unresolved_events: 9,
                petitions: 9,
                overcrowded_units: 9,
            },
            flat(),
            90.0,
            Tier::Large,
        ),
        (
            // Building config: five listed persons among 40 residents are measured
            // against at least 200 residents, i.e. 25 per 1,000 = 5 × the reference:
            // 0.25 · 25/30 · 100.
            RiskInputs {
                residents: 40,
                key_group_persons: 5,
                ..RiskInputs::default()
            },
            RiskConfig::building(),
            0.25 * 25.0 / 30.0 * 100.0,
            Tier::Small,
        ),
        (
            // One listed person among 4 residents: below the suppression threshold,
            // scored as nobody (it would be 12.5 and reveal the count).
            RiskInputs {
                residents: 4,
                key_group_persons: 1,
                ..RiskInputs::default()
            },
            RiskConfig::building(),
            0.0,
            Tier::Small,
        ),
    ];
    for (inputs, config, expected, expected_tier) in cases {
        let s = score(&inputs, &config);
        assert!(
            (s.score - expected).abs() < 1e-9,
            "{inputs:?}: score {} expected {expected}",
            s.score
        );
        assert_eq!(s.tier, expected_tier, "{inputs:?}");
    }
}

#[test]
fn explanation_lists_every_factor_in_order() {
    let inputs = RiskInputs {
        residents: 1000,
        key_group_persons: 20,
        petitions: 1,
        ..RiskInputs::default()
    };
    let s = score(&inputs, &RiskConfig::grid());
    let order: Vec<Factor> = s.factors.iter().map(|f| f.factor).collect();
    assert_eq!(order, Factor::ALL.to_vec());
    let kg = &s.factors[0];
    assert_eq!(kg.raw, 20.0);
    assert_eq!(kg.reference, 5.0);
    assert_eq!(kg.normalised, 0.8);
    assert_eq!(kg.weight, 0.25);
    assert!((kg.contribution - 20.0).abs() < 1e-12);
    assert_eq!(
        s.main_factor().map(|f| f.factor),
        Some(Factor::KeyGroupDensity)
    );
    let weights: f64 = s.factors.iter().map(|f| f.weight).sum();
    assert!((weights - 1.0).abs() < 1e-12);
}

#[test]
fn tiers_use_absolute_thresholds() {
    let t = TierThresholds {
        medium: 40.0,
        large: 70.0,
    };
    let cases = [
        (0.0, Tier::Small),
        (39.999, Tier::Small),
        (40.0, Tier::Medium),
        (69.9, Tier::Medium),
        (70.0, Tier::Large),
        (100.0, Tier::Large),
        (f64::NAN, Tier::Small),
    ];
    for (s, expected) in cases {
        assert_eq!(tier(s, &t), expected, "score {s}");
    }
}

/// A key-group count below 5 is suppressed everywhere, so no part of a score may
/// depend on it: 0 to 4 persons give the same score, contributions and tier, whatever
/// the weights (otherwise `x = r · n / (1 − n)` recovers the count from a
/// contribution).
#[test]
fn key_group_counts_below_five_never_move_a_score() {
    for config in [RiskConfig::grid(), RiskConfig::building(), flat()] {
        for residents in [0, 1, 4, 30, 2000] {
            let at = |k: u32| {
                score(
                    &RiskInputs {
                        residents,
                        key_group_persons: k,
                        petitions: 2,
                        overdue_events: 1,
                        ..RiskInputs::default()
                    },
                    &config,
                )
            };
            let none = at(0);
            for k in 1..5 {
                assert_eq!(at(k), none, "{k} persons among {residents}");
            }
            if residents > 0 {
                assert!(at(5).score > none.score, "5 persons count");
            }
        }
    }
}

#[test]
fn bad_config_is_reported_and_never_panics() {
    let mut c = RiskConfig::grid();
    c.factor_mut(Factor::Petitions).weight = -1.0;
    c.factor_mut(Factor::Overcrowding).reference = 0.0;
    c.tiers.medium = 80.0;
    assert_eq!(
        c.validate(),
        vec![
            RiskConfigError::Weight(Factor::Petitions),
            RiskConfigError::Reference(Factor::Overcrowding),
            RiskConfigError::Thresholds,
        ]
    );
    assert!(RiskConfig::grid().validate().is_empty());
    assert!(RiskConfig::building().validate().is_empty());
    let mut high = RiskConfig::grid();
    high.tiers.large = 120.0;
    assert_eq!(high.validate(), vec![RiskConfigError::Thresholds]);

    // The negative weight counts as zero; the bad reference as 1.
    let s = score(
        &RiskInputs {
            petitions: 100,
            overcrowded_units: 1,
            ..RiskInputs::default()
        },
        &c,
    );
    let p = s.factors[Factor::Petitions as usize];
    assert_eq!(p.weight, 0.0);
    assert_eq!(p.contribution, 0.0);
    let o = s.factors[Factor::Overcrowding as usize];
    assert_eq!(o.reference, 1.0);
    assert_eq!(o.normalised, 0.5);

    let mut zero = RiskConfig::grid();
    zero.factors.iter_mut().for_each(|f| f.weight = f64::NAN);
    assert!(zero.validate().contains(&RiskConfigError::NoWeight));
    let s = score(
        &RiskInputs {
            petitions: 5,
            ..RiskInputs::default()
        },
        &zero,
    );
    assert_eq!(s.score, 0.0);
}

#[test]
fn repeat_addresses_counts_addresses_seen_twice() {
    let check = |addresses: &[u64], min: u32, expected: u32| {
        assert_eq!(
            repeat_addresses(addresses, min),
            expected,
            "{addresses:?} ≥{min}"
        );
    };
    check(&[], 2, 0);
    check(&[1, 2, 3], 2, 0);
    check(&[1, 2, 1, 3, 3, 3], 2, 2);
    check(&[1, 2, 1, 3, 3, 3], 3, 1);
    check(&[5, 5], 0, 1); // a minimum of 0 or 1 means "any address"
    check(&[7, 7, 7, 7], 2, 1);
}

fn arb_inputs() -> impl Strategy<Value = RiskInputs> {
    (
        0u32..100_000,
        0u32..500,
        0u32..50,
        0u32..50,
        0u32..50,
        0u32..50,
        0u32..50,
    )
        .prop_map(|(r, k, d, o, u, p, c)| RiskInputs {
            residents: r,
            key_group_persons: k,
            repeat_dispute_addresses: d,
            overdue_events: o,
            unresolved_events: u,
            petitions: p,
            overcrowded_units: c,
        })
}

/// The score computed from the model's formula by this test, without the crate's own
/// raw values or normalisation: each factor's raw value from the inputs, x/(x + ref),
/// weights normalised to sum to 1, times 100.
fn oracle(inputs: &RiskInputs, config: &RiskConfig) -> f64 {
    let residents = inputs.residents.max(config.density_min_residents);
    let listed = if inputs.key_group_persons >= 5 {
        inputs.key_group_persons
    } else {
        0
    };
    let density = if residents == 0 {
        0.0
    } else {
        f64::from(listed) / f64::from(residents) * 1000.0
    };
    let raws = [
        density,
        f64::from(inputs.repeat_dispute_addresses),
        f64::from(inputs.overdue_events),
        f64::from(inputs.unresolved_events),
        f64::from(inputs.petitions),
        f64::from(inputs.overcrowded_units),
    ];
    let total_weight: f64 = config.factors.iter().map(|f| f.weight).sum();
    if total_weight == 0.0 {
        return 0.0;
    }
    raws.iter()
        .zip(&config.factors)
        .map(|(x, f)| 100.0 * (f.weight / total_weight) * (x / (x + f.reference)))
        .sum()
}

proptest! {
    /// The score is the model's formula (checked against [`oracle`]), the contributions
    /// add up to it exactly (the explanation is complete), it stays in 0..=100, and
    /// more of any factor never lowers it.
    #[test]
    fn contributions_sum_to_the_score(
        inputs in arb_inputs(),
        weights in prop::array::uniform6(0.0f64..10.0),
        refs in prop::array::uniform6(0.1f64..50.0),
        building in any::<bool>(),
    ) {
        let mut config = if building { RiskConfig::building() } else { RiskConfig::grid() };
        for ((f, w), r) in config.factors.iter_mut().zip(weights).zip(refs) {
            *f = FactorConfig { weight: w, reference: r };
        }
        let s = score(&inputs, &config);
        let expected = oracle(&inputs, &config);
        prop_assert!((s.score - expected).abs() < 1e-9, "score {} oracle {}", s.score, expected);
        let sum = s.factors.iter().fold(0.0, |acc, f| acc + f.contribution);
        prop_assert_eq!(sum, s.score);
        prop_assert!((0.0..=100.0).contains(&s.score));
        for f in &s.factors {
            prop_assert!((0.0..=1.0).contains(&f.normalised));
            prop_assert!(
                (f.contribution - 100.0 * f.weight * f.normalised).abs() < 1e-12
            );
        }
        let mut more = inputs;
        more.petitions += 1;
        prop_assert!(score(&more, &config).score >= s.score);
    }
}
