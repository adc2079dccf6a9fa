//! The review queue: records whose free-text address the matcher linked as
//! `ambiguous` or left `unmatched`, and their resolution by a person.
//!
//! The queue is read from the store (the free-text addresses are not in the in-memory
//! index, and should not be: the index holds no per-person text). Only the record id and
//! its address text are shown — never a name, ID number or phone. Candidates are
//! computed on the fly by the matcher against the current register, so they are never
//! stale.
//!
//! A resolution sets the record's `address_code` and `link` and appends a row to
//! `link_resolutions` (old and new code and link, note, who, when) in one transaction.
//! After the commit the in-memory state follows at once, before the answer: the index is
//! copied with the record's counts moved from the old code to the new one (residents,
//! key-group people, enterprises per building, residents and occupancy per unit, link
//! totals), the tiles rebuild their counting structures on it (area polygons shared) and
//! drop their cache, and the analysis profiles and results are recomputed on the next
//! request. That costs a copy of the index per resolution, which is fine at the pace a
//! person resolves records. Other replicas follow at their next load.

use super::geocode::{Candidate, geocode_one};
use crate::index::RecordFacts;
use crate::model::LinkStatus;
use crate::store::{Store, StoreTx, dispatch};
use crate::{App, Error};
use minqing_address::Level;
use minqing_address::coords::Datum;
use serde::Serialize;
use sqlx::Row;

/// The record tables with a free-text address, by their API name (= table name).
pub const KINDS: [&str; 3] = ["residents", "housing", "enterprises"];
pub const MAX_REVIEW_LIMIT: i64 = 200;
pub const MAX_NOTE_CHARS: usize = 1_000;

fn kind_table(kind: &str) -> Result<&'static str, Error> {
    KINDS.iter().copied().find(|k| *k == kind).ok_or_else(|| {
        Error::Invalid(format!(
            "kind must be residents, housing or enterprises, got {kind:?}"
        ))
    })
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewItem {
    /// The record's id (no name or other personal field).
    pub id: String,
    /// The free-text address as imported.
    pub address: String,
    /// `ambiguous` or `unmatched`.
    pub status: &'static str,
    /// The matcher's ranked building candidates for the address, best first.
    pub candidates: Vec<Candidate>,
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewPage {
    pub kind: String,
    /// Records waiting with the requested status(es).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub items: Vec<ReviewItem>,
}

fn int_param(name: &str, v: Option<&str>, default: i64, max: i64) -> Result<i64, Error> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| Error::Invalid(format!("{name} must be an integer from 0 to {max}"))),
    }
}

/// The review queue of one record kind: ambiguous and unmatched addresses with the
/// matcher's candidates.
///
/// `status` is `ambiguous`, `unmatched` or `None` for both; `limit` and `offset` are
/// the raw parameters (validated here).
pub async fn list(
    state: &App,
    caller: &crate::auth::Caller,
    kind: Option<&str>,
    status: Option<&str>,
    limit: Option<&str>,
    offset: Option<&str>,
) -> Result<ReviewPage, Error> {
    caller.require(crate::auth::Permission::ReviewLinks)?;
    let kind = kind.ok_or_else(|| Error::Invalid("kind is required".into()))?;
    let table = kind_table(kind)?;
    // The queue shows records' free-text addresses: a personal read, audited first.
    crate::audit::append(
        &state.store,
        crate::audit::Record::by(caller, "read_review", table),
    )
    .await
    .map_err(crate::events::write::audit_unavailable)?;
    let statuses: &[&str] = match status {
        None | Some("") => &["ambiguous", "unmatched"],
        Some("ambiguous") => &["ambiguous"],
        Some("unmatched") => &["unmatched"],
        Some(s) => {
            return Err(Error::Invalid(format!(
                "status must be ambiguous or unmatched, got {s:?}"
            )));
        }
    };
    let limit = int_param("limit", limit, 50, MAX_REVIEW_LIMIT)?.max(1);
    let offset = int_param("offset", offset, 0, i64::MAX / 2)?;
    let ix = state.index()?;
    let (total, rows) = queue_page(&state.store, table, statuses, limit, offset)
        .await
        .map_err(Error::Internal)?;
    let items = rows
        .into_iter()
        .map(|(id, address, link)| {
            let r = geocode_one(&ix.register, &address, Datum::Wgs84);
            let mut candidates = r.candidates.unwrap_or_default();
            if candidates.is_empty()
                && let (Some(code), Some(label)) = (r.code, r.label)
            {
                // The register changed since import and now matches: offer that.
                candidates.push(Candidate {
                    code,
                    label,
                    score: r.confidence,
                });
            }
            ReviewItem {
                id,
                address,
                status: if link == "ambiguous" {
                    "ambiguous"
                } else {
                    "unmatched"
                },
                candidates,
            }
        })
        .collect();
    Ok(ReviewPage {
        kind: table.to_string(),
        total,
        limit,
        offset,
        items,
    })
}

