//! Monthly deltas: records added, updated and retired by their source keys.
//!
//! A file of residents, housing or enterprises may carry an `op` column (`add`,
//! `update`, `retire`; the registers' own words 新增/变更/注销 too). `minqing import
//! --delta` reads rows without one as `update`. What each operation does, by whether
//! the key is in the store:
//!
//! | op | key stored | key not stored |
//! |---|---|---|
//! | `add` | a repeat (nothing changes) | added |
//! | `update` | its values replaced, its address linked again | error: nothing to update |
//! | `retire` | deleted, its key kept in `import_retired` | a repeat if retired before, else error |
//!
//! so applying the same delta twice changes nothing the second time but rewrite the
//! same values. A retire row needs only its key. Retired records are gone from the store,
//! so the index and every aggregate built from it at the next start leave them out.

use super::{FileReport, LineError};
use crate::model::LinkStatus;
use crate::store::{SqlValue, StoreTx, Table, dispatch};
use anyhow::Result;
use sqlx::QueryBuilder;
use std::collections::HashSet;

/// The tables a delta may change (records with a source key and a free-text address).
pub const DELTA_TABLES: [&str; 3] = ["residents", "housing", "enterprises"];

/// What a row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Update,
    Retire,
}

impl Op {
    /// The row's `op` value; an empty one is `update` in a delta import, else `add`.
    pub fn parse(v: Option<&str>, delta: bool) -> Result<Op, String> {
        Ok(match v.map(str::trim).unwrap_or("") {
            "" if delta => Op::Update,
            "" => Op::Add,
            "add" | "新增" | "增加" => Op::Add,
            "update" | "变更" | "修改" | "更新" => Op::Update,
            "retire" | "注销" | "删除" | "迁出" => Op::Retire,
            v => {
                return Err(format!(
                    "op {v:?} is not add, update or retire (新增, 变更, 注销)"
                ));
            }
        })
    }
}

/// A valid row waiting for its batch.
pub struct Pending {
    pub line: u64,
    pub op: Op,
    pub key: String,
    /// The store row (none for a retire).
    pub row: Option<Vec<SqlValue>>,
    pub link: Option<LinkStatus>,
}

/// Apply a batch of rows with operations, recording each outcome in `report`.
pub async fn apply(
    tx: &mut StoreTx,
    table: &Table,
    file: &str,
    batch: &mut Vec<Pending>,
    report: &mut FileReport,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = batch.iter().map(|p| p.key.as_str()).collect();
    let mut existing = select_keys(tx, table, &keys).await?;
    let retiring: Vec<&str> = batch
        .iter()
        .filter(|p| p.op == Op::Retire && !existing.contains(&p.key))
        .map(|p| p.key.as_str())
        .collect();
    let retired_before = retired_keys(tx, table.name, &retiring).await?;
    let (mut inserts, mut updates, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
    for p in batch.drain(..) {
        let stored = existing.contains(&p.key);
        match (p.op, stored) {
            (Op::Add, true) => {
                report.rows_duplicate += 1;
                count(report, p.link);
            }
            (Op::Add, false) => {
                existing.insert(p.key.clone());
                report.rows_loaded += 1;
                count(report, p.link);
                inserts.extend(p.row);
            }
            (Op::Update, true) => {
                report.rows_updated += 1;
                count(report, p.link);
                updates.extend(p.row);
            }
            (Op::Update, false) => report.errors.push(LineError {
                line: p.line,
                message: format!("no record {} to update (use op add)", p.key),
            }),
            (Op::Retire, true) => {
                existing.remove(&p.key);
                report.rows_retired += 1;
                deletes.push(p.key);
            }
            (Op::Retire, false) if retired_before.contains(&p.key) => {
                report.rows_duplicate += 1;
            }
            (Op::Retire, false) => report.errors.push(LineError {
                line: p.line,
                message: format!("no record {} to retire", p.key),
            }),
        }
    }
    // The caller flushes before a key repeats within a batch, so the three statements
    // never touch one key twice and their order does not matter.
    tx.insert(table, &inserts).await?;
    upsert(tx, table, &updates).await?;
    delete(tx, table, file, &deletes).await?;
    Ok(())
}

fn count(report: &mut FileReport, link: Option<LinkStatus>) {
    if let Some(l) = link {
        super::count_link(&mut report.links, l);
    }
}

/// Which of `keys` are stored in `table`.
async fn select_keys(tx: &mut StoreTx, table: &Table, keys: &[&str]) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in keys.chunks(5_000) {
        let head = format!(
            "SELECT {k} FROM {t} WHERE {k} IN (",
            k = table.key,
            t = table.name
        );
        dispatch!(tx, StoreTx, t => {
            let mut qb = QueryBuilder::new(head);
            let mut sep = qb.separated(", ");
            for k in chunk {
                sep.push_bind(k.to_string());
            }
            qb.push(")");
            let found: Vec<String> = qb.build_query_scalar().fetch_all(&mut **t).await?;
            out.extend(found);
        });
    }
    Ok(out)
}

