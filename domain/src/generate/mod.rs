//! The deterministic synthetic district (`minqing generate`).
//!
//! Same `--seed` and `--scale`, same bytes: every random draw comes from ChaCha streams
//! seeded from the seed, nothing iterates a hash map into the output, and floats are
//! written with fixed precision. The output is a directory of import files shaped like
//! real feeds (see [`FILES`]) plus `truth/` with the ground truth for tests.

pub mod basemap;
pub mod events;
pub mod forces;
pub mod geography;
pub mod growth;
pub mod key_groups;
pub mod live;
pub mod names;
pub mod noise;
pub mod people;
pub mod register;

use crate::import::columns;
use crate::model::{AreaLevel, Event, EventStep};
use anyhow::{Context, Result};
use geo_types::MultiPolygon;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The files the generator writes: the import files.
pub use crate::import::FILES;

/// Headline figures at a scale, as written to `manifest.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Manifest {
    pub seed: u64,
    pub scale: f64,
    pub building_addresses: usize,
    pub unit_addresses: usize,
    pub residents: usize,
    pub housing_units: usize,
    pub enterprises: usize,
    pub townships: usize,
    pub communities: usize,
    pub grids: usize,
    pub community_grids: usize,
    pub events: usize,
    pub events_2023: usize,
    pub events_2024: usize,
    /// Events from 2025-01-01 up to [`Manifest::until`] (the later years).
    #[serde(default)]
    pub events_later: usize,
    /// The generator's present, `YYYY-MM-DD`: events run up to 00:00 CST of that day.
    #[serde(default)]
    pub until: String,
    pub closed_2024: usize,
    pub disputes_2023: usize,
    pub disputes_2024: usize,
    pub disputes_mediated_2024: usize,
    pub planted_hotspots: Vec<(f64, f64)>,
    pub planted_emerging_hotspot: (f64, f64),
    /// The forces (`forces.rs`): teams, their members, patrols, the fewest patrols of
    /// any month of the event years, grid forces, work-list items.
    #[serde(default)]
    pub patrol_teams: usize,
    #[serde(default)]
    pub patrol_members: usize,
    #[serde(default)]
    pub patrols: usize,
    #[serde(default)]
    pub patrols_min_per_month: usize,
    #[serde(default)]
    pub grid_forces: usize,
    #[serde(default)]
    pub work_items: usize,
    /// Entries on the six key-group lists (`key_groups.rs`): one per flag of a resident.
    #[serde(default)]
    pub key_group_entries: usize,
}

/// The random stream of the patrols from 2025 on (`forces.rs`) and of the key-group
/// follow-ups from 2025 on (`key_groups.rs`): their own, so the seed years never change.
const LATER_PATROLS: u64 = 14;
const LATER_FOLLOW_UPS: u64 = 15;

fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

fn csv_writer(path: &Path) -> Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(csv::Writer::from_writer(BufWriter::with_capacity(
        1 << 20,
        file,
    )))
}

/// A CSV writer that encodes every record as GB18030, as old township systems export.
struct GbkCsv {
    out: BufWriter<File>,
}

