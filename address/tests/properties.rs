//! Property tests: parsing, normalising and matching never panic, normalisation is
//! idempotent, and canonical labels parse back to their own parts.

mod common;

use minqing_address::{AddressParts, noisy_label, normalize, parse};
use proptest::prelude::*;
use rand::SeedableRng;
use std::sync::OnceLock;

fn register() -> &'static (common::Synthetic, minqing_address::Register) {
    static REG: OnceLock<(common::Synthetic, minqing_address::Register)> = OnceLock::new();
    REG.get_or_init(|| {
        let syn = common::build(common::Spec::small(), 7);
        let reg = syn.register();
        (syn, reg)
    })
}

/// Strings biased towards address material: markers, numerals, traditional and
/// full-width characters, dashes and punctuation, mixed with arbitrary text.
fn addressy() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "号",
        "栋",
        "幢",
        "号楼",
        "单元",
        "门",
        "室",
        "户",
        "组",
        "楼",
        "层",
        "楼下",
        "门口",
        "附近",
        "十",
        "百",
        "千",
        "零",
        "〇",
        "两",
        "一",
        "二",
        "九",
        "第",
        "-",
        "－",
        "—",
        "，",
        " ",
        "１",
        "0",
        "7",
        "99999999999",
        "號",
        "單",
        "園",
        "區",
        "街道",
        "镇",
        "社区",
        "村",
        "路",
        "小区",
        "花园",
        "锦绣",
        "四川省",
        "德阳",
        "旌阳",
        "旌阳区",
        "a",
        "\u{0}",
        "😀",
        "\u{3000}",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalize_is_idempotent(s in addressy()) {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once.clone());
    }

    #[test]
    fn parse_and_match_never_panic(s in addressy()) {
        let p = parse(&s);
        let _ = p.to_label();
        let (_, reg) = register();
        let r = reg.match_address(&s);
        prop_assert!((0.0..=1.0).contains(&r.confidence));
        prop_assert!(r.code.is_none() || r.building.is_some());
        let _ = reg.search(&s, 5);
    }

    #[test]
    fn parsing_a_parsed_noisy_label_changes_nothing(seed in any::<u64>()) {
        // The parse of a noisy register address, rendered canonically and parsed
        // again, gives the same parts: parse ∘ to_label is idempotent on address text.
        let (syn, _) = register();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let i = (seed % syn.units.len() as u64) as usize;
        let text = noisy_label(&syn.unit_parts(&syn.units[i]), &mut rng);
        let once = parse(&text).to_label();
        let twice = parse(&once).to_label();
        prop_assert_eq!(twice, once, "{}", text);
    }

    #[test]
    fn register_labels_parse_to_their_parts(seed in any::<u64>()) {
        let (syn, _) = register();
        let i = (seed % syn.units.len() as u64) as usize;
        let parts = syn.unit_parts(&syn.units[i]);
        let p = parse(&parts.canonical_label());
        let back = AddressParts {
            township: p.township.clone().unwrap_or_default(),
            community: p.community.clone().unwrap_or_default(),
            road: p.road.clone(),
            door: p.door,
            compound: p.compound.clone(),
            building: p.building,
            unit: p.unit,
            room: p.room,
            group: p.group,
            house: p.house,
        };
        prop_assert_eq!(back, parts);
    }

    #[test]
    fn noisy_labels_never_confidently_mislead(seed in any::<u64>()) {
        let (syn, reg) = register();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let i = (seed % syn.units.len() as u64) as usize;
        let u = &syn.units[i];
        let text = noisy_label(&syn.unit_parts(u), &mut rng);
        let r = reg.match_address(&text);
        if r.confidence >= 0.9 {
            prop_assert_eq!(r.building, Some(u.building), "{}", text);
        }
    }
}
