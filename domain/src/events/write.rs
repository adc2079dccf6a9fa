//! Every write of the closed loop is ONE store transaction: the event row, its history
//! step, the change-outbox row (and the idempotency record at intake) commit together
//! or not at all. Callers acknowledge only after [`commit`] returned, then apply the
//! change to the in-memory index and publish it.
//!
//! Writes are serialised: SQLite takes the write lock at `BEGIN IMMEDIATE`; PostgreSQL
//! takes a transaction-scoped advisory lock first. That makes event codes and the
//! outbox sequence gap-free in commit order (a live-feed client that resumes after
//! change N can never miss a change committed later with a smaller number), and makes
//! concurrent retries with one `Idempotency-Key` see each other. Dispute intake is a
//! few writes a minute, so one writer costs nothing that matters.

use crate::Error;
use crate::model::{Event, EventStep};
use crate::store::load::EVENT_COLUMNS;
use crate::store::{Store, StoreTx, dispatch};
use sqlx::Row;

/// Any advisory-lock number unique to this use: "5106030005".
const PG_WRITE_LOCK: i64 = 5_106_030_005;

/// A store failure as the caller sees it: unavailable (retry later), never a hang (the
/// pools have acquire timeouts) and never internals; a full disk says so.
pub fn unavailable(e: impl Into<anyhow::Error>) -> Error {
    let e = e.into();
    if disk_full(&e) {
        tracing::error!(error = ?e, "event store write failed: the disk is full");
        return Error::StorageFull(
            "the event store's disk is full: nothing was written; retry once space is freed".into(),
        );
    }
    tracing::error!(error = ?e, "event store write failed");
    Error::Unavailable("the event store is unavailable; retry later".into())
}

/// The audit log could not be written (the read it guards is refused): unavailable, or
/// full when the disk is. The cause is logged, never shown.
pub fn audit_unavailable(e: anyhow::Error) -> Error {
    if disk_full(&e) {
        tracing::error!(error = ?e, "audit append failed: the disk is full");
        return Error::StorageFull(
            "the store's disk is full: the audit log cannot be written; retry once space is freed"
                .into(),
        );
    }
    tracing::error!(error = ?e, "audit append failed");
    Error::Unavailable("the audit log cannot be written; retry later".into())
}

/// Whether a store error means "no space left": SQLite's `SQLITE_FULL` (13), or an
/// `SQLITE_IOERR_*` / plain I/O error whose cause is ENOSPC, PostgreSQL's `disk_full`
/// (53100).
pub fn disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::StorageFull;
        }
        match c.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(d)) => {
                matches!(d.code().as_deref(), Some("13") | Some("53100"))
                    || d.message().contains("database or disk is full")
                    || d.message().contains("No space left on device")
            }
            Some(sqlx::Error::Io(io)) => io.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    })
}

/// Open a serialised write transaction.
pub async fn begin(store: &Store) -> Result<StoreTx, Error> {
    Ok(match store {
        Store::Sqlite(p) => {
            StoreTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await.map_err(unavailable)?)
        }
        Store::Postgres(p) => {
            let mut tx = p.begin().await.map_err(unavailable)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_WRITE_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            StoreTx::Postgres(tx)
        }
    })
}

pub async fn commit(tx: StoreTx) -> Result<(), Error> {
    tx.commit().await.map_err(unavailable)
}

/// The next sequence number of `year`, starting after the highest code already stored
/// (the imported history).
pub async fn next_sequence(tx: &mut StoreTx, year: i64) -> Result<i64, Error> {
    let bump = "UPDATE event_sequences SET next = next + 1 WHERE year = $1 RETURNING next";
    let n: Option<i64> = dispatch!(tx, StoreTx, t => sqlx::query_scalar(bump)
        .bind(year)
        .fetch_optional(&mut **t)
        .await
        .map_err(unavailable)?);
    if let Some(n) = n {
        return Ok(n);
    }
    let prefix = format!("{}{year}%", crate::model::DISTRICT_CODE);
    let seed = "INSERT INTO event_sequences (year, next) \
                SELECT $1, COALESCE(MAX(CAST(SUBSTR(code, 11) AS BIGINT)), 0) + 1 FROM events \
                WHERE code LIKE $2 AND LENGTH(code) = 16 \
                ON CONFLICT (year) DO UPDATE SET next = event_sequences.next + 1 RETURNING next";
    dispatch!(tx, StoreTx, t => sqlx::query_scalar(seed)
        .bind(year)
        .bind(&prefix)
        .fetch_one(&mut **t)
        .await
        .map_err(unavailable))
}

