//! The synthetic district: determinism, exact figures, valid identifiers, and area
//! polygons that tile the district.

use crate::support::{SEED, district, district_until, until};
use geo::{Area, BooleanOps, Contains};
use minqing_domain::ids::{is_valid_credit_code, is_valid_id_number};
use std::collections::BTreeMap;

fn file_bytes(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["", "truth"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.insert(
                    format!("{sub}/{}", p.file_name().unwrap().to_string_lossy()),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn same_seed_and_scale_give_the_same_bytes() {
    let (_a, da, ma) = district(0.01);
    let (_b, db, mb) = district(0.01);
    assert_eq!(ma, mb);
    let (fa, fb) = (file_bytes(&da), file_bytes(&db));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between two runs");
    }
    let other = minqing_domain::generate::generate_until(
        &_b.path().join("other"),
        0.01,
        SEED + 1,
        until(),
        &|_| {},
    )
    .unwrap();
    assert_ne!(
        other.planted_hotspots, ma.planted_hotspots,
        "another seed gives another district"
    );
}

#[test]
fn figures_are_exact_at_scale() {
    for scale in [0.01, 0.03] {
        let (_t, dir, m) = district(scale);
        let r = |x: f64| (x * scale).round() as usize;
        assert_eq!(m.building_addresses, r(122_000.0), "buildings at {scale}");
        assert_eq!(m.unit_addresses, r(327_000.0), "units at {scale}");
        assert_eq!(m.residents, r(627_000.0), "residents at {scale}");
        assert_eq!(m.housing_units, r(327_000.0));
        assert_eq!(m.enterprises, r(18_000.0));
        assert_eq!(m.community_grids, r(331.0).max(1));
        assert!(m.grids > m.community_grids, "rural village grids exist too");
        assert_eq!(m.events_2024, r(12_151.0));
        assert_eq!(
            m.closed_2024,
            (0.9686_f64 * m.events_2024 as f64).round() as usize
        );
        assert_eq!(
            m.disputes_mediated_2024,
            (0.6369_f64 * m.disputes_2024 as f64).round() as usize
        );
        let yoy = m.disputes_2024 as f64 / m.disputes_2023 as f64 - 1.0;
        assert!((yoy + 0.18).abs() < 0.02, "disputes year on year {yoy:.3}");
        // The files agree with the manifest.
        let rows = |f: &str| {
            csv::Reader::from_path(dir.join(f))
                .unwrap()
                .byte_records()
                .count()
        };
        assert_eq!(rows("buildings.csv"), m.building_addresses);
        assert_eq!(rows("units.csv"), m.unit_addresses);
        assert_eq!(rows("housing.csv"), m.housing_units);
        assert_eq!(rows("enterprises.csv"), m.enterprises);
        assert_eq!(rows("events.csv"), m.events);
        assert_eq!(
            rows("residents.csv") + rows("residents-gbk.csv"),
            m.residents
        );
    }
}

/// The rows of a CSV file (without its header), as strings.
fn csv_rows(path: &std::path::Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Extending the events to the present leaves the seed years' events, their history
/// and every other file exactly as they were: the later years draw from their own
/// random stream.
#[test]
fn the_later_years_leave_the_seed_years_unchanged() {
    let seed_only = minqing_domain::time::parse_date("2025-01-01").unwrap();
    let (_a, da, ma) = district_until(0.01, seed_only);
    let (_b, db, mb) = district_until(0.01, until());
    assert_eq!(ma.events_later, 0, "a present of 2025-01-01 adds nothing");
    assert!(mb.events_later > 0);
    assert_eq!(mb.events, ma.events + mb.events_later);
    for (a, b) in [
        (ma.events_2023, mb.events_2023),
        (ma.events_2024, mb.events_2024),
        (ma.closed_2024, mb.closed_2024),
        (ma.disputes_2023, mb.disputes_2023),
        (ma.disputes_2024, mb.disputes_2024),
        (ma.disputes_mediated_2024, mb.disputes_mediated_2024),
        (ma.key_group_entries, mb.key_group_entries),
    ] {
        assert_eq!(a, b);
    }
    assert!(mb.patrols > ma.patrols, "the patrols run on to the present");
    let (fa, fb) = (file_bytes(&da), file_bytes(&db));
    for (name, bytes) in &fa {
        // Residents' birth dates (and the ID numbers holding them) are drawn at the
        // generator's present, so that the census age structure holds on the day the
        // district is shown (people.rs); everything else is the same.
        if name.ends_with("manifest.json")
            || name.ends_with("events.csv")
            || name.ends_with("event_steps.csv")
            || name.contains("/residents")
            || name.ends_with("patrols.geojson")
            || name.contains("/key_group")
        {
            continue;
        }
        assert!(bytes == &fb[name], "{name} changed with the later years");
    }
    let (ea, eb) = (
        csv_rows(&da.join("events.csv")),
        csv_rows(&db.join("events.csv")),
    );
    assert_eq!(
        &eb[..ea.len()],
        &ea[..],
        "the seed years' events are unchanged"
    );
    let (sa, sb) = (
        csv_rows(&da.join("event_steps.csv")),
        csv_rows(&db.join("event_steps.csv")),
    );
    assert_eq!(
        &sb[..sa.len()],
        &sa[..],
        "the seed years' history is unchanged"
    );
    // The patrols: the seed years' features first, unchanged, then the later years'.
    let features = |dir: &std::path::Path| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join("patrols.geojson")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["features"].as_array().unwrap().clone()
    };
    let (pa, pb) = (features(&da), features(&db));
    assert_eq!(
        &pb[..pa.len()],
        &pa[..],
        "the seed years' patrols are unchanged"
    );
    let y2025 = minqing_domain::generate::events::Y2025;
    assert!(
        pa.iter()
            .all(|f| f["properties"]["started_at"].as_i64().unwrap() < y2025)
    );
    assert!(
        pb[pa.len()..]
            .iter()
            .all(|f| f["properties"]["started_at"].as_i64().unwrap() >= y2025)
    );
    // The key-group follow-ups: the seed years' visits unchanged, the entries the same
    // but for their last visit and version (the record goes on).
    let (va, vb) = (
        csv_rows(&da.join("key_group_visits.csv")),
        csv_rows(&db.join("key_group_visits.csv")),
    );
    let seed_ids: std::collections::HashSet<&str> = va.iter().map(|r| &r[0]).collect();
    let (seed_visits, later_visits): (Vec<&csv::StringRecord>, Vec<&csv::StringRecord>) =
        vb.iter().partition(|r| seed_ids.contains(&r[0]));
    assert_eq!(seed_visits, va.iter().collect::<Vec<_>>());
    assert!(!later_visits.is_empty());
    assert!(
        later_visits
            .iter()
            .all(|r| r[2].parse::<i64>().unwrap() >= y2025)
    );
    let (ka, kb) = (
        csv_rows(&da.join("key_groups.csv")),
        csv_rows(&db.join("key_groups.csv")),
    );
    assert_eq!(ka.len(), kb.len());
    for (a, b) in ka.iter().zip(&kb) {
        assert_eq!(
            a.iter().take(9).collect::<Vec<_>>(),
            b.iter().take(9).collect::<Vec<_>>()
        );
    }
}

/// The later years continue at 2024's level and mix up to the present: about 2024's
/// count per year, no report or step after the present, 3.14 % of the last twelve
/// months' matters open (most of them recent), codes numbered per year.
#[test]
fn the_later_years_continue_up_to_the_present() {
    let (_t, dir, m) = district(0.05);
    assert_eq!(m.until, crate::support::UNTIL);
    let present = minqing_domain::time::day_start(until()).unwrap();
    let y2025 = minqing_domain::generate::events::Y2025;
    let y2026 =
        minqing_domain::time::day_start(minqing_domain::time::parse_date("2026-01-01").unwrap())
            .unwrap();
    let rows = csv_rows(&dir.join("events.csv"));
    let header = csv::Reader::from_path(dir.join("events.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (code, category, status, reported) = (
        col("code"),
        col("category"),
        col("status"),
        col("reported_at"),
    );
    let later: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| r[reported].parse::<i64>().unwrap() >= y2025)
        .collect();
    assert_eq!(later.len(), m.events_later);
    let at = |r: &csv::StringRecord| r[reported].parse::<i64>().unwrap();
    assert!(
        later.iter().all(|r| at(r) < present),
        "no report after the present"
    );
    // 2025, a whole year: 2024's count within rounding, its category mix.
    let y25: Vec<_> = later.iter().filter(|r| at(r) < y2026).collect();
    let diff = y25.len() as f64 / m.events_2024 as f64 - 1.0;
    assert!(
        diff.abs() < 0.01,
        "2025 has {} events, 2024 {}",
        y25.len(),
        m.events_2024
    );
    let disputes = y25.iter().filter(|r| &r[category] == "dispute").count();
    let share = disputes as f64 / y25.len() as f64;
    assert!(
        (share - 0.52).abs() < 0.01,
        "disputes are {share:.3} of 2025"
    );
    // Codes: numbered on per year, unique.
    assert!(y25.iter().all(|r| r[code].starts_with("5106032025")));
    let mut codes: Vec<&str> = rows.iter().map(|r| &r[code]).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), rows.len(), "event codes are unique");
    // Open matters: the seed's share of the last twelve months, most of them recent.
    let open: Vec<_> = later
        .iter()
        .filter(|r| ["accepted", "mediating", "resolved", "diverted"].contains(&&r[status]))
        .collect();
    let recent = later
        .iter()
        .filter(|r| at(r) >= present - 365 * 86_400)
        .count();
    assert_eq!(
        open.len(),
        recent - (0.9686 * recent as f64).round() as usize
    );
    let within_90_days = open
        .iter()
        .filter(|r| at(r) >= present - 90 * 86_400)
        .count();
    assert!(
        within_90_days * 2 > open.len(),
        "{within_90_days} of {} open matters are from the last 90 days",
        open.len()
    );
    // No step after the present, and each event's history in order.
    let steps = csv_rows(&dir.join("event_steps.csv"));
    let sheader = csv::Reader::from_path(dir.join("event_steps.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let scol = |name: &str| sheader.iter().position(|h| h == name).unwrap();
    let (s_code, s_at) = (scol("event_code"), scol("at"));
    let mut last: Option<(&str, i64)> = None;
    for s in steps
        .iter()
        .filter(|s| !s[s_code].starts_with("5106032023") && !s[s_code].starts_with("5106032024"))
    {
        let t: i64 = s[s_at].parse().unwrap();
        assert!(t < present, "step of {} after the present", &s[s_code]);
        if let Some((c, prev)) = last
            && c == &s[s_code]
        {
            assert!(t >= prev, "{c}: history out of order");
        }
        last = Some((&s[s_code], t));
    }
}

#[test]
fn identifiers_carry_valid_check_characters_and_gbk_is_gbk() {
    let (_t, dir, _) = district(0.01);
    let mut n = 0;
    let mut ids = std::collections::HashSet::new();
    let utf8 = std::fs::read(dir.join("residents.csv")).unwrap();
    let gbk = std::fs::read(dir.join("residents-gbk.csv")).unwrap();
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the GBK file is not UTF-8"
    );
    let (gbk_text, _, bad) = encoding_rs::GB18030.decode(&gbk);
    assert!(!bad);
    for text in [String::from_utf8(utf8).unwrap(), gbk_text.into_owned()] {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for rec in rdr.records() {
            let rec = rec.unwrap();
            let id = &rec[4];
            assert!(is_valid_id_number(id), "{id}");
            assert!(ids.insert(id.to_string()), "ID number {id} repeated");
            assert_eq!(
                &id[6..14],
                rec[3].replace('-', ""),
                "birth date inside the ID number"
            );
            n += 1;
        }
    }
    assert!(n > 0);
    let mut rdr = csv::Reader::from_path(dir.join("enterprises.csv")).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        assert!(is_valid_credit_code(&rec[2]), "{}", &rec[2]);
    }
}

