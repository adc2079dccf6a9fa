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
     closed_at, version, updated_at";

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
    })
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
        let (areas, roads, buildings, units, housing, residents, enterprises, events) = tokio::try_join!(
            timed("areas", self.load_areas()),
            timed("roads", self.load_roads()),
            timed("buildings", self.load_buildings()),
            timed("units", self.load_units()),
            timed("housing", self.load_housing()),
            timed("residents", self.load_residents()),
            timed("enterprises", self.load_enterprises()),
            timed("events", self.load_events()),
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
        })
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
        let sql = "SELECT code, label, grid_code, road, door, compound, building_no, village_group, house_no, kind, \
                   floors, lon, lat FROM buildings ORDER BY code";
        let mut out = Vec::new();
        let u32_of = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
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
        let sql = "SELECT code, building_code, label, unit_no, room FROM units ORDER BY code";
        let mut out = Vec::new();
        let u32_of = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
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
        let sql = "SELECT address_code, CAST(\
                     CAST(substr(birth_date, 1, 4) AS INTEGER) * 10000 \
                     + CAST(substr(birth_date, 6, 2) AS INTEGER) * 100 \
                     + (CASE WHEN sex = 'M' THEN 10 ELSE 0 END) \
                     + (CASE WHEN registration = 'floating' THEN 1 ELSE 0 END) AS BIGINT), \
                   CAST(CASE link WHEN 'unit' THEN 0 WHEN 'building' THEN 1 WHEN 'ambiguous' THEN 2 \
                     WHEN 'unmatched' THEN 3 ELSE 4 END AS BIGINT), key_groups FROM residents";
        let links = [
            LinkStatus::Unit,
            LinkStatus::Building,
            LinkStatus::Ambiguous,
            LinkStatus::Unmatched,
            LinkStatus::Pending,
        ];
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let packed: i64 = r.try_get(1)?;
                let link: i64 = r.try_get(2)?;
                let groups: String = r.try_get(3)?;
                out.push(ResidentFacts {
                    address_code: r.try_get(0)?,
                    link: links[link.clamp(0, 4) as usize],
                    male: packed % 100 >= 10,
                    birth_year: u16::try_from(packed / 10_000).unwrap_or(0),
                    birth_month: u8::try_from(packed / 100 % 100).unwrap_or(1),
                    floating: packed % 10 == 1,
                    key_groups: if groups.is_empty() { 0 } else { key_group_bits(&groups) },
                });
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
