//! Shapefiles through the `shapefile` and `dbase` crates: the `.shp` geometries, the
//! `.dbf` attributes in the encoding the `.cpg` names (else the `.dbf` header's language
//! driver, else detected: UTF-8 when the text decodes so, GBK/GB18030 otherwise), and the
//! `.prj` coordinate system.
//!
//! Features are numbered from 1 in file order. A `.shp` that ends inside a feature is
//! reported as broken at that feature; the features before it are read.

use super::LineError;
use super::crs::{self, Crs};
use super::source::{Cell, Item, Records, SourceRow};
use std::path::Path;

/// A sibling file of `shp` with extension `ext` (either case), when it exists.
fn part(shp: &Path, ext: &str) -> Option<std::path::PathBuf> {
    [ext.to_string(), ext.to_ascii_uppercase()]
        .into_iter()
        .map(|e| shp.with_extension(e))
        .find(|p| p.is_file())
}

/// The `.dbf`'s text encoding and how it was decided.
fn dbf_encoding(shp: &Path, dbf: &Path) -> Result<&'static encoding_rs::Encoding, String> {
    if let Some(cpg) = part(shp, "cpg") {
        let text = std::fs::read_to_string(&cpg).map_err(|e| format!("reading the .cpg: {e}"))?;
        let label = text.trim().to_ascii_lowercase();
        let enc = match label.as_str() {
            "936" | "cp936" | "ansi 936" | "gbk" | "gb2312" | "gb18030" => {
                Some(encoding_rs::GB18030)
            }
            "65001" | "utf8" | "utf-8" => Some(encoding_rs::UTF_8),
            other => encoding_rs::Encoding::for_label(other.as_bytes()),
        };
        return enc.ok_or_else(|| format!("the .cpg names an unknown encoding {:?}", text.trim()));
    }
    let bytes = std::fs::read(dbf).map_err(|e| format!("reading the .dbf: {e}"))?;
    // Byte 29: the language driver; 0x4D and 0x7A are Chinese GBK (code page 936).
    if matches!(bytes.get(29), Some(0x4D | 0x7A)) {
        return Ok(encoding_rs::GB18030);
    }
    // The records start after the header (its length at bytes 8–9); the header itself
    // holds binary counts.
    let start = bytes
        .get(8..10)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize)
        .min(bytes.len());
    Ok(match std::str::from_utf8(&bytes[start..]) {
        Ok(_) => encoding_rs::UTF_8,
        Err(e) if e.error_len().is_none() => encoding_rs::UTF_8,
        Err(_) => encoding_rs::GB18030,
    })
}

/// The file's CRS: `explicit` (a `.crs` sidecar or `--crs`) wins, then the `.prj`, then
/// WGS-84 longitude/latitude.
pub fn prj_crs(shp: &Path, explicit: Option<&Crs>) -> Result<Crs, String> {
    if let Some(c) = explicit {
        return Ok(c.clone());
    }
    match part(shp, "prj") {
        Some(prj) => {
            let wkt = std::fs::read(&prj).map_err(|e| format!("reading the .prj: {e}"))?;
            crs::from_wkt(&String::from_utf8_lossy(&wkt)).map_err(|e| format!("the .prj: {e}"))
        }
        None => Ok(Crs::default()),
    }
}

fn value_cell(v: Option<&dbase::FieldValue>) -> Cell {
    use dbase::FieldValue as V;
    let text = |s: &str| {
        if s.contains('\u{FFFD}') {
            Cell::Bad("the text is not valid in the .dbf's encoding".into())
        } else {
            Cell::Text(s.to_string())
        }
    };
    match v {
        None => Cell::Empty,
        Some(V::Character(Some(s))) | Some(V::Memo(s)) => text(s),
        Some(V::Numeric(Some(f))) | Some(V::Double(f)) | Some(V::Currency(f)) => Cell::Real(*f),
        Some(V::Float(Some(f))) => Cell::Real(*f as f64),
        Some(V::Integer(i)) => Cell::Int(*i as i64),
        Some(V::Logical(Some(b))) => Cell::Int(*b as i64),
        Some(V::Date(Some(d))) => {
            Cell::Text(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
        Some(V::DateTime(dt)) => {
            let d = dt.date();
            Cell::Text(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
        Some(_) => Cell::Empty,
    }
}

/// The features of the Shapefile `path` (its `.dbf` must exist), in WGS-84.
pub fn records(path: &Path, explicit: Option<&Crs>) -> Result<Records, String> {
    let dbf = part(path, "dbf").ok_or("its attribute table (.dbf) is missing")?;
    let crs = prj_crs(path, explicit)?;
    let encoding = dbf_encoding(path, &dbf)?;
    let mut shapes =
        shapefile::ShapeReader::from_path(path).map_err(|e| format!("not a readable .shp: {e}"))?;
    let mut table = dbase::ReaderBuilder::new()
        .with_encoding(dbase::encoding::EncodingRs::from(encoding))
        .open(&dbf)
        .map_err(|e| format!("not a readable .dbf: {e}"))?;
    let header: Vec<String> = table
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let shapes: Vec<Result<shapefile::Shape, String>> = {
        let mut out = Vec::new();
        for s in shapes.iter_shapes() {
            match s {
                Ok(s) => out.push(Ok(s)),
                Err(e) => {
                    // The iterator does not move past a bad record: stop here.
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    };
    let mut records: Vec<Result<Vec<Cell>, String>> = Vec::new();
    for r in table.iter_records() {
        match r {
            Ok(rec) => records.push(Ok(header.iter().map(|h| value_cell(rec.get(h))).collect())),
            Err(e) => {
                records.push(Err(e.to_string()));
                if records.len() > shapes.len() + 1 {
                    break;
                }
            }
        }
    }
    let mut items = Vec::with_capacity(shapes.len());
    let n_records = records.len();
    let mut records = records.into_iter();
    for (i, shape) in shapes.into_iter().enumerate() {
        let pos = i as u64 + 1;
        let shape = match shape {
            Ok(s) => s,
            Err(e) => {
                items.push(Item::Broken(format!(
                    "the .shp cannot be read at feature {pos} (truncated or corrupt): {e}"
                )));
                break;
            }
        };
        let cells = match records.next() {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                items.push(Item::Bad(LineError {
                    line: pos,
                    message: format!("its .dbf record cannot be read: {e}"),
                }));
                continue;
            }
            None => {
                items.push(Item::Broken(format!(
                    "the .dbf has {n_records} records but the .shp has more features"
                )));
                break;
            }
        };
        let geometry = match shape {
            shapefile::Shape::NullShape => Err("the feature has no geometry".to_string()),
            s => geo_types::Geometry::<f64>::try_from(s)
                .map_err(|e| format!("bad geometry: {e}"))
                .and_then(|mut g| crs.geometry_to_wgs84(&mut g).map(|()| g)),
        };
        items.push(Item::Row(SourceRow {
            pos,
            cells,
            geometry: Some(geometry),
        }));
    }
    Ok(Records {
        header,
        encoding: if encoding == encoding_rs::UTF_8 {
            "utf-8"
        } else {
            "gb18030"
        },
        crs: crs.name(),
        items: Box::new(items.into_iter()),
    })
}
