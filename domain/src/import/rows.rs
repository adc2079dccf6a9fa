//! Turning one input row into a store row, or into a precise error message.

use super::decode::Encoding;
use super::{ImportContext, LineError};
use crate::ids::{is_valid_credit_code, is_valid_id_number};
use crate::model::{AreaLevel, CATEGORIES, KEY_GROUPS, LinkStatus, SOURCES, STATUSES};
use crate::store::SqlValue;

/// The features of a GeoJSON file with their line numbers. Files written one feature per
/// line (as `minqing generate` does) give exact line numbers for bad features; any other
/// valid FeatureCollection is read whole and numbered by feature.
pub fn geojson_features(bytes: &[u8]) -> Vec<Result<(u64, geojson::Feature), LineError>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec![Err(LineError {
            line: 1,
            message: "GeoJSON must be UTF-8".into(),
        })];
    };
    if let Ok(geojson::GeoJson::FeatureCollection(fc)) = text.parse::<geojson::GeoJson>() {
        return fc
            .features
            .into_iter()
            .enumerate()
            .map(|(i, f)| Ok((i as u64 + 1, f)))
            .collect();
    }
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_end_matches(',');
        if line.is_empty()
            || line.starts_with("{\"type\":\"FeatureCollection\"")
            || line == "]}"
            || line == "]"
        {
            continue;
        }
        let n = i as u64 + 1;
        out.push(
            serde_json::from_str::<geojson::Feature>(line)
                .map(|f| (n, f))
                .map_err(|e| LineError {
                    line: n,
                    message: format!("not a GeoJSON feature: {e}"),
                }),
        );
    }
    out
}

fn prop<'a>(f: &'a geojson::Feature, key: &str) -> Option<&'a serde_json::Value> {
    f.properties
        .as_ref()
        .and_then(|p| p.get(key))
        .filter(|v| !v.is_null())
}

fn prop_str(f: &geojson::Feature, key: &str) -> Result<String, String> {
    match prop(f, key) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        // A code typed into a numeric column (a spreadsheet's or a .dbf's) reads as text.
        Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(v) => Err(format!(
            "property {key} must be a non-empty string, got {v}"
        )),
        None => Err(format!("missing property {key}")),
    }
}

/// A store row from a GeoJSON feature of `file`.
pub fn feature_row(
    file: &str,
    f: &geojson::Feature,
    ctx: &ImportContext,
) -> Result<Vec<SqlValue>, String> {
    let geometry = f.geometry.as_ref().ok_or("feature has no geometry")?;
    let geom: geo_types::Geometry<f64> = geometry
        .clone()
        .try_into()
        .map_err(|e| format!("bad geometry: {e}"))?;
    let finite = |g: &geo_types::Geometry<f64>| {
        use geo::CoordsIter;
        g.coords_iter()
            .all(|c| c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0)
    };
    if !finite(&geom) {
        return Err("coordinates outside lon/lat range".into());
    }
    let text = serde_json::to_string(geometry).map_err(|e| e.to_string())?;
    if file == "patrols.geojson" {
        return crate::forces::import::patrol_feature(f, &geom, text, ctx);
    }
    if matches!(file, "water.geojson" | "landuse.geojson" | "pois.geojson") {
        return basemap_row(file, f, &geom, text);
    }
    if file == "areas.geojson" {
        if !matches!(
            geom,
            geo_types::Geometry::Polygon(_) | geo_types::Geometry::MultiPolygon(_)
        ) {
            return Err("an area must be a Polygon or MultiPolygon".into());
        }
        let code = prop_str(f, "code")?;
        if !code.chars().all(|c| c.is_ascii_digit())
            || !code.starts_with(crate::model::DISTRICT_CODE)
        {
            return Err(format!("area code {code} is not a code under 510603"));
        }
        let level = prop_str(f, "level")?;
        AreaLevel::parse(&level).ok_or_else(|| format!("unknown level {level}"))?;
        let parent = prop(f, "parent")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        Ok(vec![
            code.into(),
            prop_str(f, "name")?.into(),
            level.into(),
            parent.into(),
            prop_str(f, "kind")?.into(),
            text.into(),
        ])
    } else {
        if !matches!(geom, geo_types::Geometry::LineString(_)) {
            return Err("a road must be a LineString".into());
        }
        let id = prop(f, "id")
            .and_then(|v| match v {
                serde_json::Value::String(s) => s.trim().parse().ok(),
                v => v.as_i64(),
            })
            .ok_or("missing integer property id")?;
        Ok(vec![
            id.into(),
            prop_str(f, "name")?.into(),
            prop_str(f, "class")?.into(),
            text.into(),
        ])
    }
}

