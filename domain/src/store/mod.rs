//! The durable store: one interface, two sqlx backends.
//!
//! - **embedded** (default): SQLite in WAL mode, a single file, nothing to install;
//! - **PostGIS**: the same columns plus generated geometry columns (SRID 4326) with GiST
//!   indexes, for production and ad-hoc spatial SQL.
//!
//! Both schemas have the same column names and compatible types (TEXT, 64-bit integers,
//! doubles), so every query here is written once and compiled for each backend by the
//! [`dispatch!`] macro. The store is read once at start ([`Store::load`]) to build the
//! in-memory index; no tile, search or model request touches SQL.

pub mod load;

use anyhow::{Context, Result, bail};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, QueryBuilder, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// A connected store.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open write transaction; everything in it commits or nothing does.
pub enum StoreTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Run `$body` once per backend with `$p` bound to that backend's value.
macro_rules! dispatch {
    ($value:expr, $ty:ident, $p:ident => $body:expr) => {
        match $value {
            $ty::Sqlite($p) => $body,
            $ty::Postgres($p) => $body,
        }
    };
}
pub(crate) use dispatch;

/// A column value for bulk inserts.
#[derive(Debug, Clone, PartialEq)]
/// Nulls are typed because PostgreSQL checks a parameter's type against its column.
pub enum SqlValue {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(Some(v))
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(Some(v.to_string()))
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(Some(v))
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(Some(v))
    }
}
impl From<Option<String>> for SqlValue {
    fn from(v: Option<String>) -> Self {
        SqlValue::Text(v)
    }
}
impl From<Option<i64>> for SqlValue {
    fn from(v: Option<i64>) -> Self {
        SqlValue::Int(v)
    }
}

/// Bind one row's values onto a `push_values` separator.
macro_rules! bind_row {
    ($b:expr, $row:expr) => {
        for v in $row {
            match v {
                SqlValue::Text(s) => $b.push_bind(s.clone()),
                SqlValue::Int(i) => $b.push_bind(*i),
                SqlValue::Real(f) => $b.push_bind(*f),
            };
        }
    };
}

/// A table as the importer writes it: its columns in order and its natural key.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub key: &'static str,
}

impl Table {
    /// Rows per INSERT statement, within both backends' bind-parameter limits.
    pub fn batch_rows(&self) -> usize {
        (30_000 / self.columns.len()).max(1)
    }
}