fn areas(dir: &std::path::Path) -> Vec<(String, String, geo_types::MultiPolygon<f64>)> {
    let text = std::fs::read_to_string(dir.join("areas.geojson")).unwrap();
    let fc: geojson::FeatureCollection = text.parse().unwrap();
    fc.features
        .into_iter()
        .map(|f| {
            let level = f.property("level").unwrap().as_str().unwrap().to_string();
            let code = f.property("code").unwrap().as_str().unwrap().to_string();
            let g: geo_types::Geometry<f64> = f.geometry.unwrap().try_into().unwrap();
            let mp = match g {
                geo_types::Geometry::MultiPolygon(mp) => mp,
                other => panic!("area {code} is {other:?}"),
            };
            (level, code, mp)
        })
        .collect()
}

#[test]
fn areas_tile_the_district_without_gaps_or_overlaps() {
    let (_t, dir, m) = district(0.03);
    let all = areas(&dir);
    let district = &all.iter().find(|a| a.0 == "district").unwrap().2;
    let total = district.unsigned_area();
    for level in ["township", "community", "grid"] {
        let polys: Vec<_> = all.iter().filter(|a| a.0 == level).collect();
        let sum: f64 = polys.iter().map(|a| a.2.unsigned_area()).sum();
        assert!(
            (sum - total).abs() / total < 1e-9,
            "{level} areas sum to the district ({sum} vs {total})"
        );
        let union = polys
            .iter()
            .fold(geo_types::MultiPolygon::<f64>::new(vec![]), |acc, a| {
                acc.union(&a.2)
            });
        assert!(
            (union.unsigned_area() - total).abs() / total < 1e-6,
            "{level} union covers the district"
        );
        // Equal sums and a covering union leave no room for overlaps; check a few pairs directly too.
        for w in polys.windows(2).take(20) {
            let overlap = w[0].2.intersection(&w[1].2).unsigned_area();
            assert!(overlap / total < 1e-9, "{} and {} overlap", w[0].1, w[1].1);
        }
    }
    assert_eq!(all.iter().filter(|a| a.0 == "grid").count(), m.grids);
    // Every building lies in the grid its code names.
    let grids: std::collections::HashMap<_, _> = all
        .iter()
        .filter(|a| a.0 == "grid")
        .map(|a| (a.1.clone(), &a.2))
        .collect();
    let mut rdr = csv::Reader::from_path(dir.join("buildings.csv")).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let p = geo_types::Point::new(
            rec[11].parse::<f64>().unwrap(),
            rec[12].parse::<f64>().unwrap(),
        );
        let grid = &rec[2];
        assert!(rec[0].starts_with(grid));
        assert!(
            grids[grid].contains(&p) || district.contains(&p),
            "building {} outside its grid",
            &rec[0]
        );
        assert!(
            grids[grid].contains(&p),
            "building {} not inside grid {grid}",
            &rec[0]
        );
    }
}

