//! Reading the store once at start: everything the in-memory index needs, and nothing
//! personal beyond the derived facts the models use (no names, ID numbers or phones).

use super::{Store, dispatch};
use crate::model::{Area, AreaLevel, Building, Event, LinkStatus, Road};
use anyhow::{Context, Result, anyhow};
use futures_util::TryStreamExt;
use sqlx::Row;

/// A unit/room address row.
#[derive(Debug, Clone)]
pub struct UnitRow {
    pub code: String,
    pub building_code: String,
    /// Unit (单元) number, for the address matcher.
    pub unit_no: Option<u32>,
    /// Room number including its floor, for the address matcher.
    pub room: Option<u32>,
    pub label: String,
}

/// The facts of a housing record the index keeps.
#[derive(Debug, Clone)]
pub struct HousingRow {
    pub address_code: Option<String>,
    pub link: LinkStatus,
    pub occupancy: String,
    pub floor_area: f64,
}

/// The facts of a resident the index keeps: no name, ID number or phone.
#[derive(Debug, Clone)]
pub struct ResidentFacts {
    pub address_code: Option<String>,
    pub link: LinkStatus,
    pub male: bool,
    pub birth_year: u16,
    pub birth_month: u8,
    pub floating: bool,
    /// Bit `i` set when the person is in key group `KEY_GROUPS[i]`.
    pub key_groups: u8,
}

#[derive(Debug, Clone)]
pub struct EnterpriseRow {
    pub address_code: Option<String>,
    pub link: LinkStatus,
    pub industry: String,
    pub size: String,
    pub employees: i64,
}

/// Everything loaded at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub areas: Vec<Area>,
    pub roads: Vec<Road>,
    pub buildings: Vec<Building>,
    pub units: Vec<UnitRow>,
    pub housing: Vec<HousingRow>,
    pub residents: Vec<ResidentFacts>,
    pub enterprises: Vec<EnterpriseRow>,
    pub events: Vec<Event>,
    /// Patrol teams, patrols, grid forces and the work list (see `crate::forces`).
    pub forces: crate::forces::ForcesSnapshot,
    /// Water, land use and points of interest (see `crate::basemap`).
    pub basemap: crate::basemap::Basemap,
    /// The centre's road aliases and old names (`address_aliases`).
    pub aliases: minqing_address::Aliases,
}

fn link(s: &str) -> LinkStatus {
    LinkStatus::parse(s).unwrap_or(LinkStatus::Pending)
}

pub(crate) fn key_group_bits(s: &str) -> u8 {
    s.split(';')
        .filter_map(|g| crate::model::KEY_GROUPS.iter().position(|k| *k == g.trim()))
        .fold(0, |acc, i| acc | (1 << i))
}

fn parse_area_geometry(geojson: &str) -> Result<geo_types::MultiPolygon<f64>> {
    let g: geojson::Geometry = geojson.parse().context("area geometry is not GeoJSON")?;
    let geom: geo_types::Geometry<f64> = g.try_into().context("area geometry")?;
    match geom {
        geo_types::Geometry::MultiPolygon(mp) => Ok(mp),
        geo_types::Geometry::Polygon(p) => Ok(geo_types::MultiPolygon::new(vec![p])),
        _ => Err(anyhow!("area geometry must be a (multi)polygon")),
    }
}

fn parse_line(geojson: &str) -> Result<geo_types::LineString<f64>> {
    let g: geojson::Geometry = geojson.parse().context("road geometry is not GeoJSON")?;
    let geom: geo_types::Geometry<f64> = g.try_into().context("road geometry")?;
    match geom {
        geo_types::Geometry::LineString(l) => Ok(l),
        _ => Err(anyhow!("road geometry must be a line string")),
    }
}