impl Store {
    /// Connect to `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("bad SQLite URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: an acknowledged write survives power loss, not only a crash.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                // One connection per query the start-up load runs concurrently (8 tables, the
                // residents with two chunks in flight: 9), so no load waits on the pool (whose
                // acquire timeout guards the write path).
                .max_connections(10)
                // A write never hangs: a busy pool is a 503 with Retry-After.
                .acquire_timeout(Duration::from_secs(5))
                // A write that fails inside SQLite (SQLITE_FULL on a full disk, an I/O
                // error) may roll its transaction back by itself; sqlx's ROLLBACK then
                // fails and leaves the connection's transaction depth at 1, so every
                // later BEGIN on it would fail ("non-zero transaction depth") even once
                // the disk has room again. Such a connection is closed here instead of
                // reused (the pool opens a fresh one). The ping lets a rollback queued
                // by a dropped transaction finish first.
                .before_acquire(|conn, _meta| {
                    Box::pin(async move {
                        use sqlx::{Connection, TransactionManager};
                        conn.ping().await?;
                        Ok(
                            <sqlx::Sqlite as sqlx::Database>::TransactionManager::get_transaction_depth(conn)
                                == 0,
                        )
                    })
                })
                .connect_with(opts)
                .await
                .with_context(|| format!("opening {url}"))?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).context("bad PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await
                .context("connecting to PostgreSQL")?;
            Ok(Store::Postgres(pool))
        } else {
            bail!("unsupported database URL (want sqlite://PATH or postgres://…)")
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Apply `migrations/` for this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(p) => sqlx::migrate!("../migrations/sqlite").run(p).await?,
            Store::Postgres(p) => sqlx::migrate!("../migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<StoreTx> {
        Ok(match self {
            Store::Sqlite(p) => StoreTx::Sqlite(p.begin().await?),
            Store::Postgres(p) => StoreTx::Postgres(p.begin().await?),
        })
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> Result<i64> {
        anyhow::ensure!(
            table.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "bad table name"
        );
        let sql = format!("SELECT COUNT(*) FROM {table}");
        dispatch!(self, Store, p => Ok(sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await?))
    }

    pub async fn close(&self) {
        dispatch!(self, Store, p => p.close().await)
    }
}

impl StoreTx {
    /// Insert `rows` into `table`, skipping rows whose key exists (imports are
    /// idempotent). Returns how many rows were new.
    pub async fn insert(&mut self, table: &Table, rows: &[Vec<SqlValue>]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(table.batch_rows()) {
            let head = format!("INSERT INTO {} ({}) ", table.name, table.columns.join(", "));
            inserted += dispatch!(self, StoreTx, tx => {
                let mut qb = QueryBuilder::new(head);
                qb.push_values(chunk, |mut b, row| bind_row!(b, row));
                qb.push(format!(" ON CONFLICT ({}) DO NOTHING", table.key));
                qb.build().execute(&mut **tx).await?.rows_affected()
            });
        }
        Ok(inserted)
    }

    /// Record an import report and its line errors; returns the report id.
    pub async fn record_report(&mut self, r: &crate::import::FileReport) -> Result<i64> {
        let now = crate::time::system_now();
        let sql = "INSERT INTO import_reports (file, imported_at, encoding, rows_total, rows_loaded, rows_duplicate, \
                   rows_rejected, linked_unit, linked_building, ambiguous, unmatched, pending, rows_updated, \
                   rows_retired) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id";
        let l = &r.links;
        let id: i64 = dispatch!(self, StoreTx, tx => sqlx::query_scalar(sql)
            .bind(&r.file)
            .bind(now)
            .bind(r.encoding)
            .bind(r.rows_total as i64)
            .bind(r.rows_loaded as i64)
            .bind(r.rows_duplicate as i64)
            .bind(r.errors.len() as i64)
            .bind(l.unit as i64)
            .bind(l.building as i64)
            .bind(l.ambiguous as i64)
            .bind(l.unmatched as i64)
            .bind(l.pending as i64)
            .bind(r.rows_updated as i64)
            .bind(r.rows_retired as i64)
            .fetch_one(&mut **tx)
            .await?);
        let rows: Vec<Vec<SqlValue>> = r
            .errors
            .iter()
            .map(|e| vec![id.into(), (e.line as i64).into(), e.message.clone().into()])
            .collect();
        if !rows.is_empty() {
            // import_errors has no key; plain inserts.
            for chunk in rows.chunks(5_000) {
                dispatch!(self, StoreTx, tx => {
                    let mut qb = QueryBuilder::new("INSERT INTO import_errors (report_id, line, message) ");
                    qb.push_values(chunk, |mut b, row| bind_row!(b, row));
                    qb.build().execute(&mut **tx).await?;
                });
            }
        }
        Ok(id)
    }

    pub async fn commit(self) -> Result<()> {
        dispatch!(self, StoreTx, tx => tx.commit().await?);
        Ok(())
    }

    /// Give this transaction's SQLite connection a page cache large enough for a bulk
    /// load. With SQLite's default 2 MB cache, a file's inserts spill dirty index pages
    /// to the WAL long before the commit and read them back from it page by page, and that
    /// cost grows with the size of the transaction: at scale 3 the residents took 4.4× as
    /// long as at scale 1. The cache is only allocated as pages are touched, and
    /// [`StoreTx::commit_bulk`] gives it back. PostgreSQL needs nothing here.
    pub async fn begin_bulk(&mut self) -> Result<()> {
        if let StoreTx::Sqlite(tx) = self {
            sqlx::query(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Commit a transaction begun with [`StoreTx::begin_bulk`], and give the connection
    /// SQLite's default cache again, so a pooled connection does not keep the bulk load's
    /// pages for as long as the server runs.
    pub async fn commit_bulk(self) -> Result<()> {
        match self {
            StoreTx::Sqlite(mut tx) => {
                // Lowering the limit before the commit only frees clean pages; the dirty
                // ones are written by the commit and freed as they are released.
                sqlx::query("PRAGMA cache_size = -2000")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            StoreTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// The secondary indexes a bulk load dropped, as the statements that
/// recreate them (see [`StoreTx::defer_indexes`]).
#[must_use = "the dropped indexes come back only through StoreTx::rebuild_indexes"]
pub struct DeferredIndexes(Vec<String>);

impl StoreTx {
    /// Drop the plain secondary indexes of `table` for a bulk load of about `incoming`
    /// rows that [`StoreTx::rebuild_indexes`] ends, unless the table already holds more
    /// than [`REBUILD_RATIO`] times that many. Inserting rows in file order into an index
    /// keyed by something unrelated to that order (a keyed hash of the ID number, a
    /// household) touches a random page per row: once the indexes outgrow the page cache
    /// each row costs page reads and writes, and the load grows worse than linearly.
    /// Building an index from the loaded table sorts once instead. Primary keys and
    /// unique indexes stay: `ON CONFLICT` needs them. The drop is part of this
    /// transaction, so a load that fails or is killed rolls back to the indexes as they
    /// were. A small file into a big table keeps the indexes: rebuilding them would cost
    /// more than its inserts. On PostgreSQL the drop holds the table's ACCESS EXCLUSIVE
    /// lock until the commit, so while a big import runs, other sessions' reads and
    /// writes of that table wait for it (servers read the register only at start-up, but
    /// a running server's intake writes `events`: a big events import belongs before the
    /// servers start).
    pub async fn defer_indexes(&mut self, table: &Table, incoming: u64) -> Result<DeferredIndexes> {
        // Counted only up to the limit, so a small file into a big table scans no more
        // rows than it brings.
        let limit = incoming
            .saturating_mul(REBUILD_RATIO)
            .min(i64::MAX as u64 - 1);
        let count_sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT {}) AS head",
            table.name,
            limit + 1
        );
        let existing: i64 = dispatch!(self, StoreTx, tx => sqlx::query_scalar(&count_sql)
            .fetch_one(&mut **tx)
            .await?);
        if existing as u64 > limit {
            return Ok(DeferredIndexes(Vec::new()));
        }
        let indexes: Vec<(String, String)> = match self {
            // origin 'c': made by CREATE INDEX (not a PRIMARY KEY or UNIQUE constraint).
            StoreTx::Sqlite(tx) => {
                sqlx::query_as(
                    "SELECT m.name, m.sql FROM pragma_index_list(?1) AS l \
                 JOIN sqlite_master AS m ON m.type = 'index' AND m.name = l.name \
                 WHERE l.origin = 'c' AND l.\"unique\" = 0 AND m.sql IS NOT NULL ORDER BY m.name",
                )
                .bind(table.name)
                .fetch_all(&mut **tx)
                .await?
            }
            StoreTx::Postgres(tx) => {
                sqlx::query_as(
                    "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i \
                 JOIN pg_class AS c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = $1::regclass AND NOT i.indisprimary AND NOT i.indisunique \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid) \
                 ORDER BY c.relname",
                )
                .bind(table.name)
                .fetch_all(&mut **tx)
                .await?
            }
        };
        let mut recreate = Vec::with_capacity(indexes.len());
        for (name, create) in indexes {
            let drop = format!("DROP INDEX \"{}\"", name.replace('"', "\"\""));
            dispatch!(self, StoreTx, tx => {
                sqlx::query(&drop).execute(&mut **tx).await?;
            });
            recreate.push(create);
        }
        Ok(DeferredIndexes(recreate))
    }

    /// Recreate the indexes [`StoreTx::defer_indexes`] dropped, in the same transaction.
    pub async fn rebuild_indexes(&mut self, deferred: DeferredIndexes) -> Result<()> {
        for create in deferred.0 {
            dispatch!(self, StoreTx, tx => {
                sqlx::query(&create).execute(&mut **tx).await?;
            });
        }
        Ok(())
    }
}

/// A bulk load rebuilds a table's indexes when the table holds at most this many times
/// the rows it brings (see [`StoreTx::defer_indexes`]).
pub const REBUILD_RATIO: u64 = 4;

/// The page cache, in KiB, of a bulk load's SQLite connection (see [`StoreTx::begin_bulk`]).
const BULK_CACHE_KIB: u64 = 1 << 20;

/// The tables the importer fills, with their columns in file order.
pub mod tables {
    use super::Table;

    pub const AREAS: Table = Table {
        name: "areas",
        columns: &["code", "name", "level", "parent_code", "kind", "geojson"],
        key: "code",
    };
    pub const ROADS: Table = Table {
        name: "roads",
        columns: &["id", "name", "class", "geojson"],
        key: "id",
    };
    /// The basemap (migration 0012): rivers and lakes, land use, points of interest.
    pub const WATER: Table = Table {
        name: "water",
        columns: &["id", "name", "kind", "geojson"],
        key: "id",
    };
    pub const LANDUSE: Table = Table {
        name: "landuse",
        columns: &["id", "name", "kind", "geojson"],
        key: "id",
    };
    /// The centre's road aliases and old names (migration 0013).
    pub const ADDRESS_ALIASES: Table = Table {
        name: "address_aliases",
        columns: &["alias", "canonical", "added_by", "added_at"],
        key: "alias",
    };
    pub const POIS: Table = Table {
        name: "pois",
        columns: &["id", "name", "kind", "rank", "geojson"],
        key: "id",
    };
    pub const BUILDINGS: Table = Table {
        name: "buildings",
        columns: &[
            "code",
            "label",
            "grid_code",
            "road",
            "door",
            "compound",
            "building_no",
            "village_group",
            "house_no",
            "kind",
            "floors",
            "lon",
            "lat",
        ],
        key: "code",
    };
    pub const UNITS: Table = Table {
        name: "units",
        columns: &["code", "building_code", "unit_no", "floor", "room", "label"],
        key: "code",
    };
    pub const HOUSING: Table = Table {
        name: "housing",
        columns: &[
            "id",
            "address",
            "address_code",
            "link",
            "floor_area",
            "occupancy",
        ],
        key: "id",
    };
    pub const RESIDENTS: Table = Table {
        name: "residents",
        columns: &[
            "id",
            "name",
            "sex",
            "birth_date",
            "id_number",
            "phone",
            "registration",
            "household_id",
            "relation",
            "address",
            "address_code",
            "link",
            "key_groups",
            "id_number_bidx",
            "birth_ym",
        ],
        key: "id",
    };
    pub const ENTERPRISES: Table = Table {
        name: "enterprises",
        columns: &[
            "id",
            "name",
            "credit_code",
            "industry",
            "size",
            "employees",
            "address",
            "address_code",
            "link",
        ],
        key: "id",
    };
    pub const EVENTS: Table = Table {
        name: "events",
        columns: &[
            "code",
            "category",
            "source",
            "status",
            "risk_tier",
            "title",
            "description",
            "lon",
            "lat",
            "address_code",
            "grid_code",
            "reported_at",
            "deadline",
            "mediation_org",
            "diversion",
            "resolved_by_mediation",
            "escalated",
            "closed_at",
            "version",
            "updated_at",
            // Migration 0007; optional in an import file (see `EVENT_OPTIONAL_COLUMNS`).
            "owner",
            "owner_display",
            "owner_unit_kind",
            "owner_unit",
            "case_leader",
            "supervision_note",
            "supervision_deadline",
            "supervision_by",
            "supervision_at",
            "satisfaction",
            "duplicate_of",
            "next_visit",
            "large_since",
        ],
        key: "code",
    };
    /// The columns of `events` an import file may leave out (they came with migration
    /// 0007; files written before it have none of them).
    pub const EVENT_OPTIONAL_COLUMNS: &[&str] = &[
        "owner",
        "owner_display",
        "owner_unit_kind",
        "owner_unit",
        "case_leader",
        "supervision_note",
        "supervision_deadline",
        "supervision_by",
        "supervision_at",
        "satisfaction",
        "duplicate_of",
        "next_visit",
        "large_since",
    ];
    pub const EVENT_STEPS: Table = Table {
        name: "event_steps",
        columns: &[
            "event_code",
            "seq",
            "at",
            "actor",
            "action",
            "from_status",
            "to_status",
            "note",
        ],
        key: "event_code, seq",
    };
}
