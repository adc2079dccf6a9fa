//! Accounts in the store: creation, passwords, roles, grid scopes, listing.

use super::{Role, password};
use crate::store::{Store, StoreTx, dispatch};
use crate::time::system_now as unix_now;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::BTreeSet;

/// An account as the API and `minqing user list` show it (no hash).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    /// The display name (the username when none was set).
    pub display: String,
    pub role: Role,
    pub mediation_org: Option<String>,
    pub grids: Vec<String>,
    pub disabled: bool,
}

/// What login needs about an account.
pub struct LoginRecord {
    pub id: i64,
    pub password_hash: String,
    pub disabled: bool,
}

/// The identity a session resolves to.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub mediation_org: Option<String>,
    pub grids: BTreeSet<String>,
    pub disabled: bool,
}

impl Identity {
    /// The display name, or the username when none was set.
    pub fn display(&self) -> String {
        self.display_name
            .clone()
            .unwrap_or_else(|| self.username.clone())
    }
}

/// Usernames: 1–64 of ASCII letters, digits, `-`, `_`, `.`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Create an account; fails if the username exists.
pub async fn create(
    store: &Store,
    username: &str,
    password_plain: &str,
    role: Role,
    mediation_org: Option<&str>,
    grids: &[String],
) -> Result<i64> {
    if !valid_username(username) {
        bail!("usernames are 1–64 ASCII letters, digits, '-', '_' or '.'");
    }
    if password_plain.chars().count() < 8 {
        bail!("passwords have at least 8 characters");
    }
    let owned = password_plain.to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash(&owned)).await??;
    let mut tx = store.begin().await?;
    let id: i64 = dispatch!(&mut tx, StoreTx, t => sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, mediation_org, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(username)
        .bind(&hash)
        .bind(role.as_str())
        .bind(mediation_org)
        .bind(unix_now())
        .fetch_one(&mut **t)
        .await
        .with_context(|| format!("creating user {username} (does it exist already?)"))?);
    for g in grids {
        dispatch!(&mut tx, StoreTx, t => sqlx::query(
            "INSERT INTO user_grids (user_id, grid_code) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(g)
            .execute(&mut **t)
            .await?
            .rows_affected());
    }
    tx.commit().await?;
    Ok(id)
}

/// Set an account's display name (shown as a case owner and in the assignee list).
pub async fn set_display_name(store: &Store, username: &str, display: &str) -> Result<()> {
    let display = display.trim();
    if display.is_empty() || display.chars().count() > 64 {
        bail!("display names are 1–64 characters");
    }
    let changed = dispatch!(store, Store, p => sqlx::query(
        "UPDATE users SET display_name = $1 WHERE username = $2")
        .bind(display).bind(username).execute(p).await?.rows_affected());
    if changed == 0 {
        bail!("no user {username}");
    }
    Ok(())
}

/// Set a new password and revoke every session of the account.
pub async fn set_password(store: &Store, username: &str, password_plain: &str) -> Result<()> {
    if password_plain.chars().count() < 8 {
        bail!("passwords have at least 8 characters");
    }
    let owned = password_plain.to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash(&owned)).await??;
    let changed = dispatch!(store, Store, p => sqlx::query(
        "UPDATE users SET password_hash = $1 WHERE username = $2")
        .bind(&hash).bind(username).execute(p).await?.rows_affected());
    if changed == 0 {
        bail!("no user {username}");
    }
    dispatch!(store, Store, p => sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND user_id = \
         (SELECT id FROM users WHERE username = $2)")
        .bind(unix_now()).bind(username).execute(p).await?.rows_affected());
    Ok(())
}

pub async fn login_record(store: &Store, username: &str) -> Result<Option<LoginRecord>> {
    let row: Option<(i64, String, i64)> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT id, password_hash, disabled FROM users WHERE username = $1")
        .bind(username).fetch_optional(p).await?);
    Ok(row.map(|(id, password_hash, disabled)| LoginRecord {
        id,
        password_hash,
        disabled: disabled != 0,
    }))
}

/// username, role, mediation_org, disabled, display_name.
type IdentityRow = (String, String, Option<String>, i64, Option<String>);

/// id, username, role, mediation_org, disabled, display_name.
type AccountRow = (i64, String, String, Option<String>, i64, Option<String>);

pub async fn identity(store: &Store, id: i64) -> Result<Option<Identity>> {
    let row: Option<IdentityRow> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT username, role, mediation_org, disabled, display_name FROM users WHERE id = $1")
        .bind(id).fetch_optional(p).await?);
    let Some((username, role, mediation_org, disabled, display_name)) = row else {
        return Ok(None);
    };
    let grids: Vec<String> = dispatch!(store, Store, p => sqlx::query_scalar(
        "SELECT grid_code FROM user_grids WHERE user_id = $1 ORDER BY grid_code")
        .bind(id).fetch_all(p).await?);
    Ok(Some(Identity {
        id,
        username,
        display_name,
        role: Role::parse(&role).with_context(|| format!("unknown role {role} in users"))?,
        mediation_org,
        grids: grids.into_iter().collect(),
        disabled: disabled != 0,
    }))
}

pub async fn list(store: &Store) -> Result<Vec<UserSummary>> {
    let rows: Vec<AccountRow> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT id, username, role, mediation_org, disabled, display_name FROM users ORDER BY username")
        .fetch_all(p).await?);
    let scopes: Vec<(i64, String)> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT user_id, grid_code FROM user_grids ORDER BY grid_code")
        .fetch_all(p).await?);
    let mut by_user: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for (u, g) in scopes {
        by_user.entry(u).or_default().push(g);
    }
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, username, role, mediation_org, disabled, display_name)| {
                Some(UserSummary {
                    display: display_name.unwrap_or_else(|| username.clone()),
                    id,
                    grids: by_user.remove(&id).unwrap_or_default(),
                    username,
                    role: Role::parse(&role)?,
                    mediation_org,
                    disabled: disabled != 0,
                })
            },
        )
        .collect())
}

/// The active mediator accounts of a mediation organisation: (username, display).
pub async fn mediators_of(store: &Store, org: &str) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, Option<String>)> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT username, display_name FROM users WHERE role = 'mediator' AND mediation_org = $1 \
         AND disabled = 0 ORDER BY username")
        .bind(org).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(u, d)| (d.unwrap_or_else(|| u.clone()), u))
        .map(|(d, u)| (u, d))
        .collect())
}

/// An active account by username, as [`Identity`] (none when unknown or disabled).
pub async fn active_by_username(store: &Store, username: &str) -> Result<Option<Identity>> {
    let id: Option<i64> = dispatch!(store, Store, p => sqlx::query_scalar(
        "SELECT id FROM users WHERE username = $1 AND disabled = 0")
        .bind(username).fetch_optional(p).await?);
    match id {
        Some(id) => identity(store, id).await,
        None => Ok(None),
    }
}

/// Every grid code of the register.
pub async fn grid_codes(store: &Store) -> Result<Vec<String>> {
    Ok(dispatch!(store, Store, p => sqlx::query_scalar(
        "SELECT code FROM areas WHERE level = 'grid' ORDER BY code")
        .fetch_all(p).await?))
}
