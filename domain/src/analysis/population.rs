//! Models 1 and 2: population structure, housing and enterprises per area or polygon.

use super::*;

pub(crate) fn json_opt_f(x: Option<f64>) -> serde_json::Value {
    x.filter(|v| v.is_finite())
        .map_or(serde_json::Value::Null, Into::into)
}

/// The wire form of a population profile, key-group counts below 5 suppressed
/// (omitted).
pub fn population_json(profile: &PopulationProfile, area_km2: f64) -> serde_json::Value {
    use minqing_analysis::population::AGE_BAND_LABELS;
    let s = profile.finish(area_km2).suppressed(KEY_GROUP_MIN);
    let mut groups = serde_json::Map::new();
    for (i, name) in crate::model::KEY_GROUPS.iter().enumerate() {
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
pub fn buildings_in_polygon(ix: &Index, polygon: &geo_types::MultiPolygon<f64>) -> Vec<u32> {
    let Some(r) = polygon.bounding_rect() else {
        return Vec::new();
    };
    let env = rstar::AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
    ix.building_tree
        .locate_in_envelope(&env)
        .filter(|e| polygon.contains(&geo_types::Point::new(e.geom()[0], e.geom()[1])))
        .map(|e| e.data)
        .collect()
}

/// Equirectangular area in km² (as the index computes area sizes).
pub fn polygon_km2(polygon: &geo_types::MultiPolygon<f64>) -> f64 {
    use geo::Area;
    let lat = polygon.bounding_rect().map_or(31.0, |r| r.center().y);
    polygon.unsigned_area() * 111.32 * 110.574 * lat.to_radians().cos()
}

/// Population profile of a drawn polygon (the server's code path, without HTTP).
pub fn population_of_polygon(
    register: &RegisterModels,
    ix: &Index,
    polygon: &geo_types::MultiPolygon<f64>,
) -> (PopulationProfile, HousingProfile, usize) {
    let buildings = buildings_in_polygon(ix, polygon);
    let mut pop = PopulationProfile::new(AgeBasis::at(register.reference));
    let mut housing = HousingProfile::new(
        register
            .building_housing
            .first()
            .map_or_else(CrowdingRule::default, HousingProfile::rule),
    );
    for &b in &buildings {
        pop.merge(&register.building_population[b as usize]);
        housing.merge(&register.building_housing[b as usize]);
    }
    (pop, housing, buildings.len())
}