/// The residents' age and sex structure is the census's (people.rs cites the figures):
/// every band within one percentage point, computed from the files a centre imports.
#[test]
fn residents_follow_the_census_age_and_sex_structure() {
    use minqing_domain::generate::people::census;
    let (_t, dir, m) = district(0.05);
    // Ages as of the generator's present (the year of `until`).
    let present: i32 = m.until[..4].parse().unwrap();
    let gbk = std::fs::read(dir.join("residents-gbk.csv")).unwrap();
    let (gbk_text, _, _) = encoding_rs::GB18030.decode(&gbk);
    let utf8 = std::fs::read_to_string(dir.join("residents.csv")).unwrap();
    let (mut n, mut male) = (0usize, 0usize);
    let mut bands = [0usize; 5]; // 0–14, 15–59, 60+, 65+, 80+
    let mut household_sizes: BTreeMap<String, (usize, i32)> = BTreeMap::new();
    for text in [utf8, gbk_text.into_owned()] {
        for rec in csv::Reader::from_reader(text.as_bytes()).records() {
            let rec = rec.unwrap();
            let age = present - rec[3][..4].parse::<i32>().unwrap();
            n += 1;
            male += usize::from(&rec[2] == "M");
            match age {
                ..=14 => bands[0] += 1,
                15..=59 => bands[1] += 1,
                _ => bands[2] += 1,
            }
            bands[3] += usize::from(age >= 65);
            bands[4] += usize::from(age >= 80);
            let h = household_sizes
                .entry(rec[7].to_string())
                .or_insert((0, age));
            h.0 += 1;
        }
    }
    assert_eq!(n, m.residents);
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    for (what, got, want) in [
        ("0–14", pct(bands[0]), census::AGED_0_14),
        ("15–59", pct(bands[1]), census::AGED_15_59),
        ("60+", pct(bands[2]), census::AGED_60_PLUS),
        ("65+", pct(bands[3]), census::AGED_65_PLUS),
        ("80+", pct(bands[4]), census::AGED_80_PLUS),
        (
            "male",
            pct(male),
            100.0 * census::SEX_RATIO / (100.0 + census::SEX_RATIO),
        ),
    ] {
        assert!(
            (got - want).abs() <= 1.0,
            "{what}: {got:.2}% against the census's {want:.2}%"
        );
    }
    // Elderly people living alone exist, but are a minority of the elderly.
    let elderly_alone = household_sizes
        .values()
        .filter(|&&(size, age)| size == 1 && age >= 65)
        .count();
    let alone_share = elderly_alone as f64 / bands[3] as f64;
    eprintln!(
        "0–14 {:.2}%, 15–59 {:.2}%, 60+ {:.2}%, 65+ {:.2}%, 80+ {:.2}%, male {:.2}%, 65+ living alone {:.1}%",
        pct(bands[0]),
        pct(bands[1]),
        pct(bands[2]),
        pct(bands[3]),
        pct(bands[4]),
        pct(male),
        100.0 * alone_share
    );
    assert!(
        (0.05..0.20).contains(&alone_share),
        "{:.1}% of people 65+ live alone",
        100.0 * alone_share
    );
}
