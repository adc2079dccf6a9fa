//! Model 1: ages, sex ratio, registration, households, elderly living alone,
//! key groups and suppression, density; merge is exact and associative.

use minqing_analysis::population::{
    AgeBasis, KEY_GROUP_MIN_COUNT, PersonFacts, PopulationProfile, Sex, YearMonth, age_at,
    key_group, suppress_small,
};
use proptest::prelude::*;

const REF: YearMonth = YearMonth::new(2024, 6);

fn person(birth_year: u16, birth_month: u8, sex: Sex) -> PersonFacts {
    PersonFacts {
        birth_year,
        birth_month,
        sex,
        registered: true,
        household_size: 3,
        lives_alone: false,
        key_groups: 0,
    }
}

#[test]
fn ages_in_completed_years() {
    let check = |by: u16, bm: u8, expected: Option<u16>| {
        assert_eq!(age_at(by, bm, REF), expected, "born {by}-{bm}");
    };
    check(2024, 6, Some(0)); // born in the reference month
    check(2024, 7, None); // born after the reference month
    check(2009, 6, Some(15)); // birthday this month counts as had
    check(2009, 7, Some(14));
    check(1959, 12, Some(64));
    check(1959, 1, Some(65));
    check(1944, 6, Some(80));
    check(2000, 0, None);
    check(2000, 13, None);
    assert_eq!(age_at(2000, 5, YearMonth::new(2024, 13)), None);
}

/// A hand-counted area of ten persons.
fn sample() -> Vec<PersonFacts> {
    let mut p = vec![
        person(2015, 3, Sex::Male),   // 9  -> 0-14
        person(2010, 6, Sex::Female), // 14 -> 0-14
        person(1990, 1, Sex::Male),   // 34 -> 15-59
        person(1965, 7, Sex::Female), // 58 -> 15-59
        person(1962, 2, Sex::Male),   // 62 -> 60-64
        person(1959, 6, Sex::Female), // 65 -> 65-79
        person(1950, 9, Sex::Female), // 73 -> 65-79
        person(1940, 1, Sex::Female), // 84 -> 80+
        person(2030, 1, Sex::Male),   // impossible -> unknown age
        person(1980, 5, Sex::Male),   // 44 -> 15-59
    ];
    // households: persons 0..3 in a household of 4 (all four present),
    // 4 and 5 a couple, 6 and 7 live alone, 8 size unknown, 9 in a household of 6
    // of which only one member is in the area.
    for (i, size) in [4, 4, 4, 4, 2, 2, 1, 1, 0, 6].into_iter().enumerate() {
        p[i].household_size = size;
    }
    p[6].lives_alone = true;
    p[7].lives_alone = true;
    p[2].registered = false;
    p[3].registered = false;
    p[9].registered = false;
    p[2].key_groups = key_group::DRUG_USER;
    p[3].key_groups = key_group::DRUG_USER | key_group::RELEASED_FROM_PRISON;
    p
}

#[test]
fn structure_of_a_small_area() {
    let profile = PopulationProfile::of(AgeBasis::at(REF), &sample());
    let s = profile.finish(2.0);
    assert_eq!(s.residents, 10);
    assert_eq!(s.age_bands, [2, 3, 1, 2, 1]);
    assert_eq!(s.unknown_age, 1);
    assert_eq!(s.share_60_plus, Some(4.0 / 9.0));
    assert_eq!(s.share_65_plus, Some(3.0 / 9.0));
    assert_eq!((s.males, s.females), (5, 5));
    assert_eq!(s.sex_ratio, Some(100.0));
    assert_eq!((s.registered, s.floating), (7, 3));
    assert_eq!(s.registered_share, Some(0.7));
    assert_eq!(s.floating_share, Some(0.3));
    // households: 2 of size 1, 1 of size 2, 1 of size 4, 1/6 of a size-6 one.
    assert_eq!(s.households_by_size, [2.0, 1.0, 0.0, 1.0, 0.0, 1.0 / 6.0]);
    assert_eq!(s.households, 4.0 + 1.0 / 6.0);
    assert_eq!(s.mean_household_size, Some(9.0 / (4.0 + 1.0 / 6.0)));
    assert_eq!(s.unknown_household_size, 1);
    assert_eq!((s.elderly, s.elderly_alone), (3, 2));
    assert_eq!(s.elderly_alone_share, Some(2.0 / 3.0));
    assert_eq!(s.key_groups.persons, Some(2));
    assert_eq!(s.key_groups.by_group[0], Some(2));
    assert_eq!(s.key_groups.by_group[3], Some(1));
    assert_eq!(s.key_groups.by_group[1], Some(0));
    assert_eq!(s.density_per_km2, Some(5.0));
    assert_eq!(s.basis_mismatches, 0);

    // Elderly threshold is configurable: at 60, four persons are elderly.
    let s60 = PopulationProfile::of(
        AgeBasis {
            reference: REF,
            elderly_age: 60,
        },
        &sample(),
    )
    .finish(0.0);
    assert_eq!((s60.elderly, s60.elderly_alone), (4, 2));
    assert_eq!(s60.density_per_km2, None);
    assert_eq!(s60.area_km2, None);
}