/// How long an `Idempotency-Key` is honoured: a day covers any client's retries; after
/// that the key may be used again for a new request.
pub const IDEMPOTENCY_TTL_S: i64 = 24 * 3600;

/// The request and first response stored under an idempotency key within its lifetime
/// (an expired record of the key is removed first, in the same transaction).
pub async fn find_idempotency(
    tx: &mut StoreTx,
    key: &str,
    now: i64,
) -> Result<Option<(String, String)>, Error> {
    let expire = "DELETE FROM idempotency_keys WHERE key = $1 AND created_at < $2";
    dispatch!(tx, StoreTx, t => sqlx::query(expire)
        .bind(key)
        .bind(now - IDEMPOTENCY_TTL_S)
        .execute(&mut **t)
        .await
        .map_err(unavailable)
        .map(|_| ())?);
    let sql = "SELECT request, response FROM idempotency_keys WHERE key = $1";
    let row = dispatch!(tx, StoreTx, t => sqlx::query(sql)
        .bind(key)
        .fetch_optional(&mut **t)
        .await
        .map_err(unavailable)?
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))));
    Ok(row)
}

/// Remove every idempotency record older than its lifetime; returns how many.
pub async fn purge_idempotency(store: &Store, now: i64) -> Result<u64, Error> {
    let sql = "DELETE FROM idempotency_keys WHERE created_at < $1";
    Ok(dispatch!(store, Store, p => sqlx::query(sql)
        .bind(now - IDEMPOTENCY_TTL_S)
        .execute(p)
        .await
        .map_err(unavailable)?
        .rows_affected()))
}

pub async fn insert_idempotency(
    tx: &mut StoreTx,
    key: &str,
    code: &str,
    request: &str,
    response: &str,
    now: i64,
) -> Result<(), Error> {
    let sql = "INSERT INTO idempotency_keys (key, event_code, request, response, created_at) \
               VALUES ($1, $2, $3, $4, $5)";
    dispatch!(tx, StoreTx, t => sqlx::query(sql)
        .bind(key).bind(code).bind(request).bind(response).bind(now)
        .execute(&mut **t)
        .await
        .map_err(unavailable)
        .map(|_| ())?);
    Ok(())
}

pub async fn insert_event(tx: &mut StoreTx, e: &Event) -> Result<(), Error> {
    let placeholders: Vec<String> = (1..=33).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO events ({EVENT_COLUMNS}) VALUES ({})",
        placeholders.join(", ")
    );
    let sup = e.supervision.as_ref();
    dispatch!(tx, StoreTx, t => sqlx::query(&sql)
        .bind(&e.code).bind(&e.category).bind(&e.source).bind(&e.status).bind(&e.risk_tier)
        .bind(&e.title).bind(&e.description).bind(e.lon).bind(e.lat).bind(&e.address_code)
        .bind(&e.grid_code).bind(e.reported_at).bind(e.deadline).bind(&e.mediation_org)
        .bind(&e.diversion).bind(e.resolved_by_mediation as i64).bind(e.escalated as i64)
        .bind(e.closed_at).bind(e.version).bind(e.updated_at)
        .bind(&e.owner).bind(&e.owner_display).bind(&e.owner_unit_kind).bind(&e.owner_unit)
        .bind(&e.case_leader).bind(sup.map(|s| s.note.clone())).bind(sup.map(|s| s.deadline.clone()))
        .bind(sup.map(|s| s.by.clone())).bind(sup.map(|s| s.at)).bind(&e.satisfaction)
        .bind(&e.duplicate_of).bind(&e.next_visit).bind(e.large_since)
        .execute(&mut **t)
        .await
        .map_err(unavailable)
        .map(|_| ())?);
    Ok(())
}

