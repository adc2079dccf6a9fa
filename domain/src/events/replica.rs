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
//!
//! The same listener hears edits of the road-alias table
//! ([`crate::address_service::aliases::CHANNEL`]) and reads the table again; after a lost
//! connection it reads it once more, in case an edit was missed meanwhile.

use crate::App;
use crate::address_service::aliases;
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
    let mut listened_before = false;
    loop {
        if listener.is_none() {
            listener = listen(&pool).await;
            if listener.is_some() {
                if listened_before {
                    refresh_aliases(&state).await;
                }
                listened_before = true;
            }
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
            Ok(Ok(Some(n))) if n.channel() == aliases::CHANNEL => refresh_aliases(&state).await,
            // The connection dropped (the listener reconnects on its next wait): an alias
            // edit may have gone unheard; events catch up on the next round anyway.
            Ok(Ok(None)) => refresh_aliases(&state).await,
            // An event change, or no notification within the poll: catch up.
            Ok(Ok(Some(_))) | Err(_) => {}
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
    match l.listen_all([CHANNEL, aliases::CHANNEL]).await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "LISTEN failed; polling");
            None
        }
    }
}

async fn refresh_aliases(state: &App) {
    if let Err(e) = aliases::refresh(state).await {
        tracing::warn!(error = %e, "reading the alias table again failed");
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
