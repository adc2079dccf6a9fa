//! The centre's table of road aliases and old names (别名, 曾用名): 人民路 renamed 长江西路
//! is still written the old way for years, and only the centre knows its district's
//! history. Leaders and administrators edit the table over the API; every change is
//! audited in the same transaction as the row, and the matcher uses it at once for
//! geocoding, intake addresses and the review queue's candidates (the index gets a
//! register whose name automaton knows the new table; the names and indexes are shared
//! in meaning, copied in memory), and for the next import's linking. Records linked
//! before an edit keep their links: a record the old table left unmatched shows the new
//! candidate in the review queue, where a person confirms it.
//!
//! Other replicas pick the table up at their next load.

use crate::auth::{Caller, Permission};
use crate::error::Detail;
use crate::store::{Store, StoreTx, dispatch};
use crate::{App, Error};
use minqing_address::{AliasProblem, Aliases, Register};
use serde::Serialize;
use sqlx::Row;
use std::sync::Arc;

/// The longest alias or canonical name accepted (a road or compound name is far shorter).
pub const MAX_NAME_CHARS: usize = 40;

/// The notification channel of alias edits on PostgreSQL: the other replicas on the
/// database read the table again when they hear it (`crate::events::replica`).
pub const CHANNEL: &str = "minqing_address_aliases";