/// Which of `keys` were retired from `kind` before.
async fn retired_keys(tx: &mut StoreTx, kind: &str, keys: &[&str]) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in keys.chunks(5_000) {
        dispatch!(tx, StoreTx, t => {
            let mut qb = QueryBuilder::new("SELECT record_id FROM import_retired WHERE kind = ");
            qb.push_bind(kind.to_string());
            qb.push(" AND record_id IN (");
            let mut sep = qb.separated(", ");
            for k in chunk {
                sep.push_bind(k.to_string());
            }
            qb.push(")");
            let found: Vec<String> = qb.build_query_scalar().fetch_all(&mut **t).await?;
            out.extend(found);
        });
    }
    Ok(out)
}

/// Replace the stored values of rows whose key exists.
async fn upsert(tx: &mut StoreTx, table: &Table, rows: &[Vec<SqlValue>]) -> Result<()> {
    let set = table
        .columns
        .iter()
        .filter(|c| **c != table.key)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in rows.chunks(table.batch_rows()) {
        let head = format!("INSERT INTO {} ({}) ", table.name, table.columns.join(", "));
        dispatch!(tx, StoreTx, t => {
            let mut qb = QueryBuilder::new(head);
            qb.push_values(chunk, |mut b, row| {
                for v in row {
                    match v {
                        SqlValue::Text(s) => b.push_bind(s.clone()),
                        SqlValue::Int(i) => b.push_bind(*i),
                        SqlValue::Real(f) => b.push_bind(*f),
                    };
                }
            });
            qb.push(format!(" ON CONFLICT ({}) DO UPDATE SET {set}", table.key));
            qb.build().execute(&mut **t).await?;
        });
    }
    Ok(())
}

/// Delete the records of `keys` and keep their keys as retired.
async fn delete(tx: &mut StoreTx, table: &Table, file: &str, keys: &[String]) -> Result<()> {
    let now = crate::time::system_now();
    for chunk in keys.chunks(5_000) {
        let head = format!("DELETE FROM {} WHERE {} IN (", table.name, table.key);
        dispatch!(tx, StoreTx, t => {
            let mut qb = QueryBuilder::new(head);
            let mut sep = qb.separated(", ");
            for k in chunk {
                sep.push_bind(k.clone());
            }
            qb.push(")");
            qb.build().execute(&mut **t).await?;
            let mut qb = QueryBuilder::new("INSERT INTO import_retired (kind, record_id, retired_at, file) ");
            qb.push_values(chunk, |mut b, k| {
                b.push_bind(table.name.to_string())
                    .push_bind(k.clone())
                    .push_bind(now)
                    .push_bind(file.to_string());
            });
            qb.push(" ON CONFLICT (kind, record_id) DO UPDATE SET retired_at = excluded.retired_at, file = excluded.file");
            qb.build().execute(&mut **t).await?;
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_read_in_both_languages() {
        assert_eq!(Op::parse(None, false), Ok(Op::Add));
        assert_eq!(Op::parse(Some(" "), true), Ok(Op::Update));
        assert_eq!(Op::parse(Some("注销"), false), Ok(Op::Retire));
        assert_eq!(Op::parse(Some("变更"), false), Ok(Op::Update));
        let e = Op::parse(Some("remove"), false).unwrap_err();
        assert!(e.contains("remove"), "{e}");
    }
}
