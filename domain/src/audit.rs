//! The append-only, hash-chained audit log: every read of a personal record, every
//! unmasking, export and permission change — who, when, what, why, from where.
//!
//! Entry `n` stores `prev_hash` (the hash of entry `n-1`, 64 zeros for the first) and
//! `hash = SHA-256(prev_hash ‖ canonical content)`, where the canonical content is the
//! JSON array `[seq, at, actor, role, action, target, reason, client]`. Changing,
//! deleting or reordering any entry breaks the chain from that entry on;
//! `minqing audit verify` reports the first broken entry. (An attacker with write access
//! who rewrites the whole tail can forge a new chain; anchoring the head hash elsewhere,
//! e.g. printing it daily, closes that and is left to operations.)

use crate::Error;
use crate::auth::{Caller, Permission};
use crate::store::{Store, StoreTx, dispatch};
use crate::time::system_now as unix_now;
use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub role: String,
    /// e.g. `read_households`, `read_resident`, `unmask_resident`, `lookup_id`,
    /// `export`, `user_add`, `user_passwd`.
    pub action: String,
    pub target: String,
    pub reason: Option<String>,
    pub client: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// What is being recorded (the chain fields are filled in by [`append`]).
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub reason: Option<&'a str>,
    pub client: Option<&'a str>,
}

impl<'a> Record<'a> {
    /// A record of `action` on `target` by the caller of a request.
    pub fn by(caller: &'a Caller, action: &'a str, target: &'a str) -> Self {
        Record {
            actor: &caller.username,
            role: caller.role.as_str(),
            action,
            target,
            reason: None,
            client: Some(&caller.client),
        }
    }

    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// The chained hash of an entry.
pub fn entry_hash(prev_hash: &str, seq: i64, at: i64, r: &Record<'_>) -> String {
    let content = serde_json::json!([
        seq, at, r.actor, r.role, r.action, r.target, r.reason, r.client
    ]);
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(content.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// A record waiting for its batch, with where its sequence number goes.
type Pending = (
    OwnedRecord,
    tokio::sync::oneshot::Sender<std::result::Result<i64, (String, bool)>>,
);

/// The group-commit queue of one store: records wait in `pending`; whoever holds
/// `writer` takes every pending record and appends them all in one transaction.
#[derive(Default)]
struct Queue {
    pending: parking_lot::Mutex<Vec<Pending>>,
    writer: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone)]
struct OwnedRecord {
    actor: String,
    role: String,
    action: String,
    target: String,
    reason: Option<String>,
    client: Option<String>,
}

impl OwnedRecord {
    fn of(r: &Record<'_>) -> Self {
        OwnedRecord {
            actor: r.actor.into(),
            role: r.role.into(),
            action: r.action.into(),
            target: r.target.into(),
            reason: r.reason.map(Into::into),
            client: r.client.map(Into::into),
        }
    }

    fn record(&self) -> Record<'_> {
        Record {
            actor: &self.actor,
            role: &self.role,
            action: &self.action,
            target: &self.target,
            reason: self.reason.as_deref(),
            client: self.client.as_deref(),
        }
    }
}

/// The queue of `store` (keyed by its pool, so tests with many stores in one process
/// never mix their chains).
fn queue_of(store: &Store) -> std::sync::Arc<Queue> {
    use std::collections::HashMap;
    use std::sync::{Arc, OnceLock};
    static QUEUES: OnceLock<parking_lot::Mutex<HashMap<usize, Arc<Queue>>>> = OnceLock::new();
    let key = match store {
        Store::Sqlite(p) => Arc::as_ptr(&p.connect_options()) as *const () as usize,
        Store::Postgres(p) => Arc::as_ptr(&p.connect_options()) as *const () as usize,
    };
    QUEUES
        .get_or_init(Default::default)
        .lock()
        .entry(key)
        .or_default()
        .clone()
}

/// Append `r`; returns its sequence number. The caller must not answer with the
/// personal data unless this succeeded.
///
/// Group commit: concurrent appends to one store do not each wait for a transaction of
/// their own behind one lock. Each puts its record in the store's queue; the first to
/// get the writer appends everything queued in one transaction (one commit, one fsync)
/// and hands each record its sequence number, so a burst of personal reads costs about
/// two commits, not one per read. Sequence numbers stay gap-free and the chain intact
/// (another process appending at the same moment fails on the primary key and the
/// batch is retried).
pub async fn append(store: &Store, r: Record<'_>) -> Result<i64> {
    let queue = queue_of(store);
    let (tx, rx) = tokio::sync::oneshot::channel();
    queue.pending.lock().push((OwnedRecord::of(&r), tx));
    {
        let _writer = queue.writer.lock().await;
        let batch = std::mem::take(&mut *queue.pending.lock());
        if !batch.is_empty() {
            write_batch(store, batch).await;
        }
    }
    rx.await
        .map_err(|_| anyhow::anyhow!("audit writer vanished"))?
        .map_err(|(e, full)| {
            // Keep a full disk recognisable (`events::write::disk_full`).
            let kind = if full {
                std::io::ErrorKind::StorageFull
            } else {
                std::io::ErrorKind::Other
            };
            anyhow::Error::new(std::io::Error::new(kind, e)).context("audit append failed")
        })
}

async fn write_batch(store: &Store, batch: Vec<Pending>) {
    let mut last_err = (String::from("audit append failed"), false);
    for _ in 0..5 {
        let attempt = async {
            let mut tx = store.begin().await?;
            let mut seqs = Vec::with_capacity(batch.len());
            for (r, _) in &batch {
                seqs.push(append_in(&mut tx, &r.record()).await?);
            }
            tx.commit().await?;
            anyhow::Ok(seqs)
        };
        match attempt.await {
            Ok(seqs) => {
                for ((_, reply), seq) in batch.into_iter().zip(seqs) {
                    let _ = reply.send(Ok(seq));
                }
                return;
            }
            Err(e) => last_err = (format!("{e:#}"), crate::events::write::disk_full(&e)),
        }
    }
    for (_, reply) in batch {
        let _ = reply.send(Err(last_err.clone()));
    }
}

/// Append inside an open transaction (for changes that must commit with their audit).
pub async fn append_in(tx: &mut StoreTx, r: &Record<'_>) -> Result<i64> {
    let last: Option<(i64, String)> = dispatch!(tx, StoreTx, t => sqlx::query_as(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **t).await?);
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let at = unix_now();
    let hash = entry_hash(&prev, seq, at, r);
    dispatch!(tx, StoreTx, t => sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, role, action, target, reason, client, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(seq).bind(at).bind(r.actor).bind(r.role).bind(r.action).bind(r.target)
        .bind(r.reason).bind(r.client).bind(&prev).bind(&hash)
        .execute(&mut **t).await?.rows_affected());
    Ok(seq)
}

/// The outcome of verifying the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub entries: u64,
    /// The first entry that does not verify, and why.
    pub first_broken: Option<(i64, String)>,
    /// The hash of the last entry (anchor it elsewhere to detect a rewritten tail).
    pub head: String,
}