/// A store row of the basemap's layers: `id`, `name`, `kind` (and a point of
/// interest's `rank`), the geometry.
fn basemap_row(
    file: &str,
    f: &geojson::Feature,
    geom: &geo_types::Geometry<f64>,
    text: String,
) -> Result<Vec<SqlValue>, String> {
    let id = prop(f, "id")
        .and_then(|v| match v {
            serde_json::Value::String(s) => s.trim().parse().ok(),
            v => v.as_i64(),
        })
        .ok_or("missing integer property id")?;
    let name = match prop(f, "name") {
        None => None,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
        Some(_) => Some(prop_str(f, "name")?),
    };
    let kind = prop(f, "kind").map(|_| prop_str(f, "kind")).transpose()?;
    let rank = match prop(f, "rank") {
        None => None,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| format!("property rank must be an integer, got {v}"))?,
        ),
    };
    let (name, kind, rank) = crate::basemap::check_feature(file, geom, name, kind, rank)?;
    let mut row: Vec<SqlValue> = vec![id.into(), name.into(), kind.into()];
    if file == "pois.geojson" {
        row.push(rank.into());
    }
    row.push(text.into());
    Ok(row)
}

/// The columns each CSV file must have, in store order.
pub(super) fn required(file: &str) -> &'static [&'static str] {
    use super::columns;
    match file {
        "buildings.csv" => columns::BUILDINGS,
        "units.csv" => columns::UNITS,
        "address_aliases.csv" => columns::ADDRESS_ALIASES,
        "housing.csv" => columns::HOUSING,
        "enterprises.csv" => columns::ENTERPRISES,
        "events.csv" => columns::EVENTS,
        "event_steps.csv" => columns::EVENT_STEPS,
        f => crate::forces::import::required(f).unwrap_or(columns::RESIDENTS),
    }
}

pub struct CsvParser {
    file: String,
    width: usize,
    /// Position in the record of each required column.
    index: Vec<usize>,
    /// Position of a delta's `op` column.
    pub op: Option<usize>,
}

/// A decoded row with named access and precise messages.
struct Fields<'a> {
    values: Vec<String>,
    names: &'a [&'static str],
}

impl Fields<'_> {
    fn get(&self, name: &str) -> &str {
        self.names
            .iter()
            .position(|n| *n == name)
            .map_or("", |i| self.values[i].trim())
    }
    fn text(&self, name: &str) -> Result<String, String> {
        let v = self.get(name);
        if v.is_empty() {
            Err(format!("{name} is empty"))
        } else {
            Ok(v.to_string())
        }
    }
    fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name);
        (!v.is_empty()).then(|| v.to_string())
    }
    fn int(&self, name: &str) -> Result<i64, String> {
        self.get(name)
            .parse()
            .map_err(|_| format!("{name} is not an integer: {:?}", self.get(name)))
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.get(name) {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{name} is not an integer: {v:?}")),
        }
    }
    fn real(&self, name: &str) -> Result<f64, String> {
        self.get(name)
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{name} is not a number: {:?}", self.get(name)))
    }
    fn one_of(&self, name: &str, allowed: &[&str]) -> Result<String, String> {
        let v = self.get(name);
        if allowed.contains(&v) {
            Ok(v.to_string())
        } else {
            Err(format!("{name} {v:?} is not one of {allowed:?}"))
        }
    }
}

/// An optional column that, when given, must be one of `allowed`.
fn opt_one_of(f: &Fields, name: &str, allowed: &[&str]) -> Result<Option<String>, String> {
    match f.opt(name) {
        None => Ok(None),
        Some(_) => f.one_of(name, allowed).map(Some),
    }
}

/// An optional `YYYY-MM-DD` column.
fn opt_date(f: &Fields, name: &str) -> Result<Option<String>, String> {
    match f.opt(name) {
        None => Ok(None),
        Some(v) if crate::time::parse_date(&v).is_some() => Ok(Some(v)),
        Some(v) => Err(format!("{name} is not a date YYYY-MM-DD: {v:?}")),
    }
}

fn digits(code: &str, n: usize) -> bool {
    code.len() == n && code.bytes().all(|b| b.is_ascii_digit())
}

fn point(f: &Fields, ctx: &ImportContext) -> Result<(f64, f64), String> {
    let (x, y) = (f.real("lon")?, f.real("lat")?);
    let (lon, lat) = ctx.crs.to_wgs84(x, y)?;
    if !ctx.in_district(lon, lat) {
        return Err(format!(
            "coordinates ({lon}, {lat}) lie outside the district"
        ));
    }
    Ok((lon, lat))
}