/// Edits are serialised so each swaps in a register built from the table it committed.
static EDITS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Serialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AliasEntry {
    /// Another spelling or an old name, as people write it.
    pub alias: String,
    /// The register's name it stands for (a road, compound, community, village or
    /// township).
    pub canonical: String,
    /// Who added it (`import` for a row of an import file).
    pub added_by: String,
    /// Unix seconds.
    pub added_at: i64,
    /// Why the matcher does not use this pair, when it does not (e.g. the canonical name
    /// left the register after a later import): `unknown_name`, `clash` or `too_short`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unused: Option<&'static str>,
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AliasTable {
    pub aliases: Vec<AliasEntry>,
}

/// The alias in a problem, the problem's code (`unknown_name`, `clash`, `too_short`:
/// what a view translates) and why in words a person can act on.
fn problem_text(p: &AliasProblem) -> (&str, &'static str, String) {
    match p {
        AliasProblem::UnknownName { alias, canonical } => (
            alias,
            "unknown_name",
            format!(
                "{canonical:?} is not a road, compound, community, village or township of the register"
            ),
        ),
        AliasProblem::Clash { alias, .. } => (
            alias,
            "clash",
            format!("{alias:?} is itself a name of the register or another name's alias"),
        ),
        AliasProblem::TooShort { alias } => (
            alias,
            "too_short",
            "an alias needs at least two characters".to_string(),
        ),
    }
}

async fn stored(store: &Store) -> anyhow::Result<Vec<AliasEntry>> {
    let sql = "SELECT alias, canonical, added_by, added_at FROM address_aliases ORDER BY alias";
    let mut out = Vec::new();
    dispatch!(store, Store, p => {
        for r in sqlx::query(sql).fetch_all(p).await? {
            out.push(AliasEntry {
                alias: r.try_get(0)?,
                canonical: r.try_get(1)?,
                added_by: r.try_get(2)?,
                added_at: r.try_get(3)?,
                unused: None,
            });
        }
    });
    Ok(out)
}

fn table_of(entries: &[AliasEntry]) -> Aliases {
    entries
        .iter()
        .map(|e| (e.alias.clone(), e.canonical.clone()))
        .collect()
}

/// The table, each pair with the reason the current register does not use it, if any.
pub async fn list(state: &App, caller: &Caller) -> Result<AliasTable, Error> {
    caller.require(Permission::ReviewLinks)?;
    let mut aliases = stored(&state.store).await.map_err(Error::Internal)?;
    let ix = state.index()?;
    for p in ix.register.alias_problems() {
        let (alias, reason, _) = problem_text(p);
        if let Some(e) = aliases.iter_mut().find(|e| e.alias == alias) {
            e.unused = Some(reason);
        }
    }
    Ok(AliasTable { aliases })
}

fn checked_name(what: &str, name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "{what} must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_string())
}

/// Add `alias` for `canonical`, or point an existing alias at another name. Refused
/// (422, with the reason and its code in `details.reason`) when the register could not
/// use the pair; the table and the matcher are then unchanged.
pub async fn put(
    state: &App,
    caller: &Caller,
    alias: &str,
    canonical: Result<String, String>,
) -> Result<AliasEntry, Error> {
    caller.require(Permission::ReviewLinks)?;
    let canonical = canonical
        .map_err(|e| Error::Invalid(format!("body must be {{\"canonical\": \"…\"}}: {e}")))?;
    let alias = checked_name("alias", alias)?;
    let canonical = checked_name("canonical", &canonical)?;
    let _edit = EDITS.lock().await;
    let mut entries = stored(&state.store).await.map_err(Error::Internal)?;
    entries.retain(|e| e.alias != alias);
    let entry = AliasEntry {
        alias: alias.clone(),
        canonical: canonical.clone(),
        added_by: caller.username.clone(),
        added_at: state.clock.now(),
        unused: None,
    };
    entries.push(entry.clone());
    let register = rebuilt(state, table_of(&entries)).await?;
    if let Some(p) = register
        .alias_problems()
        .iter()
        .find(|p| problem_text(p).0 == alias)
    {
        let (_, reason, message) = problem_text(p);
        return Err(Error::UnprocessableWith {
            message,
            detail: Detail::AliasRefused { reason },
        });
    }
    commit(state, caller, Edit::Set(&entry), register).await?;
    Ok(entry)
}

/// Remove `alias` from the table (404 when it is not there).
pub async fn remove(state: &App, caller: &Caller, alias: &str) -> Result<(), Error> {
    caller.require(Permission::ReviewLinks)?;
    let alias = alias.trim().to_string();
    let _edit = EDITS.lock().await;
    let mut entries = stored(&state.store).await.map_err(Error::Internal)?;
    let before = entries.len();
    entries.retain(|e| e.alias != alias);
    if entries.len() == before {
        return Err(Error::NotFound(format!("no alias {alias:?} in the table")));
    }
    let register = rebuilt(state, table_of(&entries)).await?;
    commit(state, caller, Edit::Remove(&alias), register).await?;
    Ok(())
}

/// One edit of the table.
enum Edit<'a> {
    Set(&'a AliasEntry),
    Remove(&'a str),
}

/// Write `edit` and its audit entry in one transaction, then put `register` (built from
/// the edited table) in the index.
async fn commit(
    state: &App,
    caller: &Caller,
    edit: Edit<'_>,
    register: Arc<Register>,
) -> Result<(), Error> {
    let mut tx = state.store.begin().await.map_err(Error::Internal)?;
    let (action, target) = match edit {
        Edit::Set(entry) => {
            upsert(&mut tx, entry).await.map_err(Error::Internal)?;
            ("set_alias", format!("{}→{}", entry.alias, entry.canonical))
        }
        Edit::Remove(alias) => {
            delete(&mut tx, alias).await.map_err(Error::Internal)?;
            ("remove_alias", alias.to_string())
        }
    };
    crate::audit::append_in(&mut tx, &crate::audit::Record::by(caller, action, &target))
        .await
        .map_err(crate::events::write::audit_unavailable)?;
    // Delivered at commit, never for a rolled-back edit.
    if let StoreTx::Postgres(t) = &mut tx {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut **t)
            .await
            .map_err(Error::internal)?;
    }
    tx.commit().await.map_err(Error::Internal)?;
    state.set_register(register);
    Ok(())
}

/// Read the table from the store again and put a register built with it in the index:
/// how a replica takes up another replica's edit.
pub async fn refresh(state: &App) -> Result<(), Error> {
    let _edit = EDITS.lock().await;
    let entries = stored(&state.store).await.map_err(Error::Internal)?;
    let register = rebuilt(state, table_of(&entries)).await?;
    state.set_register(register);
    Ok(())
}

async fn delete(tx: &mut StoreTx, alias: &str) -> anyhow::Result<()> {
    dispatch!(tx, StoreTx, t => {
        sqlx::query("DELETE FROM address_aliases WHERE alias = $1")
            .bind(alias)
            .execute(&mut **t)
            .await?;
    });
    Ok(())
}

/// Insert or replace one pair.
async fn upsert(tx: &mut StoreTx, e: &AliasEntry) -> anyhow::Result<()> {
    let sql = "INSERT INTO address_aliases (alias, canonical, added_by, added_at) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (alias) DO UPDATE SET canonical = excluded.canonical, \
               added_by = excluded.added_by, added_at = excluded.added_at";
    dispatch!(tx, StoreTx, t => {
        sqlx::query(sql)
            .bind(&e.alias)
            .bind(&e.canonical)
            .bind(&e.added_by)
            .bind(e.added_at)
            .execute(&mut **t)
            .await?;
    });
    Ok(())
}

/// The current register with `table` as its alias table (a blocking copy).
async fn rebuilt(state: &App, table: Aliases) -> Result<Arc<Register>, Error> {
    let ix = state.index()?;
    tokio::task::spawn_blocking(move || ix.register.with_alias_table(&table))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("rebuilding the register: {e}")))?
        .map(Arc::new)
        .map_err(|e| Error::Internal(anyhow::anyhow!("rebuilding the register: {e}")))
}