/// Event columns in the order [`event_from_row`] reads them.
pub const EVENT_COLUMNS: &str = "code, category, source, status, risk_tier, title, description, lon, lat, \
     address_code, grid_code, reported_at, deadline, mediation_org, diversion, resolved_by_mediation, escalated, \
     closed_at, version, updated_at, owner, owner_display, owner_unit_kind, owner_unit, case_leader, \
     supervision_note, supervision_deadline, supervision_by, supervision_at, satisfaction, duplicate_of, \
     next_visit, large_since";

/// The latest supervision from its four columns (all set, or none).
pub(crate) fn supervision_of(
    note: Option<String>,
    deadline: Option<String>,
    by: Option<String>,
    at: Option<i64>,
) -> Option<crate::model::Supervision> {
    Some(crate::model::Supervision {
        note: note?,
        deadline: deadline?,
        by: by?,
        at: at?,
    })
}

/// An event from a row selected with [`EVENT_COLUMNS`]; the same for both backends.
pub fn event_from_row<R: Row>(r: &R) -> Result<Event, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Event {
        code: r.try_get(0)?,
        category: r.try_get(1)?,
        source: r.try_get(2)?,
        status: r.try_get(3)?,
        risk_tier: r.try_get(4)?,
        title: r.try_get(5)?,
        description: r.try_get(6)?,
        lon: r.try_get(7)?,
        lat: r.try_get(8)?,
        address_code: r.try_get(9)?,
        grid_code: r.try_get(10)?,
        reported_at: r.try_get(11)?,
        deadline: r.try_get(12)?,
        mediation_org: r.try_get(13)?,
        diversion: r.try_get(14)?,
        resolved_by_mediation: r.try_get::<i64, _>(15)? != 0,
        escalated: r.try_get::<i64, _>(16)? != 0,
        closed_at: r.try_get(17)?,
        version: r.try_get(18)?,
        updated_at: r.try_get(19)?,
        owner: r.try_get(20)?,
        owner_display: r.try_get(21)?,
        owner_unit_kind: r.try_get(22)?,
        owner_unit: r.try_get(23)?,
        case_leader: r.try_get(24)?,
        supervision: supervision_of(
            r.try_get(25)?,
            r.try_get(26)?,
            r.try_get(27)?,
            r.try_get(28)?,
        ),
        satisfaction: r.try_get(29)?,
        duplicate_of: r.try_get(30)?,
        next_visit: r.try_get(31)?,
        large_since: r.try_get(32)?,
    })
}

/// Rows per packed SQLite chunk (see [`Store::sqlite_packed`]).
const PACKED_CHUNK_ROWS: i64 = 16_384;

/// A text column in a packed row: `<byte length>:<bytes>`, or `~` for NULL.
fn packed_text(col: &str) -> String {
    format!("ifnull(length(CAST({col} AS BLOB)) || ':' || {col}, '~')")
}

/// An integer column in a packed row: its decimal digits and `,`, or `~` for NULL.
fn packed_int(col: &str) -> String {
    format!("ifnull(CAST({col} AS INTEGER) || ',', '~')")
}

/// A real column in a packed row, or `~` for NULL. `quote()` is SQLite's exact rendering
/// of a REAL (15 digits when they round-trip, more when not), so a coordinate comes back
/// bit for bit; `CAST(x AS TEXT)` would stop at 15 digits.
fn packed_real(col: &str) -> String {
    format!("ifnull(quote(CAST({col} AS REAL)) || ',', '~')")
}

/// Reads the fields of packed rows back, in the order they were packed.
struct Packed<'a> {
    s: &'a str,
}

impl<'a> Packed<'a> {
    fn done(&self) -> bool {
        self.s.is_empty()
    }

    fn null(&mut self) -> bool {
        if let Some(rest) = self.s.strip_prefix('~') {
            self.s = rest;
            true
        } else {
            false
        }
    }