/// Write the changed columns of `e` if the stored version is still `seen`; false when
/// another writer got there first.
pub async fn update_event(tx: &mut StoreTx, e: &Event, seen: i64) -> Result<bool, Error> {
    let sql = "UPDATE events SET status = $1, risk_tier = $2, deadline = $3, mediation_org = $4, \
               diversion = $5, resolved_by_mediation = $6, escalated = $7, closed_at = $8, \
               version = $9, updated_at = $10, owner = $11, owner_display = $12, \
               owner_unit_kind = $13, owner_unit = $14, case_leader = $15, supervision_note = $16, \
               supervision_deadline = $17, supervision_by = $18, supervision_at = $19, \
               satisfaction = $20, duplicate_of = $21, next_visit = $22, large_since = $23 \
               WHERE code = $24 AND version = $25";
    let sup = e.supervision.as_ref();
    let n = dispatch!(tx, StoreTx, t => sqlx::query(sql)
        .bind(&e.status).bind(&e.risk_tier).bind(e.deadline).bind(&e.mediation_org)
        .bind(&e.diversion).bind(e.resolved_by_mediation as i64).bind(e.escalated as i64)
        .bind(e.closed_at).bind(e.version).bind(e.updated_at)
        .bind(&e.owner).bind(&e.owner_display).bind(&e.owner_unit_kind).bind(&e.owner_unit)
        .bind(&e.case_leader).bind(sup.map(|s| s.note.clone())).bind(sup.map(|s| s.deadline.clone()))
        .bind(sup.map(|s| s.by.clone())).bind(sup.map(|s| s.at)).bind(&e.satisfaction)
        .bind(&e.duplicate_of).bind(&e.next_visit).bind(e.large_since)
        .bind(&e.code).bind(seen)
        .execute(&mut **t)
        .await
        .map_err(unavailable)?
        .rows_affected());
    Ok(n == 1)
}

/// Append one history step (history is never updated or deleted).
pub async fn append_step(tx: &mut StoreTx, s: &EventStep) -> Result<(), Error> {
    let sql = "INSERT INTO event_steps (event_code, seq, at, actor, action, from_status, to_status, note) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    dispatch!(tx, StoreTx, t => sqlx::query(sql)
        .bind(&s.event_code).bind(s.seq).bind(s.at).bind(&s.actor).bind(&s.action)
        .bind(&s.from_status).bind(&s.to_status).bind(&s.note)
        .execute(&mut **t)
        .await
        .map_err(unavailable)
        .map(|_| ())?);
    Ok(())
}

/// Append to the change outbox; returns the change's sequence number (the live feed's
/// event id).
pub async fn record_change(
    tx: &mut StoreTx,
    code: &str,
    action: &str,
    payload: &str,
    now: i64,
) -> Result<i64, Error> {
    let sql = "INSERT INTO event_changes (event_code, action, payload, at) VALUES ($1, $2, $3, $4) RETURNING seq";
    let seq: i64 = dispatch!(tx, StoreTx, t => sqlx::query_scalar(sql)
        .bind(code).bind(action).bind(payload).bind(now)
        .fetch_one(&mut **t)
        .await
        .map_err(unavailable))?;
    // Other replicas on this database hear of it at commit (see [`super::replica`]).
    if let StoreTx::Postgres(t) = tx {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(super::replica::CHANNEL)
            .bind(seq.to_string())
            .execute(&mut **t)
            .await
            .map_err(unavailable)?;
    }
    Ok(seq)
}

/// The event codes of the outbox changes after `seq`, oldest first.
pub async fn change_codes_after(
    store: &Store,
    seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, Error> {
    outbox_after(
        store,
        "SELECT seq, event_code FROM event_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        seq,
        limit,
    )
    .await
}

/// `(seq, text)` rows of an outbox query taking `seq` and `limit`.
async fn outbox_after(
    store: &Store,
    sql: &str,
    seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, Error> {
    let rows: Result<Vec<(i64, String)>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).bind(seq).bind(limit).fetch_all(p).await {
            Ok(rows) => rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect(),
            Err(e) => Err(e),
        }
    });
    rows.map_err(unavailable)
}

