//! GeoPackage layers. A GeoPackage is an SQLite database: it is opened read-only with
//! sqlx's SQLite driver (already the embedded store's), the first feature table of
//! `gpkg_geometry_columns` (or the one named like the file) is read, its `srs_id` gives
//! the CRS (an EPSG code we know, else the WKT in `gpkg_spatial_ref_sys`), and each
//! geometry blob — the GeoPackage header, then standard WKB — is decoded here.
//!
//! Why not a crate for the blob: `geozero`'s GeoPackage reader comes with its own sqlx
//! integration and a generic processor layer, and the current `wkb` crate decodes into
//! `geo-traits` views whose conversion to the workspace's `geo-types` is another layer to
//! align; the header is 8 bytes plus an envelope and the WKB subset needed (points,
//! lines, polygons, their multi forms and collections, with Z/M ignored) is short and
//! tested below.

use super::crs::{self, Crs};
use super::source::{Cell, Item, Records, SourceRow};
use geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use std::path::Path;

/// The features of the GeoPackage at `path`, in WGS-84. `stem`: the file's base name,
/// preferred as the table name when there are several layers.
pub async fn records(path: &Path, stem: &str, explicit: Option<&Crs>) -> Result<Records, String> {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .map_err(|e| format!("not a readable GeoPackage: {e}"))?;
    let layers: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT table_name, column_name, srs_id FROM gpkg_geometry_columns ORDER BY table_name",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| format!("not a GeoPackage (no gpkg_geometry_columns): {e}"))?;
    let (table, column, srs_id) = layers
        .iter()
        .find(|(t, _, _)| t == stem)
        .or(layers.first())
        .cloned()
        .ok_or("the GeoPackage has no feature table")?;
    let crs = match explicit {
        Some(c) => c.clone(),
        None => srs_crs(&mut conn, srs_id).await?,
    };
    let quoted = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
    let sql = format!(
        "SELECT rowid AS minqing_pos, * FROM {} ORDER BY rowid",
        quoted(&table)
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("reading table {table}: {e}"))?;
    let mut header: Vec<String> = Vec::new();
    let mut geom_at = usize::MAX;
    if let Some(first) = rows.first() {
        for (i, c) in first.columns().iter().enumerate().skip(1) {
            if c.name() == column {
                geom_at = i;
            } else {
                header.push(c.name().to_string());
            }
        }
    }
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let pos: i64 = row.try_get_unchecked(0).unwrap_or_default();
        let mut cells = Vec::with_capacity(header.len());
        let mut geometry = None;
        for i in 1..row.len() {
            let cell = value(row, i);
            if i == geom_at {
                geometry = Some(match cell {
                    Blob(b) => {
                        decode_blob(&b).and_then(|mut g| crs.geometry_to_wgs84(&mut g).map(|()| g))
                    }
                    Plain(Cell::Empty) => Err("the feature has no geometry".into()),
                    _ => Err("the geometry column does not hold a GeoPackage geometry".into()),
                });
            } else {
                cells.push(match cell {
                    Blob(_) => {
                        Cell::Bad("a binary value where text or a number was expected".into())
                    }
                    Plain(c) => c,
                });
            }
        }
        items.push(Item::Row(SourceRow {
            pos: pos as u64,
            cells,
            geometry,
        }));
    }
    Ok(Records {
        header,
        encoding: "utf-8",
        crs: crs.name(),
        items: Box::new(items.into_iter()),
    })
}

async fn srs_crs(conn: &mut sqlx::SqliteConnection, srs_id: i64) -> Result<Crs, String> {
    // 0 and -1 are the GeoPackage's "undefined" systems: read as longitude/latitude.
    if srs_id <= 0 {
        return Ok(Crs::default());
    }
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
    )
    .bind(srs_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| format!("reading gpkg_spatial_ref_sys: {e}"))?;
    let (org, code, def) = row.ok_or(format!("srs_id {srs_id} is not in gpkg_spatial_ref_sys"))?;
    if org.eq_ignore_ascii_case("epsg")
        && let Some(c) = Crs::from_epsg(code as u32)
    {
        return Ok(c);
    }
    crs::from_wkt(&def).map_err(|e| format!("srs_id {srs_id}: {e}"))
}

enum Value {
    Plain(Cell),
    Blob(Vec<u8>),
}
use Value::{Blob, Plain};