impl GbkCsv {
    fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn write_record<I, T>(&mut self, record: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(record)?;
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = std::str::from_utf8(&bytes).context("records are UTF-8 before encoding")?;
        let (encoded, _, _) = encoding_rs::GB18030.encode(text);
        self.out.write_all(&encoded)?;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

fn fmt6(v: f64) -> String {
    format!("{v:.7}")
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The generator's default present: today (CST) on the system clock.
pub fn today() -> jiff::civil::Date {
    crate::time::local_date(crate::time::system_now()).unwrap_or(jiff::civil::date(2025, 1, 1))
}

/// Generate the district at `scale` with `seed` into `out`, its events up to today (see
/// [`generate_until`]). `progress` is told each phase's name.
pub fn generate(out: &Path, scale: f64, seed: u64, progress: &dyn Fn(&str)) -> Result<Manifest> {
    generate_until(out, scale, seed, today(), progress)
}

/// Generate the district at `scale` with `seed` into `out`, its events running up to
/// 00:00 CST of `until` (the generator's present; the same inputs give the same bytes).
/// The seed years 2023–2024 are the same whatever `until`; a date before 2025 adds none.
pub fn generate_until(
    out: &Path,
    scale: f64,
    seed: u64,
    until: jiff::civil::Date,
    progress: &dyn Fn(&str),
) -> Result<Manifest> {
    let present = crate::time::day_start(until).context("--until is not a date")?;
    anyhow::ensure!(
        scale.is_finite() && scale > 0.0 && scale <= 50.0,
        "--scale must be in (0, 50]"
    );
    std::fs::create_dir_all(out.join("truth"))
        .with_context(|| format!("creating {}", out.display()))?;

    progress("geography");
    let geo = geography::build(&mut stream(seed, 1), scale);
    let polys = geo.polygons();
    write_areas(&out.join("areas.geojson"), &geo, &polys)?;

    progress("address register");
    let reg = register::build(
        &mut stream(seed, 2),
        &geo,
        &register::RegisterCounts::at_scale(scale),
    );
    {
        let mut w = csv_writer(&out.join("buildings.csv"))?;
        w.write_record(columns::BUILDINGS)?;
        for b in &reg.buildings {
            let (lon, lat) = geo.frame.lonlat(b.x, b.y);
            w.write_record([
                b.code.clone(),
                b.parts.canonical_label(),
                geo.grids[b.grid].code.clone(),
                opt(&b.parts.road),
                opt(&b.parts.door),
                opt(&b.parts.compound),
                opt(&b.parts.building),
                opt(&b.parts.group),
                opt(&b.parts.house),
                b.kind.as_str().to_string(),
                b.floors.to_string(),
                fmt6(lon),
                fmt6(lat),
            ])?;
        }
        w.flush()?;
        let mut w = csv_writer(&out.join("units.csv"))?;
        w.write_record(columns::UNITS)?;
        for u in &reg.units {
            w.write_record([
                u.code.clone(),
                reg.buildings[u.building].code.clone(),
                opt(&u.parts.unit),
                u.floor.to_string(),
                opt(&u.parts.room),
                u.parts.canonical_label(),
            ])?;
        }
        w.flush()?;
    }

    write_roads(&out.join("roads.geojson"), &geo, &reg.lanes)?;

    progress("basemap");
    // Its own stream (21): every other file stays as it was without a basemap.
    let base = basemap::build(&mut stream(seed, 21), &geo, &reg);
    write_basemap(out, &geo, &base)?;

    progress("households and residents");
    let residents_total = ((627_000.0 * scale).round() as usize).max(100);
    let mut rng = stream(seed, 3);
    let homes = people::households(&mut rng, &reg, residents_total);
    let mut truth = csv_writer(&out.join("truth/links.csv"))?;
    truth.write_record(["file", "id", "code", "level", "noisy"])?;
    let mut housing = csv_writer(&out.join("housing.csv"))?;
    housing.write_record(columns::HOUSING)?;
    let header = columns::RESIDENTS;
    let mut res_utf8 = csv_writer(&out.join("residents.csv"))?;
    res_utf8.write_record(header)?;
    let mut res_gbk = GbkCsv::create(&out.join("residents-gbk.csv"))?;
    res_gbk.write_record(header)?;
    let mut noise_rng = stream(seed, 4);
    // The slips people make typing an address (`noise.rs`), from a stream of their own so
    // everything else generated stays as it was.
    let mut typing_rng = stream(seed, 24);
    // Some roads were renamed: their old names are typed now and then, and the centre's
    // table of them is an import file of its own.
    let renamed =
        noise::renamed_roads(reg.buildings.iter().filter_map(|b| b.parts.road.as_deref()));
    {
        let mut w = csv_writer(&out.join("address_aliases.csv"))?;
        w.write_record(columns::ADDRESS_ALIASES)?;
        for (old, current) in &renamed {
            w.write_record([old, current])?;
        }
        w.flush()?;
    }
    // Who lives where first, for the whole district, so ages can be calibrated to the
    // census structure before birth dates and ID numbers are drawn from them.
    let mut household_rng = stream(seed, 13);
    let mut compositions: Vec<Vec<people::Member>> = reg
        .units
        .iter()
        .zip(&homes)
        .map(|(unit, &(occ, size))| {
            let rural = matches!(reg.buildings[unit.building].kind, register::Kind::Rural);
            people::composition(
                &mut household_rng,
                size,
                occ == people::Occupancy::Rented,
                rural,
            )
        })
        .collect();
    people::calibrate_ages(&mut household_rng, &mut compositions);
    let mut id_serials: HashMap<String, u32> = HashMap::new();
    let mut resident_no = 0usize;
    let mut flagged: Vec<key_groups::Flagged> = Vec::new();
    let mut per_building_residents = vec![0u32; reg.buildings.len()];
    for (k, (unit, &(occ, _))) in reg.units.iter().zip(&homes).enumerate() {
        let hid = format!("H{:07}", k + 1);
        let with_code = noise_rng.gen_bool(0.9);
        let (text, noisy) = address_text(&mut noise_rng, &unit.parts);
        let (text, noisy) = typed(&mut typing_rng, text, noisy, &renamed);
        let floor_area = match reg.buildings[unit.building].kind {
            register::Kind::Rural | register::Kind::Townhouse => rng.gen_range(90.0..220.0),
            _ => rng.gen_range(45.0..140.0),
        };
        housing.write_record([
            hid.clone(),
            text.clone(),
            if with_code {
                unit.code.clone()
            } else {
                String::new()
            },
            format!("{floor_area:.1}"),
            occ.as_str().to_string(),
        ])?;
        truth.write_record([
            "housing.csv",
            &hid,
            &unit.code,
            "unit",
            if noisy { "1" } else { "0" },
        ])?;
        let members: Vec<people::Person> = compositions[k]
            .iter()
            .map(|m| {
                people::person(
                    &mut rng,
                    m,
                    occ == people::Occupancy::Rented,
                    &mut id_serials,
                    i32::from(until.year()),
                )
            })
            .collect();
        per_building_residents[unit.building] += members.len() as u32;
        let town = geo.township_of_grid(reg.buildings[unit.building].grid).kind
            == geography::TownshipKind::Town;
        for p in members {
            resident_no += 1;
            let id = format!("R{resident_no:08}");
            if !p.key_groups.is_empty() {
                flagged.push(key_groups::Flagged {
                    resident_id: id.clone(),
                    grid_code: geo.grids[reg.buildings[unit.building].grid].code.clone(),
                    age: 2024 - p.birth.0,
                    flags: p.key_groups.clone(),
                });
            }
            let with_code = noise_rng.gen_bool(0.85);
            let (text, noisy) = address_text(&mut noise_rng, &unit.parts);
            let (text, noisy) = typed(&mut typing_rng, text, noisy, &renamed);
            let record = [
                id.clone(),
                p.name,
                if p.male { "M" } else { "F" }.to_string(),
                format!("{:04}-{:02}-{:02}", p.birth.0, p.birth.1, p.birth.2),
                p.id_number,
                p.phone,
                if p.floating { "floating" } else { "registered" }.to_string(),
                hid.clone(),
                p.relation.to_string(),
                text,
                if with_code {
                    unit.code.clone()
                } else {
                    String::new()
                },
                p.key_groups.join(";"),
            ];
            // Town records come from the township offices' older systems, in GBK.
            let file = if town {
                res_gbk.write_record(&record)?;
                "residents-gbk.csv"
            } else {
                res_utf8.write_record(&record)?;
                "residents.csv"
            };
            truth.write_record([file, &id, &unit.code, "unit", if noisy { "1" } else { "0" }])?;
        }
    }
    housing.flush()?;
    res_utf8.flush()?;
    res_gbk.finish()?;

    progress("enterprises");
    let n_ent = ((18_000.0 * scale).round() as usize).max(10);
    let ents = people::enterprises(&mut stream(seed, 5), &reg, n_ent);
    let mut per_building_ents = vec![0u32; reg.buildings.len()];
    {
        let mut w = csv_writer(&out.join("enterprises.csv"))?;
        w.write_record(columns::ENTERPRISES)?;
        for (k, e) in ents.iter().enumerate() {
            let id = format!("E{:07}", k + 1);
            let b = &reg.buildings[e.building];
            per_building_ents[e.building] += 1;
            let with_code = noise_rng.gen_bool(0.8);
            let (text, noisy) = address_text(&mut noise_rng, &b.parts);
            let (text, noisy) = typed(&mut typing_rng, text, noisy, &renamed);
            w.write_record([
                id.clone(),
                e.name.clone(),
                e.credit_code.clone(),
                e.industry.to_string(),
                e.size.to_string(),
                e.employees.to_string(),
                text,
                if with_code {
                    b.code.clone()
                } else {
                    String::new()
                },
            ])?;
            truth.write_record([
                "enterprises.csv",
                &id,
                &b.code,
                "building",
                if noisy { "1" } else { "0" },
            ])?;
        }
        w.flush()?;
    }
    truth.flush()?;

    progress("events");
    let weights: Vec<f64> = (0..reg.buildings.len())
        .map(|i| f64::from(per_building_residents[i]) + 3.0 * f64::from(per_building_ents[i]) + 0.2)
        .collect();
    let (events, steps, planted) = events::generate(
        &mut stream(seed, 6),
        &mut stream(seed, 8),
        &geo,
        &reg,
        &weights,
        scale,
        present,
    );
    write_events(&out.join("events.csv"), &events)?;
    write_steps(&out.join("event_steps.csv"), &steps)?;

    progress("patrol teams, patrols and grid forces");
    // The forces are planned over the seed years' events (their figures stay the seed's).
    let seed_years = events.partition_point(|e| e.reported_at < events::Y2025);
    let forces = forces::generate(
        &mut stream(seed, 7),
        &mut stream(seed, LATER_PATROLS),
        out,
        &geo,
        &events[..seed_years],
        scale,
        present,
    )?;

    progress("key groups on the six lists");
    let key_group_entries = key_groups::generate(
        &mut stream(seed, 8),
        &mut stream(seed, LATER_FOLLOW_UPS),
        out,
        &flagged,
        present,
    )?;

    let in_year = |e: &&Event, y: i64, y1: i64| e.reported_at >= y && e.reported_at < y1;
    let e23: Vec<&Event> = events
        .iter()
        .filter(|e| in_year(e, events::Y2023, events::Y2024))
        .collect();
    let e24: Vec<&Event> = events
        .iter()
        .filter(|e| in_year(e, events::Y2024, events::Y2025))
        .collect();
    let manifest = Manifest {
        seed,
        scale,
        building_addresses: reg.buildings.len(),
        unit_addresses: reg.units.len(),
        residents: resident_no,
        housing_units: reg.units.len(),
        enterprises: ents.len(),
        townships: geo.townships.len(),
        communities: geo.communities.len(),
        grids: geo.grids.len(),
        community_grids: geo
            .grids
            .iter()
            .filter(|g| !geo.communities[g.community].village)
            .count(),
        events: events.len(),
        events_2023: e23.len(),
        events_2024: e24.len(),
        events_later: events.len() - seed_years,
        until: until.to_string(),
        closed_2024: e24
            .iter()
            .filter(|e| crate::model::is_closed_status(&e.status))
            .count(),
        disputes_2023: e23.iter().filter(|e| e.category == "dispute").count(),
        disputes_2024: e24.iter().filter(|e| e.category == "dispute").count(),
        disputes_mediated_2024: e24
            .iter()
            .filter(|e| e.category == "dispute" && e.resolved_by_mediation)
            .count(),
        planted_hotspots: planted.hotspots,
        planted_emerging_hotspot: planted.emerging,
        patrol_teams: forces.patrol_teams,
        patrol_members: forces.patrol_members,
        patrols: forces.patrols,
        patrols_min_per_month: forces.patrols_min_per_month,
        grid_forces: forces.grid_forces,
        work_items: forces.work_items,
        key_group_entries,
    };
    let text = serde_json::to_string_pretty(&manifest)?;
    std::fs::write(out.join("manifest.json"), text + "\n")?;
    Ok(manifest)
}

/// The address column of a record: noisy free text for some, canonical for the rest.
fn address_text<R: Rng>(rng: &mut R, parts: &minqing_address::AddressParts) -> (String, bool) {
    if rng.gen_bool(0.6) {
        let text = minqing_address::noise::noisy_label(parts, rng);
        let noisy = text != parts.canonical_label();
        (text, noisy)
    } else {
        (parts.canonical_label(), false)
    }
}

/// `text` with a typing slip (see `noise.rs`) for some records; `noisy` as before or set.
fn typed<R: Rng>(
    rng: &mut R,
    text: String,
    noisy: bool,
    renamed: &[(String, String)],
) -> (String, bool) {
    match noise::typed(rng, &text, renamed) {
        (t, Some(_)) => (t, true),
        (_, None) => (text, noisy),
    }
}

fn area_feature(
    code: &str,
    name: &str,
    level: AreaLevel,
    parent: Option<&str>,
    kind: &str,
    geom: &MultiPolygon<f64>,
) -> geojson::Feature {
    let mut props = serde_json::Map::new();
    props.insert("code".into(), code.into());
    props.insert("name".into(), name.into());
    props.insert("level".into(), level.as_str().into());
    props.insert(
        "parent".into(),
        parent.map(Into::into).unwrap_or(serde_json::Value::Null),
    );
    props.insert("kind".into(), kind.into());
    geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::new(geojson::Value::from(geom))),
        id: None,
        properties: Some(props),
        foreign_members: None,
    }
}

fn write_feature_collection(
    path: &Path,
    features: impl Iterator<Item = geojson::Feature>,
) -> Result<()> {
    // One feature per line, so a bad feature has a line number on import.
    let mut w =
        BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
    writeln!(w, "{{\"type\":\"FeatureCollection\",\"features\":[")?;
    let mut first = true;
    for f in features {
        if !first {
            writeln!(w, ",")?;
        }
        first = false;
        write!(w, "{}", serde_json::to_string(&f)?)?;
    }
    writeln!(w, "\n]}}")?;
    w.flush()?;
    Ok(())
}

fn write_areas(
    path: &Path,
    geo: &geography::Geography,
    polys: &geography::AreaPolygons,
) -> Result<()> {
    let mut features = vec![area_feature(
        crate::model::DISTRICT_CODE,
        "旌阳区",
        AreaLevel::District,
        None,
        "district",
        &polys.district,
    )];
    for (t, p) in geo.townships.iter().zip(&polys.townships) {
        let kind = if t.kind == geography::TownshipKind::Street {
            "street"
        } else {
            "town"
        };
        features.push(area_feature(
            &t.code,
            &t.name,
            AreaLevel::Township,
            Some(crate::model::DISTRICT_CODE),
            kind,
            p,
        ));
    }
    for (c, p) in geo.communities.iter().zip(&polys.communities) {
        let kind = if c.village { "village" } else { "community" };
        features.push(area_feature(
            &c.code,
            &c.name,
            AreaLevel::Community,
            Some(&geo.townships[c.township].code),
            kind,
            p,
        ));
    }
    for (g, p) in geo.grids.iter().zip(&polys.grids) {
        let comm = &geo.communities[g.community];
        let kind = if comm.village { "rural" } else { "urban" };
        features.push(area_feature(
            &g.code,
            &g.name,
            AreaLevel::Grid,
            Some(&comm.code),
            kind,
            p,
        ));
    }
    write_feature_collection(path, features.into_iter())
}

/// The roads and then the compounds' lanes, numbered from 1.
fn write_roads(
    path: &Path,
    geo: &geography::Geography,
    lanes: &[geography::RoadLine],
) -> Result<()> {
    let features = geo.roads.iter().chain(lanes).enumerate().map(|(i, r)| {
        let line: geo_types::LineString<f64> = r
            .points
            .iter()
            .map(|&(x, y)| geo.frame.coord(x, y))
            .collect();
        let mut props = serde_json::Map::new();
        props.insert("id".into(), (i as i64 + 1).into());
        props.insert("name".into(), r.name.clone().into());
        props.insert("class".into(), r.class.into());
        geojson::Feature {
            bbox: None,
            geometry: Some(geojson::Geometry::new(geojson::Value::from(&line))),
            id: None,
            properties: Some(props),
            foreign_members: None,
        }
    });
    write_feature_collection(path, features)
}

/// The basemap's three layers (`water`, `landuse`, `pois`): `id`, `name` (null when the
/// feature has none), `kind`, and a point of interest's `rank`.
fn write_basemap(out: &Path, _geo: &geography::Geography, base: &basemap::Basemap) -> Result<()> {
    for (file, list) in [
        ("water.geojson", &base.water),
        ("landuse.geojson", &base.landuse),
        ("pois.geojson", &base.pois),
    ] {
        let features = list.iter().enumerate().map(|(i, f)| {
            let mut props = serde_json::Map::new();
            props.insert("id".into(), (i as i64 + 1).into());
            props.insert(
                "name".into(),
                f.name.clone().map_or(serde_json::Value::Null, Into::into),
            );
            props.insert("kind".into(), f.kind.into());
            if let Some(rank) = f.rank {
                props.insert("rank".into(), rank.into());
            }
            geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::new(geojson::Value::from(&f.geometry))),
                id: None,
                properties: Some(props),
                foreign_members: None,
            }
        });
        write_feature_collection(&out.join(file), features)?;
    }
    Ok(())
}