/// The stored event (outside a write transaction).
pub async fn event_by_code(store: &Store, code: &str) -> Result<Option<Event>, Error> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE code = $1");
    let row: Result<Option<Event>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(&sql).bind(code).fetch_optional(p).await {
            Ok(Some(r)) => (|| Ok(Some(crate::store::load::event_from_row(&r)?)))(),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    });
    row.map_err(unavailable)
}

/// The stored event (inside the write transaction: the source of truth across replicas).
pub async fn event_in(tx: &mut StoreTx, code: &str) -> Result<Option<Event>, Error> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE code = $1");
    let row: Result<Option<Event>, sqlx::Error> = dispatch!(tx, StoreTx, t => {
        match sqlx::query(&sql).bind(code).fetch_optional(&mut **t).await {
            Ok(Some(r)) => (|| Ok(Some(crate::store::load::event_from_row(&r)?)))(),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    });
    row.map_err(unavailable)
}

/// The full history of an event, oldest first.
pub async fn history(store: &Store, code: &str) -> Result<Vec<EventStep>, Error> {
    let sql = "SELECT event_code, seq, at, actor, action, from_status, to_status, note \
               FROM event_steps WHERE event_code = $1 ORDER BY seq";
    let rows: Result<Vec<EventStep>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).bind(code).fetch_all(p).await {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    Ok(EventStep {
                        event_code: r.try_get(0)?,
                        seq: r.try_get(1)?,
                        at: r.try_get(2)?,
                        actor: r.try_get(3)?,
                        action: r.try_get(4)?,
                        from_status: r.try_get(5)?,
                        to_status: r.try_get(6)?,
                        note: r.try_get(7)?,
                    })
                })
                .collect(),
            Err(e) => Err(e),
        }
    });
    rows.map_err(unavailable)
}

/// Outbox rows after `seq` (the live feed's replay), oldest first.
pub async fn changes_after(
    store: &Store,
    seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, Error> {
    outbox_after(
        store,
        "SELECT seq, payload FROM event_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        seq,
        limit,
    )
    .await
}

/// The newest outbox sequence number (0 when empty).
pub async fn last_change(store: &Store) -> Result<i64, Error> {
    let sql = "SELECT COALESCE(MAX(seq), 0) FROM event_changes";
    dispatch!(store, Store, p => sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await
        .map_err(unavailable))
}

/// Record a follow-up visit (in the step's transaction).
pub async fn insert_visit(
    tx: &mut StoreTx,
    code: &str,
    v: &super::service::Visit,
) -> Result<(), Error> {
    let sql = "INSERT INTO event_visits (event_code, at, kind, outcome, next_visit, by_user) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    dispatch!(tx, StoreTx, t => sqlx::query(sql)
        .bind(code).bind(v.at).bind(&v.kind).bind(&v.outcome).bind(&v.next_visit).bind(&v.by)
        .execute(&mut **t)
        .await
        .map_err(unavailable)
        .map(|_| ())?);
    Ok(())
}

/// Record a joint review (in the step's transaction). Participants are stored as a JSON
/// array.
pub async fn insert_review(
    tx: &mut StoreTx,
    code: &str,
    r: &super::service::Review,
    now: i64,
) -> Result<(), Error> {
    let participants = serde_json::to_string(&r.participants).map_err(Error::internal)?;
    let sql = "INSERT INTO event_reviews (event_code, at, participants, conclusion, by_user, recorded_at) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    dispatch!(tx, StoreTx, t => sqlx::query(sql)
        .bind(code).bind(r.at).bind(&participants).bind(&r.conclusion).bind(&r.by).bind(now)
        .execute(&mut **t)
        .await
        .map_err(unavailable)
        .map(|_| ())?);
    Ok(())
}

