//! The forces' import files: their tables, columns and row checks. The importer
//! (`crate::import`) reads them like every other file: one transaction per file,
//! line-numbered errors, idempotent by key. Phones are encrypted on the way in.

use crate::import::ImportContext;
use crate::store::{SqlValue, Store, Table};
use std::collections::HashSet;

pub const PATROL_TEAMS: Table = Table {
    name: "patrol_teams",
    columns: &["code", "name", "kind", "area_code"],
    key: "code",
};
pub const PATROL_MEMBERS: Table = Table {
    name: "patrol_members",
    columns: &["id", "team_code", "name", "phone", "duty"],
    key: "id",
};
pub const PATROLS: Table = Table {
    name: "patrols",
    columns: &[
        "code",
        "team_code",
        "started_at",
        "ended_at",
        "findings",
        "logged_by",
        "geojson",
    ],
    key: "code",
};
pub const GRID_FORCES: Table = Table {
    name: "grid_forces",
    columns: &["id", "grid_code", "role", "name", "phone", "full_time"],
    key: "id",
};
pub const WORK_ITEMS: Table = Table {
    name: "work_items",
    columns: &[
        "code",
        "name",
        "department",
        "legal_basis",
        "frequency",
        "minutes",
    ],
    key: "code",
};

/// The six key-group lists' entries (`crate::personal::key_groups`): imported with the
/// forces, as they name the grid's forces responsible for each person.
pub const KEY_GROUP_PEOPLE: Table = Table {
    name: "key_group_people",
    columns: &[
        "id",
        "resident_id",
        "list",
        "grid_code",
        "worker_id",
        "police_id",
        "visit_every_days",
        "status",
        "enrolled_at",
        "last_visit_at",
        "version",
    ],
    key: "id",
};
/// The follow-up record: visits, counselling and help.
pub const KEY_GROUP_VISITS: Table = Table {
    name: "key_group_visits",
    columns: &[
        "id",
        "person_id",
        "at",
        "kind",
        "actor",
        "status_after",
        "note",
    ],
    key: "id",
};

/// The key-group files in import order (after the grid forces).
pub const KEY_GROUP_FILES: [&str; 2] = ["key_groups.csv", "key_group_visits.csv"];

/// The CSV header of each file (what the generator writes and the importer requires).
pub mod columns {
    pub const PATROL_TEAMS: &[&str] = super::PATROL_TEAMS.columns;
    pub const PATROL_MEMBERS: &[&str] = super::PATROL_MEMBERS.columns;
    pub const GRID_FORCES: &[&str] = super::GRID_FORCES.columns;
    pub const WORK_ITEMS: &[&str] = super::WORK_ITEMS.columns;
}

/// The forces' files in import order (after the events: teams before their members and
/// patrols).
pub const FILES: [&str; 5] = [
    "work_items.csv",
    "patrol_teams.csv",
    "patrol_members.csv",
    "patrols.geojson",
    "grid_forces.csv",
];

/// The table of one of the forces' files.
pub fn table_for(file: &str) -> Option<Table> {
    Some(match file {
        "work_items.csv" => WORK_ITEMS,
        "patrol_teams.csv" => PATROL_TEAMS,
        "patrol_members.csv" => PATROL_MEMBERS,
        "patrols.geojson" => PATROLS,
        "grid_forces.csv" => GRID_FORCES,
        "key_groups.csv" => KEY_GROUP_PEOPLE,
        "key_group_visits.csv" => KEY_GROUP_VISITS,
        _ => return None,
    })
}

/// The required CSV columns of one of the forces' files.
pub fn required(file: &str) -> Option<&'static [&'static str]> {
    match file {
        "patrols.geojson" => None,
        f => table_for(f).map(|t| t.columns),
    }
}

/// What validating the forces' rows needs from the store.
#[derive(Debug, Default)]
pub struct Known {
    pub area_codes: HashSet<String>,
    pub team_codes: HashSet<String>,
    /// Entries on the key-group lists (the visits' `person_id`).
    pub key_group_ids: HashSet<String>,
}

