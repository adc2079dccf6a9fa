//! The wire form of the register models, the risk explanation and model 5: the HTTP crate's
//! rendering of the domain's results (the domain keeps no JSON for them).

use minqing_analysis::housing::HousingProfile;
use minqing_analysis::population::PopulationProfile;
use minqing_domain::analysis::{Efficiency, KEY_GROUP_MIN, RiskUnit, category_name};

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

/// The wire form of a count's change between two windows.
fn change_json(c: &minqing_analysis::efficiency::Change) -> serde_json::Value {
    serde_json::json!({
        "current": c.current,
        "previous": c.previous,
        "relative": json_opt_f(c.relative),
    })
}

/// The wire form of a comparison of two windows (each window's last day inclusive).
fn comparison_json(c: &minqing_analysis::efficiency::Comparison) -> serde_json::Value {
    use minqing_domain::time::format_date;
    let by_category: serde_json::Map<String, serde_json::Value> = c
        .by_category
        .iter()
        .map(|cc| {
            (
                category_name(cc.category).to_string(),
                change_json(&cc.change),
            )
        })
        .collect();
    serde_json::json!({
        "current": {"from": format_date(c.current.from), "to": format_date(c.current.to - 1)},
        "previous": {"from": format_date(c.previous.from), "to": format_date(c.previous.to - 1)},
        "total": change_json(&c.total),
        "by_category": by_category,
    })
}

/// The wire form of model 5 (closed-loop efficiency).
pub fn efficiency_json(e: &Efficiency) -> serde_json::Value {
    use minqing_domain::time::format_date;
    let r = &e.report;
    let workload: Vec<serde_json::Value> = e
        .workload
        .iter()
        .map(|w| {
            serde_json::json!({
                "grid": w.grid,
                "open": w.open,
                "handled": w.handled,
                "overdue_open": w.overdue_open,
            })
        })
        .collect();
    let by_category: Vec<serde_json::Value> = r
        .by_category
        .iter()
        .map(|c| {
            serde_json::json!({
                "category": category_name(c.category),
                "events": c.events,
                "closed": c.closed,
            })
        })
        .collect();
    let by_area: Vec<serde_json::Value> = e
        .by_area
        .iter()
        .map(|a| {
            serde_json::json!({
                "code": a.code,
                "name": a.name,
                "year_on_year": comparison_json(&a.year_on_year),
                "month_on_month": comparison_json(&a.month_on_month),
            })
        })
        .collect();
    let anomalous: Vec<serde_json::Value> = e
        .anomalous_weeks
        .iter()
        .map(|w| {
            serde_json::json!({
                "week": format_date(w.start),
                "observed": w.observed,
                "baseline": w.baseline,
                "p": w.p,
                "p_adjusted": w.p_adjusted,
            })
        })
        .collect();
    let handling = r.handling.map(|h| {
        serde_json::json!({
            "count": h.count,
            "mean_hours": h.mean_hours,
            "median_hours": h.median_hours,
            "p90_hours": h.p90_hours,
        })
    });
    serde_json::json!({
        "area": {"code": e.area.code, "name": e.area.name, "level": e.area.level.as_str()},
        "window": {"from": format_date(e.window.from), "to": format_date(e.window.to - 1), "timezone": "UTC+8"},
        "now": e.now,
        "events": r.events,
        "closed": r.closed,
        "open": r.open,
        "closure_rate": json_opt_f(r.closure_rate),
        "by_category": by_category,
        "disputes": r.disputes,
        "disputes_closed": r.disputes_closed,
        "disputes_mediated": r.disputes_mediated,
        "disputes_diverted": r.disputes_diverted,
        "mediation_rate": json_opt_f(r.mediation_rate_of_disputes),
        "mediation_rate_of_closed": json_opt_f(r.mediation_rate_of_closed),
        "handling_time": handling,
        "overdue": {
            "total": r.overdue,
            "open_overdue": r.overdue_open,
            "closed_late": r.closed_late,
        },
        "workload": {
            "unit": "grid (the events carry no worker id; each grid's events are its worker's load)",
            "grids": workload,
            "unassigned": r.unassigned,
        },
        "year_on_year": comparison_json(&e.year_on_year),
        "month_on_month": comparison_json(&e.month_on_month),
        "by_area": by_area,
        "anomalous_weeks": {
            "method": "Poisson upper tail against the mean of the previous 8 weeks (rate floored), Benjamini-Hochberg across the weeks tested, alpha 0.05",
            "tested": e.weeks_tested,
            "weeks": anomalous,
        },
        "inconsistent": r.inconsistent,
    })
}