fn value(row: &sqlx::sqlite::SqliteRow, i: usize) -> Value {
    let Ok(raw) = row.try_get_raw(i) else {
        return Plain(Cell::Empty);
    };
    if raw.is_null() {
        return Plain(Cell::Empty);
    }
    let kind = raw.type_info().name().to_string();
    match kind.as_str() {
        "INTEGER" => Plain(
            row.try_get_unchecked::<i64, _>(i)
                .map_or(Cell::Empty, Cell::Int),
        ),
        "REAL" => Plain(
            row.try_get_unchecked::<f64, _>(i)
                .map_or(Cell::Empty, Cell::Real),
        ),
        "BLOB" => Blob(row.try_get_unchecked::<Vec<u8>, _>(i).unwrap_or_default()),
        _ => Plain(
            row.try_get_unchecked::<String, _>(i)
                .map_or(Cell::Bad("text that is not UTF-8".into()), Cell::Text),
        ),
    }
}

/// A GeoPackage geometry blob: `GP`, version, flags, srs_id, envelope, WKB.
pub fn decode_blob(b: &[u8]) -> Result<Geometry<f64>, String> {
    if b.len() < 8 || &b[..2] != b"GP" {
        return Err("not a GeoPackage geometry (no GP header)".into());
    }
    let flags = b[3];
    if flags & 0b0010_0000 != 0 {
        return Err("an extended GeoPackage geometry type is not supported".into());
    }
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        e => return Err(format!("bad envelope code {e} in the GeoPackage header")),
    };
    if flags & 0b0001_0000 != 0 {
        return Err("the geometry is empty".into());
    }
    let start = 8 + envelope;
    let wkb = b.get(start..).ok_or("the geometry blob is cut short")?;
    let mut r = Wkb { b: wkb, at: 0 };
    r.geometry()
}

/// A cursor over WKB (ISO and EWKB type codes; Z and M dropped).
struct Wkb<'a> {
    b: &'a [u8],
    at: usize,
}

impl Wkb<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self
            .b
            .get(self.at..self.at + N)
            .ok_or("the WKB is cut short")?;
        self.at += N;
        Ok(s.try_into().expect("length checked"))
    }

    fn u32(&mut self, le: bool) -> Result<u32, String> {
        let v = self.take::<4>()?;
        Ok(if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    }

    fn f64(&mut self, le: bool) -> Result<f64, String> {
        let v = self.take::<8>()?;
        Ok(if le {
            f64::from_le_bytes(v)
        } else {
            f64::from_be_bytes(v)
        })
    }

    fn coord(&mut self, le: bool, extra: usize) -> Result<Coord<f64>, String> {
        let x = self.f64(le)?;
        let y = self.f64(le)?;
        for _ in 0..extra {
            self.f64(le)?;
        }
        Ok(Coord { x, y })
    }

    fn count(&mut self, le: bool) -> Result<usize, String> {
        let n = self.u32(le)? as usize;
        // Each item takes at least 16 bytes: a count beyond the blob is corruption.
        if n > self.b.len() {
            return Err(format!(
                "the WKB claims {n} items in {} bytes",
                self.b.len()
            ));
        }
        Ok(n)
    }

    fn ring(&mut self, le: bool, extra: usize) -> Result<LineString<f64>, String> {
        let n = self.count(le)?;
        (0..n)
            .map(|_| self.coord(le, extra))
            .collect::<Result<Vec<_>, _>>()
            .map(LineString::new)
    }

    fn polygon(&mut self, le: bool, extra: usize) -> Result<Polygon<f64>, String> {
        let n = self.count(le)?;
        let mut rings = (0..n)
            .map(|_| self.ring(le, extra))
            .collect::<Result<Vec<_>, _>>()?;
        if rings.is_empty() {
            return Err("a polygon without rings".into());
        }
        let outer = rings.remove(0);
        Ok(Polygon::new(outer, rings))
    }

    fn geometry(&mut self) -> Result<Geometry<f64>, String> {
        let le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            o => return Err(format!("bad WKB byte order {o}")),
        };
        let raw = self.u32(le)?;
        let mut extra = 0;
        if raw & 0x8000_0000 != 0 {
            extra += 1;
        }
        if raw & 0x4000_0000 != 0 {
            extra += 1;
        }
        if raw & 0x2000_0000 != 0 {
            self.u32(le)?; // EWKB SRID
        }
        let code = raw & 0x0FFF_FFFF;
        let (kind, iso) = (code % 1000, code / 1000);
        extra += match iso {
            0 => 0,
            1 | 2 => 1,
            3 => 2,
            _ => return Err(format!("unknown WKB geometry type {code}")),
        };
        let parts = |this: &mut Self| -> Result<Vec<Geometry<f64>>, String> {
            let n = this.count(le)?;
            (0..n).map(|_| this.geometry()).collect()
        };
        Ok(match kind {
            1 => Geometry::Point(Point(self.coord(le, extra)?)),
            2 => Geometry::LineString(self.ring(le, extra)?),
            3 => Geometry::Polygon(self.polygon(le, extra)?),
            4 => Geometry::MultiPoint(MultiPoint(
                parts(self)?
                    .into_iter()
                    .map(|g| Point::try_from(g).map_err(|_| "a MultiPoint holds a non-point"))
                    .collect::<Result<_, _>>()?,
            )),
            5 => Geometry::MultiLineString(MultiLineString(
                parts(self)?
                    .into_iter()
                    .map(|g| {
                        LineString::try_from(g).map_err(|_| "a MultiLineString holds a non-line")
                    })
                    .collect::<Result<_, _>>()?,
            )),
            6 => Geometry::MultiPolygon(MultiPolygon(
                parts(self)?
                    .into_iter()
                    .map(|g| Polygon::try_from(g).map_err(|_| "a MultiPolygon holds a non-polygon"))
                    .collect::<Result<_, _>>()?,
            )),
            7 => Geometry::GeometryCollection(geo_types::GeometryCollection(parts(self)?)),
            k => return Err(format!("unsupported WKB geometry type {k}")),
        })
    }
}