    fn text(&mut self) -> Result<Option<&'a str>> {
        if self.null() {
            return Ok(None);
        }
        let (len, rest) = self
            .s
            .split_once(':')
            .ok_or_else(|| anyhow!("packed row: text without a length"))?;
        let len: usize = len.parse().context("packed row: bad text length")?;
        let text = rest
            .get(..len)
            .ok_or_else(|| anyhow!("packed row: text shorter than its length"))?;
        self.s = &rest[len..];
        Ok(Some(text))
    }

    fn int(&mut self) -> Result<Option<i64>> {
        if self.null() {
            return Ok(None);
        }
        let (digits, rest) = self
            .s
            .split_once(',')
            .ok_or_else(|| anyhow!("packed row: unterminated integer"))?;
        self.s = rest;
        Ok(Some(digits.parse().context("packed row: bad integer")?))
    }

    fn real(&mut self) -> Result<Option<f64>> {
        if self.null() {
            return Ok(None);
        }
        let (digits, rest) = self
            .s
            .split_once(',')
            .ok_or_else(|| anyhow!("packed row: unterminated number"))?;
        self.s = rest;
        Ok(Some(digits.parse().context("packed row: bad number")?))
    }

    fn req_text(&mut self, what: &str) -> Result<&'a str> {
        self.text()?
            .ok_or_else(|| anyhow!("packed row: {what} is NULL"))
    }

    fn req_int(&mut self, what: &str) -> Result<i64> {
        self.int()?
            .ok_or_else(|| anyhow!("packed row: {what} is NULL"))
    }

    fn req_real(&mut self, what: &str) -> Result<f64> {
        self.real()?
            .ok_or_else(|| anyhow!("packed row: {what} is NULL"))
    }
}

/// Run one table's load and log how long it took.
async fn timed<T>(
    table: &'static str,
    load: impl std::future::Future<Output = Result<Vec<T>>>,
) -> Result<Vec<T>> {
    let started = std::time::Instant::now();
    let rows = load.await?;
    tracing::info!(
        table,
        rows = rows.len(),
        ms = started.elapsed().as_millis() as u64,
        "table loaded"
    );
    Ok(rows)
}

impl Store {
    /// Load everything the index needs. Tables are read concurrently.
    pub async fn load(&self) -> Result<Snapshot> {
        let (
            areas,
            roads,
            buildings,
            units,
            housing,
            residents,
            enterprises,
            events,
            forces,
            basemap,
            aliases,
        ) = tokio::try_join!(
            timed("areas", self.load_areas()),
            timed("roads", self.load_roads()),
            timed("buildings", self.load_buildings()),
            timed("units", self.load_units()),
            timed("housing", self.load_housing()),
            timed("residents", self.load_residents()),
            timed("enterprises", self.load_enterprises()),
            timed("events", self.load_events()),
            self.load_forces(),
            self.load_basemap(),
            self.load_aliases(),
        )?;
        Ok(Snapshot {
            areas,
            roads,
            buildings,
            units,
            housing,
            residents,
            enterprises,
            events,
            forces,
            basemap,
            aliases,
        })
    }

