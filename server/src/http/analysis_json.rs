//! The wire form of the register models and the risk explanation: the HTTP crate's
//! rendering of the domain's results (the domain keeps no JSON for them).

use minqing_analysis::housing::HousingProfile;
use minqing_analysis::population::PopulationProfile;
use minqing_domain::analysis::{KEY_GROUP_MIN, RiskUnit};

/// A JSON number, or null for a value that has none (NaN, no data).
fn json_opt_f(x: Option<f64>) -> serde_json::Value {
    x.filter(|v| v.is_finite())
        .map_or(serde_json::Value::Null, serde_json::Value::from)
}

/// The wire form of a population profile, key-group counts below 5 suppressed
/// (omitted).
pub fn population_json(profile: &PopulationProfile, area_km2: f64) -> serde_json::Value {
    use minqing_analysis::population::AGE_BAND_LABELS;
    let s = profile.finish(area_km2).suppressed(KEY_GROUP_MIN);
    let mut groups = serde_json::Map::new();
    for (i, name) in minqing_domain::model::KEY_GROUPS.iter().enumerate() {
        if let Some(c) = s.key_groups.by_group[i] {
            groups.insert((*name).into(), c.into());
        }
    }
    let mut key_groups = serde_json::Map::new();
    if let Some(p) = s.key_groups.persons {
        key_groups.insert("persons".into(), p.into());
    }
    key_groups.insert("by_group".into(), groups.into());
    key_groups.insert(
        "suppression".into(),
        format!("counts below {KEY_GROUP_MIN} are omitted").into(),
    );
    let age_bands: serde_json::Map<String, serde_json::Value> = AGE_BAND_LABELS
        .iter()
        .zip(s.age_bands)
        .map(|(l, c)| ((*l).to_string(), c.into()))
        .collect();
    let households: serde_json::Map<String, serde_json::Value> = ["1", "2", "3", "4", "5", "6+"]
        .iter()
        .zip(s.households_by_size)
        .map(|(l, c)| ((*l).to_string(), c.into()))
        .collect();
    serde_json::json!({
        "residents": s.residents,
        "area_km2": json_opt_f(s.area_km2),
        "density_per_km2": json_opt_f(s.density_per_km2),
        "age_bands": age_bands,
        "unknown_age": s.unknown_age,
        "share_60_plus": json_opt_f(s.share_60_plus),
        "share_65_plus": json_opt_f(s.share_65_plus),
        "males": s.males,
        "females": s.females,
        "sex_ratio": json_opt_f(s.sex_ratio),
        "registered": s.registered,
        "floating": s.floating,
        "registered_share": json_opt_f(s.registered_share),
        "floating_share": json_opt_f(s.floating_share),
        "households": s.households,
        "households_by_size": households,
        "mean_household_size": json_opt_f(s.mean_household_size),
        "unknown_household_size": s.unknown_household_size,
        "elderly_age": s.elderly_age,
        "elderly": s.elderly,
        "elderly_alone": s.elderly_alone,
        "elderly_alone_share": json_opt_f(s.elderly_alone_share),
        "key_groups": key_groups,
        "reference_month": format!("{:04}-{:02}", s.reference.year, s.reference.month),
        "household_rule": "household size = residents registered at the person's unit; living alone = sole resident of the unit",
    })
}

/// The wire form of a housing profile.
pub fn housing_json(profile: &HousingProfile) -> serde_json::Value {
    use minqing_analysis::housing::INDUSTRY_SECTIONS;
    let h = profile.finish();
    let rule = profile.rule();
    let by_industry: serde_json::Map<String, serde_json::Value> = INDUSTRY_SECTIONS
        .iter()
        .zip(h.enterprises.by_section)
        .filter(|(_, c)| *c > 0)
        .map(|(s, c)| (s.to_string(), c.into()))
        .collect();
    let names = ["micro", "small", "medium", "large"];
    let by_size: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(h.enterprises.by_size)
        .map(|(s, c)| ((*s).to_string(), c.into()))
        .collect();
    let employees_by_size: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(h.enterprises.employees_by_size)
        .map(|(s, c)| ((*s).to_string(), c.into()))
        .collect();
    serde_json::json!({
        "units": h.units,
        "owner_occupied": h.owner_occupied,
        "rented": h.rented,
        "vacant": h.vacant,
        "owner_share": json_opt_f(h.owner_share),
        "rented_share": json_opt_f(h.rented_share),
        "vacant_share": json_opt_f(h.vacant_share),
        "rental_share_of_occupied": json_opt_f(h.rental_share_of_occupied),
        "residents": h.residents,
        "overcrowded_units": h.overcrowded_units,
        "overcrowded_residents": h.overcrowded_residents,
        "overcrowded_share_of_rented": json_opt_f(h.overcrowded_share_of_rented),
        "overcrowding_rule": {
            "min_residents": rule.min_residents,
            "min_area_per_person_m2": rule.min_area_per_person_m2,
            "rented_only": rule.rented_only,
        },
        "unknown_area": h.unknown_area,
        "mismatched_units": h.mismatched_units,
        "mismatched_residents": h.mismatched_residents,
        "enterprises": {
            "total": h.enterprises.total,
            "by_industry": by_industry,
            "unknown_industry": h.enterprises.unknown_section,
            "by_size": by_size,
            "employees": h.enterprises.employees,
            "employees_by_size": employees_by_size,
        },
    })
}

/// Buildings whose point lies in `polygon` (R-tree on its box, then point-in-polygon).
/// The factors of one score as the API shows them: the key-group factor's `raw` and
/// `normalised` values are omitted when fewer than 5 key-group persons underlie them.
pub fn factors_json(unit: &RiskUnit) -> serde_json::Value {
    use minqing_analysis::risk::Factor;
    let suppressed = unit.inputs.key_group_persons < KEY_GROUP_MIN;
    unit.score
        .factors
        .iter()
        .map(|f| {
            let mut o = serde_json::Map::new();
            o.insert("factor".into(), f.factor.name().into());
            let hide = suppressed && f.factor == Factor::KeyGroupDensity;
            if hide {
                o.insert(
                    "suppressed".into(),
                    format!("fewer than {KEY_GROUP_MIN} key-group persons").into(),
                );
            } else {
                o.insert("raw".into(), f.raw.into());
                o.insert("normalised".into(), f.normalised.into());
            }
            o.insert("reference".into(), f.reference.into());
            o.insert("weight".into(), f.weight.into());
            o.insert("contribution".into(), f.contribution.into());
            serde_json::Value::Object(o)
        })
        .collect()
}