/// Reload what validation needs after `after` (a table name, or `all`) changed.
pub async fn refresh(store: &Store, ctx: &mut ImportContext, after: &str) -> anyhow::Result<()> {
    if matches!(after, "all" | "areas") {
        ctx.forces.area_codes = store
            .load_areas()
            .await?
            .into_iter()
            .map(|a| a.code)
            .collect();
    }
    if matches!(after, "all" | "patrol_teams") {
        ctx.forces.team_codes =
            crate::import::codes(store, "SELECT code FROM patrol_teams").await?;
    }
    if matches!(after, "all" | "key_group_people") {
        ctx.forces.key_group_ids =
            crate::import::codes(store, "SELECT id FROM key_group_people").await?;
    }
    Ok(())
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn text(get: &dyn Fn(&str) -> String, name: &str) -> Result<String, String> {
    let v = get(name);
    if v.is_empty() {
        Err(format!("{name} is empty"))
    } else {
        Ok(v)
    }
}

fn one_of(get: &dyn Fn(&str) -> String, name: &str, allowed: &[&str]) -> Result<String, String> {
    let v = get(name);
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(format!("{name} {v:?} is not one of {allowed:?}"))
    }
}

fn int(
    get: &dyn Fn(&str) -> String,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, String> {
    let v = get(name);
    v.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("{name} must be an integer in {range:?}, got {v:?}"))
}

fn phone(get: &dyn Fn(&str) -> String, id: &str) -> Result<SqlValue, String> {
    let p = get("phone");
    if p.is_empty() {
        return Ok(SqlValue::Text(None));
    }
    if !digits(&p, 11) {
        return Err("phone is not 11 digits".into());
    }
    Ok(crate::personal::keys().encrypt("phone", id, &p).into())
}