/// Walk the whole chain in order.
pub async fn verify(store: &Store) -> Result<Verification> {
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    let mut after = 0i64;
    loop {
        let page: Vec<AuditEntry> = dispatch!(store, Store, p => sqlx::query_as(
            "SELECT seq, at, actor, role, action, target, reason, client, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 10000")
            .bind(after).fetch_all(p).await?);
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page {
            entries += 1;
            let broken = |why: &str| {
                Ok(Verification {
                    entries,
                    first_broken: Some((e.seq, why.to_string())),
                    head: prev.clone(),
                })
            };
            if e.seq != expected_seq {
                return broken(&format!(
                    "expected entry {expected_seq} (an entry was removed)"
                ));
            }
            if e.prev_hash != prev {
                return broken("its prev_hash does not match the previous entry");
            }
            let r = Record {
                actor: &e.actor,
                role: &e.role,
                action: &e.action,
                target: &e.target,
                reason: e.reason.as_deref(),
                client: e.client.as_deref(),
            };
            if entry_hash(&prev, e.seq, e.at, &r) != e.hash {
                return broken("its content does not match its hash (it was changed)");
            }
            prev = e.hash;
            expected_seq += 1;
        }
    }
    Ok(Verification {
        entries,
        first_broken: None,
        head: prev,
    })
}

/// Which entries [`query`] returns: each filter is exact; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Only entries with a sequence number above this (paging).
    pub after_seq: Option<i64>,
    /// At most this many entries (1–1000).
    pub limit: u32,
}

/// One page of the audit log.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `after_seq` for the next page; absent on the last page.
    pub next_after_seq: Option<i64>,
}

/// Query the audit log (admins).
pub async fn query(store: &Store, caller: &Caller, q: &AuditFilter) -> Result<AuditPage, Error> {
    caller.require(Permission::AuditRead)?;
    let limit = q.limit;
    if !(1..=1000).contains(&limit) {
        return Err(Error::Invalid("limit must be 1–1000".into()));
    }
    for s in [&q.actor, &q.action, &q.target].into_iter().flatten() {
        if s.len() > 200 {
            return Err(Error::Invalid("filter too long".into()));
        }
    }
    let sql = "SELECT seq, at, actor, role, action, target, reason, client, prev_hash, hash FROM audit_log \
               WHERE seq > $1 AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
               AND ($4 IS NULL OR target = $4) AND at >= $5 AND at < $6 ORDER BY seq LIMIT $7";
    let mut entries: Vec<AuditEntry> = dispatch!(store, Store, p => sqlx::query_as(sql)
        .bind(q.after_seq.unwrap_or(0))
        .bind(q.actor.as_deref())
        .bind(q.action.as_deref())
        .bind(q.target.as_deref())
        .bind(q.since.unwrap_or(i64::MIN))
        .bind(q.until.unwrap_or(i64::MAX))
        .bind(limit as i64 + 1)
        .fetch_all(p).await.map_err(anyhow::Error::from)?);
    let next_after_seq = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_after_seq,
    })
}