    /// The road aliases and old names the centre keeps, alias → canonical name, in
    /// alias order.
    pub async fn load_aliases(&self) -> Result<minqing_address::Aliases> {
        let sql = "SELECT alias, canonical FROM address_aliases ORDER BY alias";
        let mut out = minqing_address::Aliases::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.insert(r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?);
            }
        });
        Ok(out)
    }

    /// The basemap's three tables, each in id order.
    pub async fn load_basemap(&self) -> Result<crate::basemap::Basemap> {
        let mut out = crate::basemap::Basemap::default();
        for (table, list) in [
            ("water", &mut out.water),
            ("landuse", &mut out.landuse),
            ("pois", &mut out.pois),
        ] {
            // A typed zero: PostgreSQL would read a bare `0` as a 4-byte integer.
            let rank = if table == "pois" {
                "rank"
            } else {
                "CAST(0 AS BIGINT)"
            };
            let sql = format!("SELECT id, name, kind, {rank}, geojson FROM {table} ORDER BY id");
            dispatch!(self, Store, p => {
                let mut rows = sqlx::query(&sql).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let geojson: String = r.try_get(4)?;
                    let rank: i64 = r.try_get(3)?;
                    list.push(crate::basemap::Feature {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        kind: r.try_get(2)?,
                        rank: u8::try_from(rank).unwrap_or(0),
                        geometry: crate::basemap::parse_geometry(&geojson)
                            .with_context(|| format!("{table} feature"))?,
                    });
                }
            });
        }
        Ok(out)
    }

    pub async fn load_areas(&self) -> Result<Vec<Area>> {
        let sql = "SELECT code, name, level, parent_code, kind, geojson FROM areas ORDER BY code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let level: String = r.try_get(2)?;
                let geojson: String = r.try_get(5)?;
                out.push(Area {
                    code: r.try_get(0)?,
                    name: r.try_get(1)?,
                    level: AreaLevel::parse(&level).ok_or_else(|| anyhow!("bad area level {level}"))?,
                    parent: r.try_get(3)?,
                    kind: r.try_get(4)?,
                    geometry: parse_area_geometry(&geojson)?,
                });
            }
        });
        Ok(out)
    }

    pub async fn load_roads(&self) -> Result<Vec<Road>> {
        let sql = "SELECT id, name, class, geojson FROM roads ORDER BY id";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let geojson: String = r.try_get(3)?;
                out.push(Road { id: r.try_get(0)?, name: r.try_get(1)?, class: r.try_get(2)?, geometry: parse_line(&geojson)? });
            }
        });
        Ok(out)
    }

    pub async fn load_buildings(&self) -> Result<Vec<Building>> {
        let u32_of = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
        if let Store::Sqlite(p) = self {
            let fields = [
                packed_text("code"),
                packed_text("label"),
                packed_text("grid_code"),
                packed_text("road"),
                packed_int("door"),
                packed_text("compound"),
                packed_int("building_no"),
                packed_int("village_group"),
                packed_int("house_no"),
                packed_text("kind"),
                packed_int("floors"),
                packed_real("lon"),
                packed_real("lat"),
            ];
            let mut out = sqlite_packed(p, "buildings", &fields, 1, |r| {
                Ok(Building {
                    code: r.req_text("code")?.to_string(),
                    label: r.req_text("label")?.to_string(),
                    grid_code: r.req_text("grid_code")?.to_string(),
                    road: r.text()?.map(str::to_string),
                    door: u32_of(r.int()?),
                    compound: r.text()?.map(str::to_string),
                    building_no: u32_of(r.int()?),
                    village_group: u32_of(r.int()?),
                    house_no: u32_of(r.int()?),
                    kind: r.req_text("kind")?.to_string(),
                    floors: u32_of(r.int()?).unwrap_or(1),
                    lon: r.req_real("lon")?,
                    lat: r.req_real("lat")?,
                })
            })
            .await?;
            out.sort_by(|a, b| a.code.cmp(&b.code));
            return Ok(out);
        }
        let sql = "SELECT code, label, grid_code, road, door, compound, building_no, village_group, house_no, kind, \
                   floors, lon, lat FROM buildings ORDER BY code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(Building {
                    code: r.try_get(0)?,
                    label: r.try_get(1)?,
                    grid_code: r.try_get(2)?,
                    road: r.try_get(3)?,
                    door: u32_of(r.try_get(4)?),
                    compound: r.try_get(5)?,
                    building_no: u32_of(r.try_get(6)?),
                    village_group: u32_of(r.try_get(7)?),
                    house_no: u32_of(r.try_get(8)?),
                    kind: r.try_get(9)?,
                    floors: u32_of(r.try_get(10)?).unwrap_or(1),
                    lon: r.try_get(11)?,
                    lat: r.try_get(12)?,
                });
            }
        });
        Ok(out)
    }

    pub async fn load_units(&self) -> Result<Vec<UnitRow>> {
        let u32_of = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
        if let Store::Sqlite(p) = self {
            let fields = [
                packed_text("code"),
                packed_text("building_code"),
                packed_text("label"),
                packed_int("unit_no"),
                packed_int("room"),
            ];
            let mut out = sqlite_packed(p, "units", &fields, 1, |r| {
                Ok(UnitRow {
                    code: r.req_text("code")?.to_string(),
                    building_code: r.req_text("building_code")?.to_string(),
                    label: r.req_text("label")?.to_string(),
                    unit_no: u32_of(r.int()?),
                    room: u32_of(r.int()?),
                })
            })
            .await?;
            // The order of `ORDER BY code` (rowid order is usually that already, and a
            // stable sort of sorted input is one pass).
            out.sort_by(|a, b| a.code.cmp(&b.code));
            return Ok(out);
        }
        let sql = "SELECT code, building_code, label, unit_no, room FROM units ORDER BY code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(UnitRow {
                    code: r.try_get(0)?,
                    building_code: r.try_get(1)?,
                    label: r.try_get(2)?,
                    unit_no: u32_of(r.try_get(3)?),
                    room: u32_of(r.try_get(4)?),
                });
            }
        });
        Ok(out)
    }

    pub async fn load_housing(&self) -> Result<Vec<HousingRow>> {
        if let Store::Sqlite(p) = self {
            let fields = [
                packed_text("address_code"),
                packed_text("link"),
                packed_text("occupancy"),
                packed_real("floor_area"),
            ];
            return sqlite_packed(p, "housing", &fields, 1, |r| {
                Ok(HousingRow {
                    address_code: r.text()?.map(str::to_string),
                    link: link(r.req_text("link")?),
                    occupancy: r.req_text("occupancy")?.to_string(),
                    floor_area: r.real()?.unwrap_or(0.0),
                })
            })
            .await;
        }
        let sql = "SELECT address_code, link, occupancy, floor_area FROM housing";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let l: String = r.try_get(1)?;
                out.push(HousingRow {
                    address_code: r.try_get(0)?,
                    link: link(&l),
                    occupancy: r.try_get(2)?,
                    floor_area: r.try_get::<Option<f64>, _>(3)?.unwrap_or(0.0),
                });
            }
        });
        Ok(out)
    }

    pub async fn load_residents(&self) -> Result<Vec<ResidentFacts>> {
        // Only derived facts leave the store here; names, ID numbers and phones stay.
        // The facts are packed into one integer by SQL (portable to both backends) so
        // the 627,000 rows cost one string each, not six.
        // Birth year and month come from `birth_ym` (the full date is encrypted).
        let packed = "CAST(\
                     COALESCE(birth_ym, 0) * 100 \
                     + (CASE WHEN sex = 'M' THEN 10 ELSE 0 END) \
                     + (CASE WHEN registration = 'floating' THEN 1 ELSE 0 END) AS BIGINT)";
        let link_no = "CAST(CASE link WHEN 'unit' THEN 0 WHEN 'building' THEN 1 WHEN 'ambiguous' THEN 2 \
                     WHEN 'unmatched' THEN 3 ELSE 4 END AS BIGINT)";
        let links = [
            LinkStatus::Unit,
            LinkStatus::Building,
            LinkStatus::Ambiguous,
            LinkStatus::Unmatched,
            LinkStatus::Pending,
        ];
        let facts =
            |address_code: Option<String>, packed: i64, link: i64, groups: &str| ResidentFacts {
                address_code,
                link: links[link.clamp(0, 4) as usize],
                male: packed % 100 >= 10,
                birth_year: u16::try_from(packed / 10_000).unwrap_or(0),
                birth_month: u8::try_from(packed / 100 % 100).unwrap_or(1),
                floating: packed % 10 == 1,
                key_groups: if groups.is_empty() {
                    0
                } else {
                    key_group_bits(groups)
                },
            };
        if let Store::Sqlite(p) = self {
            let fields = [
                packed_text("address_code"),
                packed_int(packed),
                packed_int(link_no),
                packed_text("key_groups"),
            ];
            // The largest table: two chunks in flight, so SQLite runs on both cores.
            return sqlite_packed(p, "residents", &fields, 2, |r| {
                let code = r.text()?.map(str::to_string);
                let packed = r.req_int("facts")?;
                let link = r.req_int("link")?;
                Ok(facts(code, packed, link, r.text()?.unwrap_or("")))
            })
            .await;
        }
        let sql = format!("SELECT address_code, {packed}, {link_no}, key_groups FROM residents");
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(&sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let groups: String = r.try_get(3)?;
                out.push(facts(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, &groups));
            }
        });
        Ok(out)
    }

    pub async fn load_enterprises(&self) -> Result<Vec<EnterpriseRow>> {
        let sql = "SELECT address_code, link, industry, size, employees FROM enterprises";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let l: String = r.try_get(1)?;
                out.push(EnterpriseRow {
                    address_code: r.try_get(0)?,
                    link: link(&l),
                    industry: r.try_get(2)?,
                    size: r.try_get(3)?,
                    employees: r.try_get(4)?,
                });
            }
        });
        Ok(out)
    }

    pub async fn load_events(&self) -> Result<Vec<Event>> {
        if let Store::Sqlite(p) = self {
            let fields = [
                packed_text("code"),
                packed_text("category"),
                packed_text("source"),
                packed_text("status"),
                packed_text("risk_tier"),
                packed_text("title"),
                packed_text("description"),
                packed_real("lon"),
                packed_real("lat"),
                packed_text("address_code"),
                packed_text("grid_code"),
                packed_int("reported_at"),
                packed_int("deadline"),
                packed_text("mediation_org"),
                packed_text("diversion"),
                packed_int("resolved_by_mediation"),
                packed_int("escalated"),
                packed_int("closed_at"),
                packed_int("version"),
                packed_int("updated_at"),
                packed_text("owner"),
                packed_text("owner_display"),
                packed_text("owner_unit_kind"),
                packed_text("owner_unit"),
                packed_text("case_leader"),
                packed_text("supervision_note"),
                packed_text("supervision_deadline"),
                packed_text("supervision_by"),
                packed_int("supervision_at"),
                packed_text("satisfaction"),
                packed_text("duplicate_of"),
                packed_text("next_visit"),
                packed_int("large_since"),
            ];
            let mut out = sqlite_packed(p, "events", &fields, 1, |r| {
                Ok(Event {
                    code: r.req_text("code")?.to_string(),
                    category: r.req_text("category")?.to_string(),
                    source: r.req_text("source")?.to_string(),
                    status: r.req_text("status")?.to_string(),
                    risk_tier: r.req_text("risk_tier")?.to_string(),
                    title: r.req_text("title")?.to_string(),
                    description: r.req_text("description")?.to_string(),
                    lon: r.req_real("lon")?,
                    lat: r.req_real("lat")?,
                    address_code: r.text()?.map(str::to_string),
                    grid_code: r.req_text("grid_code")?.to_string(),
                    reported_at: r.req_int("reported_at")?,
                    deadline: r.req_int("deadline")?,
                    mediation_org: r.text()?.map(str::to_string),
                    diversion: r.text()?.map(str::to_string),
                    resolved_by_mediation: r.req_int("resolved_by_mediation")? != 0,
                    escalated: r.req_int("escalated")? != 0,
                    closed_at: r.int()?,
                    version: r.req_int("version")?,
                    updated_at: r.req_int("updated_at")?,
                    owner: r.text()?.map(str::to_string),
                    owner_display: r.text()?.map(str::to_string),
                    owner_unit_kind: r.text()?.map(str::to_string),
                    owner_unit: r.text()?.map(str::to_string),
                    case_leader: r.text()?.map(str::to_string),
                    supervision: {
                        let note = r.text()?.map(str::to_string);
                        let deadline = r.text()?.map(str::to_string);
                        let by = r.text()?.map(str::to_string);
                        supervision_of(note, deadline, by, r.int()?)
                    },
                    satisfaction: r.text()?.map(str::to_string),
                    duplicate_of: r.text()?.map(str::to_string),
                    next_visit: r.text()?.map(str::to_string),
                    large_since: r.int()?,
                })
            })
            .await?;
            // The order of `ORDER BY reported_at, code` below.
            out.sort_by(|a, b| (a.reported_at, &a.code).cmp(&(b.reported_at, &b.code)));
            return Ok(out);
        }
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY reported_at, code");
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(&sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(event_from_row(&r)?);
            }
        });
        Ok(out)
    }
}