/// A store row from one record of a forces CSV file; `get` gives a column's trimmed value.
pub fn csv_row(
    file: &str,
    get: &dyn Fn(&str) -> String,
    ctx: &ImportContext,
) -> Result<Vec<SqlValue>, String> {
    match file {
        "work_items.csv" => {
            let minutes: i64 = get("minutes")
                .parse()
                .ok()
                .filter(|m| (1..=10_000).contains(m))
                .ok_or_else(|| format!("minutes must be 1–10000, got {:?}", get("minutes")))?;
            Ok(vec![
                text(get, "code")?.into(),
                text(get, "name")?.into(),
                text(get, "department")?.into(),
                text(get, "legal_basis")?.into(),
                text(get, "frequency")?.into(),
                minutes.into(),
            ])
        }
        "patrol_teams.csv" => {
            let area = text(get, "area_code")?;
            if !ctx.forces.area_codes.is_empty() && !ctx.forces.area_codes.contains(&area) {
                return Err(format!("unknown area {area}"));
            }
            Ok(vec![
                text(get, "code")?.into(),
                text(get, "name")?.into(),
                one_of(get, "kind", &super::TEAM_KINDS)?.into(),
                area.into(),
            ])
        }
        "patrol_members.csv" => {
            let id = text(get, "id")?;
            let team = text(get, "team_code")?;
            if !ctx.forces.team_codes.contains(&team) {
                return Err(format!("unknown patrol team {team}"));
            }
            Ok(vec![
                id.clone().into(),
                team.into(),
                text(get, "name")?.into(),
                phone(get, &id)?,
                one_of(get, "duty", &super::MEMBER_DUTIES)?.into(),
            ])
        }
        "grid_forces.csv" => {
            let id = text(get, "id")?;
            let grid = text(get, "grid_code")?;
            if !ctx.grid_codes.is_empty() && !ctx.grid_codes.contains(&grid) {
                return Err(format!("unknown grid {grid}"));
            }
            let roles: Vec<&str> = super::FORCE_ROLES.iter().map(|(r, _)| *r).collect();
            let full_time: i64 = match get("full_time").as_str() {
                "0" => 0,
                "1" => 1,
                v => return Err(format!("full_time must be 0 or 1, got {v:?}")),
            };
            Ok(vec![
                id.clone().into(),
                grid.into(),
                one_of(get, "role", &roles)?.into(),
                text(get, "name")?.into(),
                phone(get, &id)?,
                full_time.into(),
            ])
        }
        "key_groups.csv" => {
            use crate::personal::key_groups::{LISTS, STATUSES};
            let grid = text(get, "grid_code")?;
            if !ctx.grid_codes.is_empty() && !ctx.grid_codes.contains(&grid) {
                return Err(format!("unknown grid {grid}"));
            }
            let lists: Vec<&str> = LISTS.iter().map(|(c, _)| *c).collect();
            let statuses: Vec<&str> = STATUSES.iter().map(|(c, _)| *c).collect();
            let every = int(get, "visit_every_days", 1..=366)?;
            let last = match get("last_visit_at").as_str() {
                "" => SqlValue::Int(None),
                _ => int(get, "last_visit_at", 0..=i64::MAX)?.into(),
            };
            Ok(vec![
                text(get, "id")?.into(),
                text(get, "resident_id")?.into(),
                one_of(get, "list", &lists)?.into(),
                grid.into(),
                text(get, "worker_id")?.into(),
                text(get, "police_id")?.into(),
                every.into(),
                one_of(get, "status", &statuses)?.into(),
                int(get, "enrolled_at", 0..=i64::MAX)?.into(),
                last,
                int(get, "version", 1..=i64::MAX)?.into(),
            ])
        }
        "key_group_visits.csv" => {
            use crate::personal::key_groups::{STATUSES, VISIT_KINDS};
            let person = text(get, "person_id")?;
            if !ctx.forces.key_group_ids.contains(&person) {
                return Err(format!("unknown key-group entry {person}"));
            }
            let kinds: Vec<&str> = VISIT_KINDS.iter().map(|(c, _)| *c).collect();
            let statuses: Vec<&str> = STATUSES.iter().map(|(c, _)| *c).collect();
            Ok(vec![
                text(get, "id")?.into(),
                person.into(),
                int(get, "at", 0..=i64::MAX)?.into(),
                one_of(get, "kind", &kinds)?.into(),
                text(get, "actor")?.into(),
                one_of(get, "status_after", &statuses)?.into(),
                text(get, "note")?.into(),
            ])
        }
        f => Err(format!("{f} is not a forces file")),
    }
}

/// A store row from one feature of `patrols.geojson`: a LineString track with `code`,
/// `team_code`, `started_at`, `ended_at` (unix seconds) and `findings`.
pub fn patrol_feature(
    f: &geojson::Feature,
    geom: &geo_types::Geometry<f64>,
    geojson_text: String,
    ctx: &ImportContext,
) -> Result<Vec<SqlValue>, String> {
    let geo_types::Geometry::LineString(line) = geom else {
        return Err("a patrol track must be a LineString".into());
    };
    if line.0.len() < 2 {
        return Err("a patrol track needs at least 2 fixes".into());
    }
    if let Some(c) = line.0.iter().find(|c| !ctx.in_district(c.x, c.y)) {
        return Err(format!("fix {},{} is outside the district", c.x, c.y));
    }
    let props = f.properties.as_ref();
    let s = |k: &str| -> Result<String, String> {
        props
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("missing property {k}"))
    };
    let int = |k: &str| -> Result<i64, String> {
        props
            .and_then(|p| p.get(k))
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| format!("missing integer property {k}"))
    };
    let team = s("team_code")?;
    if !ctx.forces.team_codes.contains(&team) {
        return Err(format!("unknown patrol team {team}"));
    }
    let (start, end) = (int("started_at")?, int("ended_at")?);
    if end < start {
        return Err("ended_at is before started_at".into());
    }
    let findings = props
        .and_then(|p| p.get("findings"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(vec![
        s("code")?.into(),
        team.into(),
        start.into(),
        end.into(),
        findings.into(),
        SqlValue::Text(None),
        geojson_text.into(),
    ])
}