#[test]
fn empty_area_has_no_ratios() {
    let s = PopulationProfile::new(AgeBasis::at(REF)).finish(f64::NAN);
    assert_eq!(s.residents, 0);
    assert_eq!(s.sex_ratio, None);
    assert_eq!(s.share_65_plus, None);
    assert_eq!(s.mean_household_size, None);
    assert_eq!(s.density_per_km2, None);
}

#[test]
fn sex_ratio_is_males_per_hundred_females() {
    let check = |males: usize, females: usize, expected: Option<f64>| {
        let mut people = vec![person(1990, 1, Sex::Male); males];
        people.extend(vec![person(1990, 1, Sex::Female); females]);
        let s = PopulationProfile::of(AgeBasis::at(REF), &people).finish(1.0);
        assert_eq!(s.sex_ratio, expected, "{males} m / {females} f");
    };
    check(105, 100, Some(105.0));
    check(1, 4, Some(25.0));
    check(3, 0, None);
}

#[test]
fn suppression_hides_small_key_group_counts() {
    let check = |count: u32, threshold: u32, expected: Option<u32>| {
        assert_eq!(
            suppress_small(count, threshold),
            expected,
            "{count} vs {threshold}"
        );
    };
    check(0, 5, None);
    check(4, 5, None);
    check(5, 5, Some(5));
    check(120, 5, Some(120));
    check(0, 0, Some(0));

    let mut people = vec![person(1980, 1, Sex::Male); 7];
    for p in &mut people[..6] {
        p.key_groups = key_group::DRUG_USER;
    }
    people[6].key_groups = key_group::SEVERE_MENTAL_DISORDER;
    let s = PopulationProfile::of(AgeBasis::at(REF), &people).finish(1.0);
    let sup = s.suppressed(KEY_GROUP_MIN_COUNT);
    assert_eq!(sup.key_groups.by_group[0], Some(6));
    assert_eq!(sup.key_groups.by_group[1], None);
    assert_eq!(sup.key_groups.by_group[4], None);
    assert_eq!(sup.key_groups.persons, Some(7));
    // Everything else is untouched.
    assert_eq!(sup.residents, s.residents);
    assert_eq!(sup.age_bands, s.age_bands);
    // The unsuppressed original keeps the exact values.
    assert_eq!(s.key_groups.by_group[1], Some(1));
}

#[test]
fn merging_profiles_of_different_bases_is_reported() {
    let a = PopulationProfile::of(AgeBasis::at(REF), &sample());
    let b = PopulationProfile::of(AgeBasis::at(YearMonth::new(2025, 1)), &sample());
    let merged = a.clone().merged(&b);
    assert_eq!(merged.residents, 20);
    assert_eq!(merged.finish(1.0).basis_mismatches, 1);
    assert_eq!(a.clone().merged(&a).finish(1.0).basis_mismatches, 0);
}

fn arb_person() -> impl Strategy<Value = PersonFacts> {
    (
        1900u16..2030,
        0u8..14,
        any::<bool>(),
        any::<bool>(),
        0u8..20,
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(|(by, bm, male, registered, hs, alone, kg)| PersonFacts {
            birth_year: by,
            birth_month: bm,
            sex: if male { Sex::Male } else { Sex::Female },
            registered,
            household_size: hs,
            lives_alone: alone,
            key_groups: kg,
        })
}

proptest! {
    /// profile(a ∪ b) == profile(a).merge(profile(b)), and merging is associative
    /// and commutative — exactly, because every counter is an integer.
    #[test]
    fn merge_is_exact_and_associative(
        a in prop::collection::vec(arb_person(), 0..40),
        b in prop::collection::vec(arb_person(), 0..40),
        c in prop::collection::vec(arb_person(), 0..40),
    ) {
        let basis = AgeBasis::at(REF);
        let pa = PopulationProfile::of(basis, &a);
        let pb = PopulationProfile::of(basis, &b);
        let pc = PopulationProfile::of(basis, &c);
        let all = PopulationProfile::of(basis, a.iter().chain(&b).chain(&c));
        let left = pa.clone().merged(&pb).merged(&pc);
        let right = pa.clone().merged(&pb.clone().merged(&pc));
        let swapped = pc.clone().merged(&pa).merged(&pb);
        prop_assert_eq!(&left, &all);
        prop_assert_eq!(&right, &all);
        prop_assert_eq!(&swapped, &all);
        prop_assert_eq!(left.finish(3.0), all.finish(3.0));
        let empty = PopulationProfile::new(basis);
        prop_assert_eq!(pa.clone().merged(&empty), pa);
    }

    /// The figures stay within their ranges for any input.
    #[test]
    fn figures_are_consistent(people in prop::collection::vec(arb_person(), 0..80)) {
        let s = PopulationProfile::of(AgeBasis::at(REF), &people).finish(1.5);
        prop_assert_eq!(s.age_bands.iter().sum::<u32>() + s.unknown_age, s.residents);
        prop_assert_eq!(s.males + s.females, s.residents);
        prop_assert_eq!(s.registered + s.floating, s.residents);
        prop_assert!(s.elderly_alone <= s.elderly);
        for share in [s.share_60_plus, s.share_65_plus, s.floating_share].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&share));
        }
        if let Some(mean) = s.mean_household_size {
            prop_assert!((1.0 - 1e-9..=15.0 + 1e-9).contains(&mean));
        }
    }
}