/// The matcher's confidence at and above which wrong answers are meant to be very rare.
const CONFIDENT: f64 = 0.9;

/// Link by `address_code` when it names a register address, else through the address
/// matcher on the free text; free text waits (`pending`) only while there is no register.
fn link_record(
    code: Option<String>,
    address: &str,
    ctx: &ImportContext,
) -> (Option<String>, LinkStatus) {
    match code {
        Some(c) if ctx.unit_codes.contains(&c) => (Some(c), LinkStatus::Unit),
        Some(c) if ctx.building_codes.contains(&c) => (Some(c), LinkStatus::Building),
        _ => match &ctx.register {
            Some(reg) => {
                let r = reg.match_address(address);
                // An answer the record's own text contradicts (another community, a door
                // off) is usually right, but not sure: a person decides (the queue
                // lists the matcher's candidates). Damaged numbers never get an answer.
                if r.contradicted && r.code.is_some() && r.confidence < CONFIDENT {
                    return (None, LinkStatus::Ambiguous);
                }
                let status = crate::address_service::link_status(&r);
                (r.code, status)
            }
            None => (None, LinkStatus::Pending),
        },
    }
}

/// Where each required column of `file` is in `header` (`usize::MAX`: an optional
/// column the file lacks, read as empty). A `.dbf`'s field names are cut to 10
/// characters, so a header name equal to the first 10 of a longer column name is that
/// column; `lon`/`lat` may be absent when the records carry a geometry.
pub(super) fn column_index(
    file: &str,
    header: &[String],
    geometry: bool,
) -> Result<Vec<usize>, String> {
    let names = required(file);
    let optional: &[&str] = if file == "events.csv" {
        crate::store::tables::EVENT_OPTIONAL_COLUMNS
    } else {
        &[]
    };
    let mut index = Vec::with_capacity(names.len());
    for n in names {
        let exact = header.iter().position(|h| h.trim() == *n);
        let cut = || {
            (n.len() > 10)
                .then(|| header.iter().position(|h| h.trim() == &n[..10]))
                .flatten()
        };
        let i = match exact.or_else(cut) {
            Some(i) => i,
            // An optional column the file does not have reads as empty.
            None if optional.contains(n) => usize::MAX,
            None if geometry && matches!(*n, "lon" | "lat") => usize::MAX,
            None => return Err(format!("missing column {n}")),
        };
        index.push(i);
    }
    Ok(index)
}

impl CsvParser {
    pub fn new(file: &str, header: &[String]) -> Result<Self, String> {
        Ok(Self {
            file: file.to_string(),
            width: header.len(),
            index: column_index(file, header, false)?,
            op: header
                .iter()
                .position(|h| h.trim() == super::mapping::OP_COLUMN),
        })
    }

    /// The values of one record's required columns (in [`required`] order) and its
    /// `op`, decoded.
    pub fn values(
        &self,
        record: &csv::ByteRecord,
        enc: Encoding,
    ) -> Result<(Vec<String>, Option<String>), String> {
        if record.len() != self.width {
            return Err(format!(
                "expected {} fields, found {}",
                self.width,
                record.len()
            ));
        }
        let names = required(&self.file);
        let mut values = Vec::with_capacity(names.len());
        for (n, &i) in names.iter().zip(&self.index) {
            let raw = if i == usize::MAX {
                &[][..]
            } else {
                record.get(i).unwrap_or_default()
            };
            let v = enc
                .decode(raw)
                .ok_or_else(|| format!("column {n} is not valid {}", enc.name()))?;
            values.push(v);
        }
        let op = match self.op.and_then(|i| record.get(i)) {
            Some(raw) => Some(
                enc.decode(raw)
                    .ok_or_else(|| format!("column op is not valid {}", enc.name()))?,
            ),
            None => None,
        };
        Ok((values, op))
    }
}