/// SQLite only: read `table` in rowid chunks of [`PACKED_CHUNK_ROWS`], each chunk one
/// row: the `fields` of its rows concatenated (`group_concat`) into one string, parsed
/// back by `parse` in rowid order. Through sqlx a SQLite row costs far more than the
/// bytes it carries (a worker-thread hand-off and a copy of every value), so fewer, fatter
/// rows are what makes the start-up load fast; `in_flight` chunks are read concurrently
/// (each on its own connection, so SQLite itself runs on several cores).
async fn sqlite_packed<T>(
    pool: &sqlx::SqlitePool,
    table: &'static str,
    fields: &[String],
    in_flight: usize,
    mut parse: impl FnMut(&mut Packed<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    use futures_util::StreamExt;
    let (first, last): (Option<i64>, Option<i64>) =
        sqlx::query_as(&format!("SELECT min(rowid), max(rowid) FROM {table}"))
            .fetch_one(pool)
            .await?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT count(*), group_concat({}, '') FROM {table} WHERE rowid >= ?1 AND rowid < ?2",
        fields.join(" || ")
    );
    let starts = (first..=last).step_by(PACKED_CHUNK_ROWS as usize);
    let mut chunks = futures_util::stream::iter(starts)
        .map(|start| {
            sqlx::query_as::<_, (i64, Option<String>)>(&sql)
                .bind(start)
                .bind(start.saturating_add(PACKED_CHUNK_ROWS))
                .fetch_one(pool)
        })
        .buffered(in_flight.max(1));
    let mut out = Vec::with_capacity(usize::try_from(last - first + 1).unwrap_or(0));
    while let Some(chunk) = chunks.next().await {
        let (rows, packed) = chunk?;
        let before = out.len();
        let mut r = Packed {
            s: packed.as_deref().unwrap_or(""),
        };
        while !r.done() {
            out.push(parse(&mut r).with_context(|| format!("loading {table}"))?);
        }
        anyhow::ensure!(
            (out.len() - before) as i64 == rows,
            "loading {table}: a packed chunk held {} rows, not {rows}",
            out.len() - before
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Packed;

    #[test]
    fn packed_fields_round_trip_tricky_text() {
        // What SQLite's packing would produce for: ("3:~,:" , NULL, 42, -7, "旌阳区2单元", NULL real, 85.5).
        let label = "旌阳区2单元";
        let s = format!("5:3:~,:~42,-7,{}:{label}~85.5,", label.len());
        let mut r = Packed { s: &s };
        assert_eq!(r.text().unwrap(), Some("3:~,:"));
        assert_eq!(r.text().unwrap(), None);
        assert_eq!(r.int().unwrap(), Some(42));
        assert_eq!(r.int().unwrap(), Some(-7));
        assert_eq!(r.text().unwrap(), Some(label));
        assert_eq!(r.real().unwrap(), None);
        assert_eq!(r.real().unwrap(), Some(85.5));
        assert!(r.done());
        // A length that would cut a character, or run past the end, is an error.
        assert!(Packed { s: "1:旌" }.text().is_err());
        assert!(Packed { s: "9:ab" }.text().is_err());
        assert!(Packed { s: "12" }.int().is_err());
    }
}