/// An event's follow-up visits, oldest first.
pub async fn visits(store: &Store, code: &str) -> Result<Vec<super::service::Visit>, Error> {
    let sql = "SELECT at, kind, outcome, next_visit, by_user FROM event_visits \
               WHERE event_code = $1 ORDER BY at, id";
    let rows: Result<Vec<super::service::Visit>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).bind(code).fetch_all(p).await {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    Ok(super::service::Visit {
                        at: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        outcome: r.try_get(2)?,
                        next_visit: r.try_get(3)?,
                        by: r.try_get(4)?,
                    })
                })
                .collect(),
            Err(e) => Err(e),
        }
    });
    rows.map_err(unavailable)
}

/// An event's joint reviews, in the order they took place.
pub async fn reviews(store: &Store, code: &str) -> Result<Vec<super::service::Review>, Error> {
    let sql = "SELECT at, participants, conclusion, by_user FROM event_reviews \
               WHERE event_code = $1 ORDER BY at, id";
    let rows: Result<Vec<(i64, String, String, String)>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).bind(code).fetch_all(p).await {
            Ok(rows) => rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect(),
            Err(e) => Err(e),
        }
    });
    Ok(rows
        .map_err(unavailable)?
        .into_iter()
        .map(
            |(at, participants, conclusion, by)| super::service::Review {
                at,
                participants: serde_json::from_str(&participants).unwrap_or_default(),
                conclusion,
                by,
            },
        )
        .collect())
}

/// Codes of the events `actor` took a step on at or after `since`.
pub async fn codes_stepped_by(
    store: &Store,
    actor: &str,
    since: i64,
) -> Result<Vec<String>, Error> {
    let sql = "SELECT DISTINCT event_code FROM event_steps WHERE actor = $1 AND at >= $2";
    dispatch!(store, Store, p => sqlx::query_scalar::<_, String>(sql)
        .bind(actor)
        .bind(since)
        .fetch_all(p)
        .await
        .map_err(unavailable))
}

/// The alerts (event code, kind, alert time) an account has read.
pub async fn alerts_read(
    store: &Store,
    user_id: i64,
) -> Result<std::collections::HashSet<(String, String, i64)>, Error> {
    let sql = "SELECT event_code, kind, alert_at FROM alerts_read WHERE user_id = $1";
    let rows: Result<Vec<(String, String, i64)>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).bind(user_id).fetch_all(p).await {
            Ok(rows) => rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect(),
            Err(e) => Err(e),
        }
    });
    Ok(rows.map_err(unavailable)?.into_iter().collect())
}

/// Mark alerts read for an account (already read ones stay as they are).
pub async fn mark_alerts_read(
    store: &Store,
    user_id: i64,
    alerts: &[(String, String, i64)],
    now: i64,
) -> Result<(), Error> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().await.map_err(unavailable)?;
    let sql = "INSERT INTO alerts_read (user_id, event_code, kind, alert_at, read_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
    for (code, kind, at) in alerts {
        dispatch!(&mut tx, StoreTx, t => sqlx::query(sql)
            .bind(user_id).bind(code).bind(kind).bind(*at).bind(now)
            .execute(&mut **t)
            .await
            .map_err(unavailable)
            .map(|_| ())?);
    }
    tx.commit().await.map_err(unavailable)
}

/// A stored photo.
pub struct Photo {
    pub id: i64,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub bytes: Vec<u8>,
    pub thumb: Vec<u8>,
}

pub async fn insert_photo(tx: &mut StoreTx, code: &str, p: &Photo, now: i64) -> Result<i64, Error> {
    let sql = "INSERT INTO event_photos (event_code, content_type, width, height, bytes, thumb, uploaded_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    dispatch!(tx, StoreTx, t => sqlx::query_scalar(sql)
        .bind(code).bind(&p.content_type).bind(p.width).bind(p.height)
        .bind(&p.bytes).bind(&p.thumb).bind(now)
        .fetch_one(&mut **t)
        .await
        .map_err(unavailable))
}

