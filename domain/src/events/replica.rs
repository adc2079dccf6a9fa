//! Several `minqing serve` processes on one PostgreSQL: each applies the others' event
//! writes to its own in-memory index, caches and live feed.
//!
//! Every write appends to the `event_changes` outbox in its transaction, and on
//! PostgreSQL also `pg_notify`s [`CHANNEL`] with the change's sequence number (delivered
//! at commit, never for a rolled-back write). A follower per replica `LISTEN`s and, on
//! each notification, reads the outbox after the last change it applied, loads those
//! events from the store and applies them like a local write (`apply` keeps the newest
//! version, so a replica's own writes arriving again change nothing). The outbox, not
//! the notification, is the source: a notification lost while the connection was down
//! is caught up from the outbox on reconnection, and a poll every [`POLL`] covers a
//! listener that cannot connect at all. No full reload is ever needed.

use crate::App;
use crate::events::write;
use crate::store::Store;
use std::time::Duration;

/// The notification channel of committed event changes.
pub const CHANNEL: &str = "minqing_event_changes";
/// Fallback poll of the outbox when no notification arrives.
pub const POLL: Duration = Duration::from_secs(5);
/// Outbox rows read per round trip.
const BATCH: i64 = 500;

/// Follow the outbox from change `after` (the last change the loaded index already
/// holds) for as long as the process runs. Only PostgreSQL stores have other replicas;
/// on SQLite this returns at once.
pub async fn follow(state: App, mut after: i64) {
    let Store::Postgres(pool) = state.store.clone() else {
        return;
    };
    let mut listener: Option<sqlx::postgres::PgListener> = None;
    loop {
        if listener.is_none() {
            listener = listen(&pool).await;
        }
        // Catch up first: whatever was committed before (or while) we listened.
        match catch_up(&state, after).await {
            Ok(last) => after = last,
            Err(e) => tracing::warn!(error = %e, "replica catch-up failed; retrying"),
        }
        let wait = match listener.as_mut() {
            Some(l) => tokio::time::timeout(POLL, l.try_recv()).await,
            None => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match wait {
            // A notification, or a reconnection (Ok(None)): catch up on the next round.
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "event-change listener lost; reconnecting");
                listener = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn listen(pool: &sqlx::PgPool) -> Option<sqlx::postgres::PgListener> {
    let mut l = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for event changes; polling");
            return None;
        }
    };
    match l.listen(CHANNEL).await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "LISTEN failed; polling");
            None
        }
    }
}

/// Apply every change after `after`; returns the last sequence number applied.
pub async fn catch_up(state: &App, mut after: i64) -> Result<i64, crate::Error> {
    loop {
        let batch = write::change_codes_after(&state.store, after, BATCH).await?;
        let full = batch.len() as i64 == BATCH;
        let mut codes: Vec<&str> = batch.iter().map(|(_, c)| c.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            if let Some(event) = write::event_by_code(&state.store, code).await? {
                super::service::apply(state, event);
            }
        }
        if let Some((seq, _)) = batch.last() {
            after = *seq;
        }
        if !full {
            return Ok(after);
        }
    }
}
