//! Model 2: occupancy, rental share, over-crowding, mismatches, enterprises;
//! merge is exact and associative.

use minqing_analysis::housing::{
    CrowdingRule, EnterpriseFacts, EnterpriseSize, HousingProfile, Occupancy, UnitFacts,
    industry_index, industry_section,
};
use proptest::prelude::*;

fn unit(occupancy: Occupancy, residents: u16, floor_area_m2: f32) -> UnitFacts {
    UnitFacts {
        occupancy,
        residents,
        floor_area_m2,
    }
}

#[test]
fn crowding_rule_cases() {
    let default = CrowdingRule::default();
    let any_tenure = CrowdingRule {
        rented_only: false,
        ..CrowdingRule::default()
    };
    // (rule, unit, over-crowded?)
    let cases = [
        (default, unit(Occupancy::Rented, 6, 200.0), true), // 6 residents
        (default, unit(Occupancy::Rented, 5, 200.0), false),
        (default, unit(Occupancy::Rented, 5, 39.0), true), // 7.8 m² each
        (default, unit(Occupancy::Rented, 5, 40.0), false), // exactly 8 m² each
        (default, unit(Occupancy::Rented, 5, 0.0), false), // area unknown
        (default, unit(Occupancy::Rented, 5, f32::NAN), false),
        (default, unit(Occupancy::Owner, 9, 30.0), false), // owners never with rented_only
        (any_tenure, unit(Occupancy::Owner, 9, 30.0), true),
        (any_tenure, unit(Occupancy::Vacant, 0, 5.0), false), // nobody lives there
        (
            CrowdingRule {
                min_residents: 0,
                ..CrowdingRule::default()
            },
            unit(Occupancy::Rented, 20, 1000.0),
            false,
        ),
    ];
    for (rule, u, expected) in cases {
        assert_eq!(rule.is_overcrowded(&u), expected, "{rule:?} {u:?}");
    }
}

#[test]
fn structure_of_a_small_area() {
    let units = [
        unit(Occupancy::Owner, 3, 90.0),
        unit(Occupancy::Owner, 2, 60.0),
        unit(Occupancy::Owner, 4, 0.0),    // area unknown
        unit(Occupancy::Rented, 7, 100.0), // over-crowded by count
        unit(Occupancy::Rented, 3, 20.0),  // over-crowded by area
        unit(Occupancy::Rented, 1, 40.0),
        unit(Occupancy::Vacant, 0, 80.0),
        unit(Occupancy::Vacant, 2, 80.0), // mismatch
    ];
    let enterprises = [
        EnterpriseFacts {
            industry: 2, // C manufacturing
            size: EnterpriseSize::Small,
            employees: 40,
        },
        EnterpriseFacts {
            industry: 5, // F construction
            size: EnterpriseSize::Micro,
            employees: 5,
        },
        EnterpriseFacts {
            industry: 2,
            size: EnterpriseSize::Large,
            employees: 1200,
        },
        EnterpriseFacts {
            industry: 99, // not a section
            size: EnterpriseSize::Micro,
            employees: 2,
        },
    ];
    let mut p = HousingProfile::default();
    units.iter().for_each(|u| p.add_unit(u));
    enterprises.iter().for_each(|e| p.add_enterprise(e));
    let s = p.finish();
    assert_eq!(s.units, 8);
    assert_eq!((s.owner_occupied, s.rented, s.vacant), (3, 3, 2));
    assert_eq!(s.owner_share, Some(3.0 / 8.0));
    assert_eq!(s.rented_share, Some(3.0 / 8.0));
    assert_eq!(s.vacant_share, Some(0.25));
    assert_eq!(s.rental_share_of_occupied, Some(0.5));
    assert_eq!(s.residents, 22);
    assert_eq!((s.overcrowded_units, s.overcrowded_residents), (2, 10));
    assert_eq!(s.overcrowded_share_of_rented, Some(2.0 / 3.0));
    assert_eq!(s.unknown_area, 1);
    assert_eq!((s.mismatched_units, s.mismatched_residents), (1, 2));
    let e = &s.enterprises;
    assert_eq!(e.total, 4);
    assert_eq!(e.by_section[2], 2);
    assert_eq!(e.by_section[5], 1);
    assert_eq!(e.unknown_section, 1);
    assert_eq!(e.by_size, [2, 1, 0, 1]);
    assert_eq!(e.employees_by_size, [7, 40, 0, 1200]);
    assert_eq!(e.employees, 1247);
    assert_eq!(s.rule_mismatches, 0);
}

#[test]
fn empty_area_has_no_shares() {
    let s = HousingProfile::default().finish();
    assert_eq!(s.units, 0);
    assert_eq!(s.owner_share, None);
    assert_eq!(s.rental_share_of_occupied, None);
    assert_eq!(s.enterprises.total, 0);
}

#[test]
fn industry_sections() {
    assert_eq!(industry_section(0), Some('A'));
    assert_eq!(industry_section(2), Some('C'));
    assert_eq!(industry_section(19), Some('T'));
    assert_eq!(industry_section(20), None);
    assert_eq!(industry_index('c'), Some(2));
    assert_eq!(industry_index('T'), Some(19));
    assert_eq!(industry_index('U'), None);
}

#[test]
fn merging_different_rules_is_reported() {
    let a = HousingProfile::default();
    let b = HousingProfile::new(CrowdingRule {
        min_residents: 4,
        ..CrowdingRule::default()
    });
    assert_eq!(a.clone().merged(&b).finish().rule_mismatches, 1);
    assert_eq!(a.clone().merged(&a).finish().rule_mismatches, 0);
}

fn arb_unit() -> impl Strategy<Value = UnitFacts> {
    (0u8..3, 0u16..12, prop_oneof![Just(0.0f32), 1.0f32..300.0]).prop_map(|(o, r, a)| UnitFacts {
        occupancy: [Occupancy::Owner, Occupancy::Rented, Occupancy::Vacant][usize::from(o)],
        residents: r,
        floor_area_m2: a,
    })
}

fn arb_enterprise() -> impl Strategy<Value = EnterpriseFacts> {
    (0u8..25, 0usize..4, 0u32..5000).prop_map(|(i, s, e)| EnterpriseFacts {
        industry: i,
        size: EnterpriseSize::ALL[s],
        employees: e,
    })
}

fn profile(units: &[UnitFacts], enterprises: &[EnterpriseFacts]) -> HousingProfile {
    let mut p = HousingProfile::default();
    units.iter().for_each(|u| p.add_unit(u));
    enterprises.iter().for_each(|e| p.add_enterprise(e));
    p
}

proptest! {
    #[test]
    fn merge_is_exact_and_associative(
        ua in prop::collection::vec(arb_unit(), 0..30),
        ub in prop::collection::vec(arb_unit(), 0..30),
        uc in prop::collection::vec(arb_unit(), 0..30),
        ea in prop::collection::vec(arb_enterprise(), 0..10),
        eb in prop::collection::vec(arb_enterprise(), 0..10),
    ) {
        let (pa, pb, pc) = (profile(&ua, &ea), profile(&ub, &eb), profile(&uc, &[]));
        let units: Vec<UnitFacts> = ua.iter().chain(&ub).chain(&uc).copied().collect();
        let ents: Vec<EnterpriseFacts> = ea.iter().chain(&eb).copied().collect();
        let all = profile(&units, &ents);
        let left = pa.clone().merged(&pb).merged(&pc);
        let right = pa.clone().merged(&pb.clone().merged(&pc));
        prop_assert_eq!(&left, &all);
        prop_assert_eq!(&right, &all);
        prop_assert_eq!(left.finish(), all.finish());
    }
}