/// A store row (and, for linked records, its link status) from the values of the
/// required columns of `file`, in [`required`] order.
pub(super) fn parse_values(
    file: &str,
    values: Vec<String>,
    ctx: &ImportContext,
) -> Result<(Vec<SqlValue>, Option<LinkStatus>), String> {
    let names = required(file);
    let mut values = values;
    // A mapping's recoded values (性别 男 → M) before any check.
    ctx.recoder.apply(&mut values);
    let f = Fields { values, names };
    if crate::forces::import::table_for(file).is_some() {
        let get = |n: &str| f.get(n).to_string();
        return crate::forces::import::csv_row(file, &get, ctx).map(|row| (row, None));
    }
    match file {
        "buildings.csv" => {
            let code = f.text("code")?;
            let grid = f.text("grid_code")?;
            if !digits(&code, 19) || !code.starts_with(&grid) {
                return Err(format!(
                    "building code {code} is not 19 digits under grid {grid}"
                ));
            }
            if !ctx.grid_codes.is_empty() && !ctx.grid_codes.contains(&grid) {
                return Err(format!("unknown grid {grid}"));
            }
            let (lon, lat) = point(&f, ctx)?;
            let kind = f.one_of(
                "kind",
                &["highrise", "walkup", "shop", "office", "townhouse", "rural"],
            )?;
            Ok((
                vec![
                    code.into(),
                    f.text("label")?.into(),
                    grid.into(),
                    f.opt("road").into(),
                    f.opt_int("door")?.into(),
                    f.opt("compound").into(),
                    f.opt_int("building_no")?.into(),
                    f.opt_int("village_group")?.into(),
                    f.opt_int("house_no")?.into(),
                    kind.into(),
                    f.int("floors")?.into(),
                    lon.into(),
                    lat.into(),
                ],
                None,
            ))
        }
        "units.csv" => {
            let code = f.text("code")?;
            let building = f.text("building_code")?;
            if !digits(&code, 25) || !code.starts_with(&building) {
                return Err(format!(
                    "unit code {code} is not 25 digits under building {building}"
                ));
            }
            if !ctx.building_codes.contains(&building) {
                return Err(format!("unknown building {building}"));
            }
            Ok((
                vec![
                    code.into(),
                    building.into(),
                    f.opt_int("unit")?.into(),
                    f.opt_int("floor")?.into(),
                    f.opt_int("room")?.into(),
                    f.text("label")?.into(),
                ],
                None,
            ))
        }
        "address_aliases.csv" => {
            let alias = f.text("alias")?;
            let canonical = f.text("canonical")?;
            let limit = crate::address_service::aliases::MAX_NAME_CHARS;
            if alias.chars().count() > limit || canonical.chars().count() > limit {
                return Err(format!("a name is longer than {limit} characters"));
            }
            if alias == canonical {
                return Err(format!("{alias:?} is an alias of itself"));
            }
            // Whether the register can use the pair is its business when it is built
            // (a pair it cannot use is reported by GET /api/v1/address-aliases).
            Ok((
                vec![
                    alias.into(),
                    canonical.into(),
                    "import".into(),
                    crate::time::system_now().into(),
                ],
                None,
            ))
        }
        "housing.csv" => {
            let (code, link) = link_record(f.opt("address_code"), f.get("address"), ctx);
            let area = f.real("floor_area")?;
            if !(0.0..100_000.0).contains(&area) {
                return Err(format!("floor_area {area} out of range"));
            }
            Ok((
                vec![
                    f.text("id")?.into(),
                    f.text("address")?.into(),
                    code.into(),
                    link.as_str().into(),
                    area.into(),
                    f.one_of("occupancy", &["owner", "rented", "vacant"])?
                        .into(),
                ],
                Some(link),
            ))
        }
        "enterprises.csv" => {
            let credit = f.text("credit_code")?;
            if !is_valid_credit_code(&credit) {
                return Err(format!("credit code {credit} fails the GB 32100 check"));
            }
            let industry = f.text("industry")?;
            if industry.len() != 1 || !industry.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "industry {industry:?} is not a GB/T 4754 section letter"
                ));
            }
            let (code, link) = link_record(f.opt("address_code"), f.get("address"), ctx);
            Ok((
                vec![
                    f.text("id")?.into(),
                    f.text("name")?.into(),
                    credit.into(),
                    industry.into(),
                    f.one_of("size", &["micro", "small", "medium", "large"])?
                        .into(),
                    f.int("employees")?.into(),
                    f.text("address")?.into(),
                    code.into(),
                    link.as_str().into(),
                ],
                Some(link),
            ))
        }
        "events.csv" => {
            let code = f.text("code")?;
            if !digits(&code, 16) || !code.starts_with(crate::model::DISTRICT_CODE) {
                return Err(format!("event code {code} is not 510603 + year + sequence"));
            }
            let (lon, lat) = point(&f, ctx)?;
            let grid = f.text("grid_code")?;
            if !ctx.grid_codes.is_empty() && !ctx.grid_codes.contains(&grid) {
                return Err(format!("unknown grid {grid}"));
            }
            let flag = |n: &str| -> Result<i64, String> {
                match f.get(n) {
                    "0" => Ok(0),
                    "1" => Ok(1),
                    v => Err(format!("{n} must be 0 or 1, got {v:?}")),
                }
            };
            Ok((
                vec![
                    code.into(),
                    f.one_of("category", &CATEGORIES)?.into(),
                    f.one_of("source", &SOURCES)?.into(),
                    f.one_of("status", &STATUSES)?.into(),
                    f.one_of("risk_tier", &["small", "medium", "large"])?.into(),
                    f.text("title")?.into(),
                    f.text("description")?.into(),
                    lon.into(),
                    lat.into(),
                    f.opt("address_code").into(),
                    grid.into(),
                    f.int("reported_at")?.into(),
                    f.int("deadline")?.into(),
                    f.opt("mediation_org").into(),
                    f.opt("diversion").into(),
                    flag("resolved_by_mediation")?.into(),
                    flag("escalated")?.into(),
                    f.opt_int("closed_at")?.into(),
                    f.int("version")?.into(),
                    f.int("updated_at")?.into(),
                    f.opt("owner").into(),
                    f.opt("owner_display").into(),
                    opt_one_of(&f, "owner_unit_kind", &crate::model::UNIT_KINDS)?.into(),
                    f.opt("owner_unit").into(),
                    f.opt("case_leader").into(),
                    f.opt("supervision_note").into(),
                    opt_date(&f, "supervision_deadline")?.into(),
                    f.opt("supervision_by").into(),
                    f.opt_int("supervision_at")?.into(),
                    opt_one_of(&f, "satisfaction", &crate::model::SATISFACTION)?.into(),
                    f.opt("duplicate_of").into(),
                    opt_date(&f, "next_visit")?.into(),
                    f.opt_int("large_since")?.into(),
                ],
                None,
            ))
        }
        "event_steps.csv" => {
            let code = f.text("event_code")?;
            if !ctx.event_codes.contains(&code) {
                return Err(format!("unknown event {code}"));
            }
            Ok((
                vec![
                    code.into(),
                    f.int("seq")?.into(),
                    f.int("at")?.into(),
                    f.text("actor")?.into(),
                    f.text("action")?.into(),
                    f.opt("from_status").into(),
                    f.one_of("to_status", &STATUSES)?.into(),
                    f.get("note").into(),
                ],
                None,
            ))
        }
        _ => {
            let id_number = f.text("id_number")?;
            if !is_valid_id_number(&id_number) {
                return Err("id_number fails the GB 11643 check".into());
            }
            let birth = f.text("birth_date")?;
            let compact: String = birth.chars().filter(char::is_ascii_digit).collect();
            if birth.len() != 10 || compact.len() != 8 || id_number[6..14] != compact {
                return Err(format!(
                    "birth_date {birth} is not YYYY-MM-DD matching the ID number"
                ));
            }
            let phone = f.opt("phone");
            if let Some(p) = &phone
                && !digits(p, 11)
            {
                return Err("phone is not 11 digits".into());
            }
            let groups = f.get("key_groups").to_string();
            if let Some(bad) = groups
                .split(';')
                .map(str::trim)
                .find(|g| !g.is_empty() && !KEY_GROUPS.contains(g))
            {
                return Err(format!("unknown key group {bad:?}"));
            }
            let (code, link) = link_record(f.opt("address_code"), f.get("address"), ctx);
            let id = f.text("id")?;
            // ID number and phone are stored encrypted, with a blind index for lookup;
            // name and birth date encrypted too (the index reads only `birth_ym`).
            let keys = crate::personal::keys();
            let sealed = crate::personal::seal(&keys, &id, &id_number, phone.as_deref());
            let birth_ym: i64 = compact[..6].parse().unwrap_or(0);
            let name = keys.encrypt("name", &id, &f.text("name")?);
            let birth = keys.encrypt("birth_date", &id, &birth);
            Ok((
                vec![
                    id.into(),
                    name.into(),
                    f.one_of("sex", &["M", "F"])?.into(),
                    birth.into(),
                    sealed.id_number.into(),
                    sealed.phone.into(),
                    f.one_of("registration", &["registered", "floating"])?
                        .into(),
                    f.opt("household_id").into(),
                    f.opt("relation").into(),
                    f.text("address")?.into(),
                    code.into(),
                    link.as_str().into(),
                    groups.into(),
                    sealed.id_number_bidx.into(),
                    birth_ym.into(),
                ],
                Some(link),
            ))
        }
    }
}