type QueueRow = (String, String, String);

async fn queue_page(
    store: &Store,
    table: &str,
    statuses: &[&str],
    limit: i64,
    offset: i64,
) -> anyhow::Result<(i64, Vec<QueueRow>)> {
    // `table` comes from KINDS and the statuses from a fixed list: no user text in SQL.
    let cond = statuses
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE link IN ({cond})");
    let page_sql = format!(
        "SELECT id, address, link FROM {table} WHERE link IN ({cond}) ORDER BY id LIMIT $1 OFFSET $2"
    );
    let mut rows = Vec::new();
    let total: i64 = dispatch!(store, Store, p => {
        let total = sqlx::query_scalar::<_, i64>(&count_sql).fetch_one(p).await?;
        for r in sqlx::query(&page_sql).bind(limit).bind(offset).fetch_all(p).await? {
            rows.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        total
    });
    Ok((total, rows))
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolution {
    pub kind: String,
    pub id: String,
    pub old_code: Option<String>,
    pub old_link: String,
    pub code: String,
    /// `unit` or `building`.
    pub link: &'static str,
    pub note: String,
    /// Who resolved it (null until accounts exist).
    pub resolved_by: Option<String>,
    /// Unix seconds.
    pub resolved_at: i64,
}

/// Resolve one record of the queue to a register code. The resolution is kept in
/// `link_resolutions`; the per-building figures, analysis profiles and tiles show it
/// as soon as this answers.
///
/// `request` is the code and the optional note, or the reason the request body could not
/// be read (an [`Error::Invalid`] after the role and kind checks).
pub async fn resolve(
    state: &App,
    caller: &crate::auth::Caller,
    kind: &str,
    id: String,
    request: Result<(String, Option<String>), String>,
) -> Result<Resolution, Error> {
    caller.require(crate::auth::Permission::ReviewLinks)?;
    let resolved_by: Option<String> = Some(caller.username.clone());
    let table = kind_table(kind)?;
    let (code, note) = request.map_err(|e| {
        Error::Invalid(format!(
            "body must be {{\"code\": \"…\", \"note\": \"…\"}}: {e}"
        ))
    })?;
    let note = note.unwrap_or_default();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::Invalid(format!(
            "note is longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    let code = code.trim().to_string();
    let ix = state.index()?;
    let link = match ix.register.find_code(&code) {
        Some((Level::Unit, _)) => LinkStatus::Unit,
        Some((Level::Building, _)) => LinkStatus::Building,
        None => {
            return Err(Error::Unprocessable(format!(
                "{code:?} is not a building or unit code of the register"
            )));
        }
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await.map_err(Error::Internal)?;
    let old = apply(&mut tx, table, &id, &code, link, &note, &resolved_by, now)
        .await
        .map_err(Error::Internal)?;
    let Some((old_code, old_link, record)) = old else {
        return Err(Error::NotFound(format!(
            "no {kind} record {id:?} in the review queue (ambiguous or unmatched)"
        )));
    };
    // Audited in the same transaction: no relink without its entry.
    let target = format!("{table}:{id}→{code}");
    crate::audit::append_in(
        &mut tx,
        &crate::audit::Record::by(caller, "resolve_link", &target),
    )
    .await
    .map_err(crate::events::write::audit_unavailable)?;
    tx.commit().await.map_err(Error::Internal)?;
    let change = crate::index::Relink {
        record,
        old_code: old_code.clone(),
        old_link: LinkStatus::parse(&old_link).unwrap_or(LinkStatus::Pending),
        new_code: code.clone(),
        new_link: link,
    };
    let relink_state = state.clone();
    tokio::task::spawn_blocking(move || relink_state.relink(&change))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("relinking in memory: {e}")))?;
    Ok(Resolution {
        kind: table.to_string(),
        id,
        old_code,
        old_link,
        code,
        link: link.as_str(),
        note,
        resolved_by,
        resolved_at: now,
    })
}

/// Update the record and log the resolution; `None` when the record does not exist
/// (the transaction is then dropped, i.e. rolled back). Returns the old code and link
/// and the record's facts the index keeps (no name, ID number or phone).
#[allow(clippy::too_many_arguments)]
async fn apply(
    tx: &mut StoreTx,
    table: &str,
    id: &str,
    code: &str,
    link: LinkStatus,
    note: &str,
    resolved_by: &Option<String>,
    now: i64,
) -> anyhow::Result<Option<(Option<String>, String, RecordFacts)>> {
    // Only a record in the queue (ambiguous or unmatched) may be resolved here.
    let select = format!(
        "SELECT address_code, link FROM {table} WHERE id = $1 AND link IN ('ambiguous', 'unmatched')"
    );
    let facts_sql = match table {
        "residents" => {
            "SELECT sex, birth_ym, registration, key_groups FROM residents WHERE id = $1"
        }
        "housing" => "SELECT occupancy, floor_area FROM housing WHERE id = $1",
        _ => "SELECT industry, size, employees FROM enterprises WHERE id = $1",
    };
    let update = format!("UPDATE {table} SET address_code = $1, link = $2 WHERE id = $3");
    let log = "INSERT INTO link_resolutions (kind, record_id, old_code, old_link, new_code, new_link, note, \
               resolved_by, resolved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    Ok(dispatch!(tx, StoreTx, t => {
        let row = sqlx::query(&select).bind(id).fetch_optional(&mut **t).await?;
        match row {
            None => None,
            Some(r) => {
                let old_code: Option<String> = r.try_get(0)?;
                let old_link: String = r.try_get(1)?;
                sqlx::query(&update).bind(code).bind(link.as_str()).bind(id).execute(&mut **t).await?;
                sqlx::query(log)
                    .bind(table)
                    .bind(id)
                    .bind(&old_code)
                    .bind(&old_link)
                    .bind(code)
                    .bind(link.as_str())
                    .bind(note)
                    .bind(resolved_by)
                    .bind(now)
                    .execute(&mut **t)
                    .await?;
                let f = sqlx::query(facts_sql).bind(id).fetch_one(&mut **t).await?;
                let record = match table {
                    "residents" => {
                        let sex: String = f.try_get(0)?;
                        let birth_ym: i64 = f.try_get::<Option<i64>, _>(1)?.unwrap_or(0);
                        let registration: String = f.try_get(2)?;
                        let groups: String = f.try_get(3)?;
                        RecordFacts::Resident {
                            male: sex == "M",
                            birth_year: u16::try_from(birth_ym / 100).unwrap_or(0),
                            birth_month: u8::try_from(birth_ym % 100).unwrap_or(1),
                            floating: registration == "floating",
                            key_groups: if groups.is_empty() {
                                0
                            } else {
                                crate::store::load::key_group_bits(&groups)
                            },
                        }
                    }
                    "housing" => RecordFacts::Housing {
                        occupancy: f.try_get(0)?,
                        floor_area: f.try_get::<Option<f64>, _>(1)?.unwrap_or(0.0),
                    },
                    _ => RecordFacts::Enterprise {
                        industry: f.try_get(0)?,
                        size: f.try_get(1)?,
                        employees: f.try_get(2)?,
                    },
                };
                Some((old_code, old_link, record))
            }
        }
    }))
}