/// Display names of the demo's accounts (`minqing demo` gives them these; the
/// generated events name them as owners).
pub const DEMO_DISPLAY_NAMES: [(&str, &str); 6] = [
    ("admin", "系统管理员"),
    ("leader", "区综治中心领导"),
    ("screen", "指挥中心大屏"),
    ("mediator", "调解员"),
    ("reception", "综合受理窗口"),
    ("riskcentre", "社会风险研判中心"),
];

/// The mediation organisation of the demo's `mediator` account: its cases are owned by
/// that account from the start, as the events service does for an organisation with one
/// mediator.
pub const DEMO_MEDIATOR_ORG: &str = "旌阳区婚姻家庭纠纷人民调解委员会";

fn write_events(path: &Path, events: &[Event]) -> Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record(columns::EVENTS)?;
    for e in events {
        w.write_record([
            e.code.clone(),
            e.category.clone(),
            e.source.clone(),
            e.status.clone(),
            e.risk_tier.clone(),
            e.title.clone(),
            e.description.clone(),
            fmt6(e.lon),
            fmt6(e.lat),
            opt(&e.address_code),
            e.grid_code.clone(),
            e.reported_at.to_string(),
            e.deadline.to_string(),
            opt(&e.mediation_org),
            opt(&e.diversion),
            u8::from(e.resolved_by_mediation).to_string(),
            u8::from(e.escalated).to_string(),
            opt(&e.closed_at),
            e.version.to_string(),
            e.updated_at.to_string(),
            opt(&e.owner),
            opt(&e.owner_display),
            opt(&e.owner_unit_kind),
            opt(&e.owner_unit),
            opt(&e.case_leader),
            opt(&e.supervision.as_ref().map(|s| s.note.clone())),
            opt(&e.supervision.as_ref().map(|s| s.deadline.clone())),
            opt(&e.supervision.as_ref().map(|s| s.by.clone())),
            opt(&e.supervision.as_ref().map(|s| s.at)),
            opt(&e.satisfaction),
            opt(&e.duplicate_of),
            opt(&e.next_visit),
            opt(&e.large_since),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn write_steps(path: &Path, steps: &[EventStep]) -> Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record(columns::EVENT_STEPS)?;
    for s in steps {
        w.write_record([
            s.event_code.clone(),
            s.seq.to_string(),
            s.at.to_string(),
            s.actor.clone(),
            s.action.clone(),
            opt(&s.from_status),
            s.to_status.clone(),
            s.note.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