/// WKB and GeoPackage blobs, written for the tests (little-endian, 2D).
pub mod write {
    use geo_types::{Geometry, Polygon};

    fn ring(out: &mut Vec<u8>, coords: &[geo_types::Coord<f64>]) {
        out.extend_from_slice(&(coords.len() as u32).to_le_bytes());
        for c in coords {
            out.extend_from_slice(&c.x.to_le_bytes());
            out.extend_from_slice(&c.y.to_le_bytes());
        }
    }

    fn polygon(out: &mut Vec<u8>, p: &Polygon<f64>) {
        out.push(1);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
        ring(out, &p.exterior().0);
        for r in p.interiors() {
            ring(out, &r.0);
        }
    }

    /// The WKB of a point, polygon or multipolygon.
    pub fn wkb(g: &Geometry<f64>) -> Vec<u8> {
        let mut out = Vec::new();
        match g {
            Geometry::Point(p) => {
                out.push(1);
                out.extend_from_slice(&1u32.to_le_bytes());
                out.extend_from_slice(&p.x().to_le_bytes());
                out.extend_from_slice(&p.y().to_le_bytes());
            }
            Geometry::Polygon(p) => polygon(&mut out, p),
            Geometry::MultiPolygon(m) => {
                out.push(1);
                out.extend_from_slice(&6u32.to_le_bytes());
                out.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
                for p in &m.0 {
                    polygon(&mut out, p);
                }
            }
            other => panic!("write::wkb does not write {other:?}"),
        }
        out
    }

    /// A GeoPackage blob (no envelope) of `g` in `srs_id`.
    pub fn blob(g: &Geometry<f64>, srs_id: i32) -> Vec<u8> {
        let mut out = b"GP\0\x01".to_vec();
        out.extend_from_slice(&srs_id.to_le_bytes());
        out.extend_from_slice(&wkb(g));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_damage_is_named() {
        let poly = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
            vec![],
        );
        let g = Geometry::MultiPolygon(MultiPolygon(vec![poly.clone(), poly]));
        let blob = write::blob(&g, 4326);
        assert_eq!(decode_blob(&blob).unwrap(), g);
        let p = Geometry::Point(Point::new(104.4, 31.1));
        assert_eq!(decode_blob(&write::blob(&p, 4490)).unwrap(), p);
        assert!(
            decode_blob(&blob[..blob.len() - 3])
                .unwrap_err()
                .contains("cut short")
        );
        assert!(decode_blob(b"XX\0\x01\0\0\0\0").is_err());
        // Big-endian ISO point Z (1001).
        let mut be = b"GP\0\0\0\0\x10\xe6".to_vec();
        be.push(0);
        be.extend_from_slice(&1001u32.to_be_bytes());
        for v in [1.5f64, 2.5, 9.0] {
            be.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(
            decode_blob(&be).unwrap(),
            Geometry::Point(Point::new(1.5, 2.5))
        );
    }
}