pub async fn photo(store: &Store, code: &str, id: i64) -> Result<Option<Photo>, Error> {
    let sql = "SELECT id, content_type, width, height, bytes, thumb FROM event_photos \
               WHERE event_code = $1 AND id = $2";
    let row: Result<Option<Photo>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).bind(code).bind(id).fetch_optional(p).await {
            Ok(Some(r)) => (|| Ok(Some(Photo {
                id: r.try_get(0)?,
                content_type: r.try_get(1)?,
                width: r.try_get(2)?,
                height: r.try_get(3)?,
                bytes: r.try_get(4)?,
                thumb: r.try_get(5)?,
            })))(),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    });
    row.map_err(unavailable)
}

/// Ids of an event's photos.
pub async fn photo_ids(store: &Store, code: &str) -> Result<Vec<i64>, Error> {
    let sql = "SELECT id FROM event_photos WHERE event_code = $1 ORDER BY id";
    dispatch!(store, Store, p => sqlx::query_scalar::<_, i64>(sql)
        .bind(code)
        .fetch_all(p)
        .await
        .map_err(unavailable))
}

/// The first time each event entered each status of the funnel's stages (`(event code,
/// to_status, at)`; see `super::work::Reached`), read once at load.
pub async fn stage_steps(store: &Store) -> Result<Vec<(String, String, i64)>, Error> {
    let sql = "SELECT event_code, to_status, MIN(at) FROM event_steps \
               WHERE to_status IN ('mediating', 'resolved', 'diverted', 'closed', 'followed_up') \
               GROUP BY event_code, to_status";
    let rows: Result<Vec<(String, String, i64)>, sqlx::Error> = dispatch!(store, Store, p => {
        match sqlx::query(sql).fetch_all(p).await {
            Ok(rows) => rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect(),
            Err(e) => Err(e),
        }
    });
    rows.map_err(unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// A real SQLITE_FULL (the database is capped at its current size with
    /// `max_page_count`, the same error a full filesystem gives) is a full store (the
    /// HTTP crate's 507 with Retry-After), not "unavailable" or internal. `scripts/fault-disk` checks the
    /// same on a filesystem that really fills up.
    #[tokio::test]
    async fn a_full_database_is_a_507() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("full.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (b BLOB)")
            .execute(&mut c)
            .await
            .unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut c)
            .await
            .unwrap();
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(&mut c)
            .await
            .unwrap();
        let err = sqlx::query("INSERT INTO t VALUES (zeroblob(1000000))")
            .execute(&mut c)
            .await
            .unwrap_err();
        let e = anyhow::Error::from(err);
        assert!(disk_full(&e), "{e:?}");
        assert!(matches!(unavailable(e), Error::StorageFull(_)));
        // Any other store failure is "unavailable" (the HTTP crate's 503).
        let other = anyhow::anyhow!("connection refused");
        assert!(!disk_full(&other));
        assert!(matches!(unavailable(other), Error::Unavailable(_)));
    }

    /// A transaction that SQLite ended by itself (as it does on SQLITE_FULL) leaves
    /// sqlx's transaction depth at 1 after its ROLLBACK fails; the pool must not hand
    /// that connection out again, or every later write fails until a restart (what
    /// `scripts/fault-disk` found). The inner ROLLBACK here ends the transaction
    /// behind sqlx's back, deterministically.
    #[tokio::test]
    async fn a_write_that_sqlite_rolled_back_does_not_poison_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("pool.db").display());
        let store = Store::connect(&url).await.unwrap();
        let Store::Sqlite(pool) = &store else {
            unreachable!()
        };
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(pool)
            .await
            .unwrap();
        for _ in 0..8 {
            let mut tx = begin(&store).await.unwrap();
            let StoreTx::Sqlite(t) = &mut tx else {
                unreachable!()
            };
            sqlx::query("ROLLBACK").execute(&mut **t).await.unwrap();
            drop(tx);
        }
        for i in 0..24 {
            let mut tx = begin(&store)
                .await
                .unwrap_or_else(|e| panic!("write {i} after rolled-back ones: {e:?}"));
            let StoreTx::Sqlite(t) = &mut tx else {
                unreachable!()
            };
            sqlx::query("INSERT INTO t VALUES ($1)")
                .bind(i)
                .execute(&mut **t)
                .await
                .unwrap();
            commit(tx).await.unwrap();
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(n, 24);
    }
}
