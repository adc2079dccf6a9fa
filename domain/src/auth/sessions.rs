//! Sessions: opaque random bearer tokens, stored as their SHA-256, expiring and
//! revocable; signing in and out.
//!
//! A session of the `screen` role is a kiosk session: the wall in the command centre
//! signs in once and stays signed in for [`DEFAULT_KIOSK_TTL_SECS`] (configurable), not
//! one working shift. Because it lives that long, an administrator can end every
//! session of an account at once ([`revoke_user_sessions`]); each request and the live
//! feed drop a revoked session (the feed at once on this replica, within
//! [`RECHECK_SECS`] on the others).
//!
//! Validating a token is a hash-map lookup on the hot path (tiles): a session found in
//! the store is cached for at most [`RECHECK_SECS`], after which the store is asked again
//! (so a logout or password change on another replica takes effect within that time; on
//! this replica it takes effect at once).

use super::limiter::{self, Limiter};
use super::{Caller, Role, password, users};
use crate::config::Secret;
use crate::store::{Store, dispatch};
use crate::time::Clock;
use crate::{App, Error};
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// How long a cached session is trusted before the store is asked again.
pub const RECHECK_SECS: i64 = 60;
/// Default session lifetime: one working shift.
pub const DEFAULT_TTL_SECS: i64 = 8 * 3600;
/// Default lifetime of a kiosk session (the `screen` role): 90 days.
pub const DEFAULT_KIOSK_TTL_SECS: i64 = 90 * 86_400;

#[derive(Clone)]
struct CachedSession {
    caller: Caller,
    expires_at: i64,
    checked_at: i64,
}

/// Sessions, the failed-login limiter and the clock. One per `App`.
pub struct AuthState {
    sessions: RwLock<HashMap<String, CachedSession>>,
    limiter: Mutex<Limiter>,
    /// ID-number lookups per account ([`limiter::LOOKUPS`]).
    lookups: Mutex<Limiter>,
    /// Failed sign-ins per client address and audit window (see [`FAILURE_WINDOW_SECS`]).
    failures: Mutex<HashMap<String, (i64, u64)>>,
    ttl_secs: AtomicI64,
    kiosk_ttl_secs: AtomicI64,
    /// The application's clock; tests move time forward with [`AuthState::advance_clock`].
    clock: Clock,
    /// Token hashes of sessions revoked here (see [`AuthState::revocations`]).
    revoked: tokio::sync::broadcast::Sender<String>,
    /// Whether anonymous callers may read public aggregates (see [`super::Access`]).
    public_aggregates: std::sync::atomic::AtomicBool,
}

impl Default for AuthState {
    fn default() -> Self {
        AuthState::new(Clock::system())
    }
}

impl AuthState {
    /// Sessions that read `clock`.
    pub fn new(clock: Clock) -> Self {
        AuthState {
            sessions: RwLock::default(),
            limiter: Mutex::default(),
            lookups: Mutex::default(),
            failures: Mutex::default(),
            ttl_secs: AtomicI64::new(DEFAULT_TTL_SECS),
            kiosk_ttl_secs: AtomicI64::new(DEFAULT_KIOSK_TTL_SECS),
            clock,
            revoked: tokio::sync::broadcast::channel(64).0,
            public_aggregates: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

/// Failed sign-ins from one client address are audited once per window of this length:
/// the first failure writes an entry, the rest are counted and the count goes into the
/// address's next entry, so an anonymous flood cannot grow the audit log (or hold its
/// writer) faster than one entry per address and window.
pub const FAILURE_WINDOW_SECS: i64 = 300;
/// Addresses tracked for that aggregation at once (older windows are dropped first; a
/// flood from more addresses than this shares one `*` key).
const MAX_FAILURE_SOURCES: usize = 10_000;

impl AuthState {
    /// Count a failed sign-in from `client` at `now`: `Some(earlier)` when it opens a new
    /// window for that address (write an entry, naming the `earlier` failures of its
    /// previous window that were counted without one), `None` when it only counts.
    fn count_failure(&self, client: &str, now: i64) -> Option<u64> {
        let window = now.div_euclid(FAILURE_WINDOW_SECS);
        let mut f = self.failures.lock();
        if f.len() >= MAX_FAILURE_SOURCES && !f.contains_key(client) {
            f.retain(|_, (w, _)| *w == window);
        }
        let key = if f.len() >= MAX_FAILURE_SOURCES && !f.contains_key(client) {
            "*"
        } else {
            client
        };
        match f.get_mut(key) {
            Some((w, n)) if *w == window => {
                *n += 1;
                None
            }
            Some((w, n)) => {
                let earlier = n.saturating_sub(1);
                *w = window;
                *n = 1;
                Some(earlier)
            }
            None => {
                f.insert(key.to_string(), (window, 1));
                Some(0)
            }
        }
    }
}

/// SHA-256 of a token, hex: what the store keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl AuthState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Move the clock forward (tests of expiry and lockout).
    pub fn advance_clock(&self, secs: i64) {
        self.clock.advance(secs);
    }

    /// Count one ID-number lookup of account `user_id`; `Err(seconds)` when the account
    /// has used up its lookups for now (the refused attempt counts nothing).
    pub fn count_lookup(&self, user_id: i64) -> Result<(), u64> {
        let now = self.clock.now();
        let key = format!("lookup:{user_id}");
        let mut l = self.lookups.lock();
        if let Some(wait) = l.locked(&key, now) {
            return Err(wait);
        }
        l.fail(&key, limiter::LOOKUPS, now);
        Ok(())
    }

    pub fn public_aggregates(&self) -> bool {
        self.public_aggregates.load(Ordering::Relaxed)
    }

    pub fn set_public_aggregates(&self, open: bool) {
        self.public_aggregates.store(open, Ordering::Relaxed);
    }

    pub fn set_ttl_secs(&self, secs: i64) {
        self.ttl_secs.store(secs.max(1), Ordering::Relaxed);
    }

    /// The lifetime of kiosk sessions (the `screen` role).
    pub fn set_kiosk_ttl_secs(&self, secs: i64) {
        self.kiosk_ttl_secs.store(secs.max(1), Ordering::Relaxed);
    }

    /// Whether sessions of `role` are kiosk sessions (long-lived; see the module doc).
    pub fn is_kiosk(role: Role) -> bool {
        role == Role::Screen
    }

    /// Resolve a bearer token to its caller, or 401.
    pub async fn authenticate(
        &self,
        store: &Store,
        token: &str,
        client: String,
    ) -> Result<Caller, Error> {
        self.authenticate_hash(store, &token_hash(token), client)
            .await
    }

    /// Check again that `caller`'s session is still valid (not revoked, not expired, the
    /// account not disabled): what a long-lived connection such as the live feed asks
    /// periodically. The store is asked at most every [`RECHECK_SECS`].
    pub async fn recheck(&self, store: &Store, caller: &Caller) -> Result<Caller, Error> {
        self.authenticate_hash(store, &caller.token_hash, caller.client.clone())
            .await
    }

    /// Sessions revoked in this process from now on (their token hashes), for
    /// connections that must end at once.
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.revoked.subscribe()
    }

    async fn authenticate_hash(
        &self,
        store: &Store,
        hash: &str,
        client: String,
    ) -> Result<Caller, Error> {
        let hash = hash.to_string();
        let now = self.now();
        let cached = self.sessions.read().get(&hash).cloned();
        let session = match cached {
            Some(s) if now - s.checked_at < RECHECK_SECS => s,
            _ => {
                let fresh = self.load_session(store, &hash, now).await?;
                let mut map = self.sessions.write();
                match fresh {
                    Some(s) => {
                        map.insert(hash.clone(), s.clone());
                        s
                    }
                    None => {
                        map.remove(&hash);
                        return Err(Error::Unauthenticated("invalid or revoked token".into()));
                    }
                }
            }
        };
        if session.expires_at <= now {
            return Err(Error::Unauthenticated("the session has expired".into()));
        }
        let mut caller = session.caller;
        caller.client = client;
        Ok(caller)
    }

    async fn load_session(
        &self,
        store: &Store,
        hash: &str,
        now: i64,
    ) -> Result<Option<CachedSession>, Error> {
        let row: Option<(i64, i64, Option<i64>)> = dispatch!(store, Store, p => sqlx::query_as(
            "SELECT user_id, expires_at, revoked_at FROM sessions WHERE token_hash = $1")
            .bind(hash).fetch_optional(p).await.map_err(anyhow::Error::from)?);
        let Some((user_id, expires_at, None)) = row else {
            return Ok(None);
        };
        let Some(who) = users::identity(store, user_id).await? else {
            return Ok(None);
        };
        if who.disabled {
            return Ok(None);
        }
        Ok(Some(CachedSession {
            caller: Caller {
                user_id,
                display: who.display(),
                username: who.username,
                role: who.role,
                grids: Arc::new(who.grids),
                mediation_org: who.mediation_org,
                client: String::new(),
                token_hash: hash.to_string(),
            },
            expires_at,
            checked_at: now,
        }))
    }

    /// Open a session for a verified user (a kiosk session when `kiosk`); returns the
    /// token and its expiry.
    async fn open(&self, store: &Store, user_id: i64, kiosk: bool) -> Result<(String, i64), Error> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = self.now();
        let ttl = if kiosk {
            &self.kiosk_ttl_secs
        } else {
            &self.ttl_secs
        };
        let expires_at = now + ttl.load(Ordering::Relaxed);
        dispatch!(store, Store, p => sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token)).bind(user_id).bind(now).bind(expires_at)
            .execute(p).await.map_err(crate::events::write::unavailable)?.rows_affected());
        Ok((token, expires_at))
    }

    /// End a session: its token stops working at once.
    pub async fn revoke(&self, store: &Store, hash: &str) -> Result<(), Error> {
        self.sessions.write().remove(hash);
        dispatch!(store, Store, p => sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(self.now()).bind(hash).execute(p).await.map_err(crate::events::write::unavailable)?.rows_affected());
        // After the commit: open connections of this session end now (none is fine).
        let _ = self.revoked.send(hash.to_string());
        Ok(())
    }

    /// End every open session of account `user_id`; returns how many were open. Its
    /// connections on this replica end at once.
    async fn revoke_all(&self, store: &Store, user_id: i64) -> Result<u64, Error> {
        let now = self.now();
        let hashes: Vec<String> = dispatch!(store, Store, p => sqlx::query_scalar(
            "SELECT token_hash FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2")
            .bind(user_id).bind(now).fetch_all(p).await.map_err(crate::events::write::unavailable)?);
        dispatch!(store, Store, p => sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now).bind(user_id).execute(p).await.map_err(crate::events::write::unavailable)?.rows_affected());
        self.sessions
            .write()
            .retain(|_, s| s.caller.user_id != user_id);
        for h in &hashes {
            let _ = self.revoked.send(h.clone());
        }
        Ok(hashes.len() as u64)
    }

    /// Forget every cached session (after permission changes made in this process).
    pub fn flush_cache(&self) {
        self.sessions.write().clear();
    }
}

/// A new session.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    /// Opaque bearer token: send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub username: String,
    /// The account's display name (its username when none was set).
    pub display: String,
    pub role: Role,
    pub grids: Vec<String>,
    pub mediation_org: Option<String>,
    /// A kiosk session (the `screen` role): long-lived, ended by an administrator.
    pub kiosk: bool,
}

/// What [`revoke_user_sessions`] did.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revoked {
    pub username: String,
    /// How many sessions were open and are now ended.
    pub revoked: u64,
}

/// End every session of the account `username` (an administrator's act, audited as
/// `revoke_sessions`): its tokens stop working at once, its live feeds close. The
/// caller's permission is the handler's to check.
pub async fn revoke_user_sessions(
    state: &App,
    caller: &Caller,
    username: &str,
) -> Result<Revoked, Error> {
    let record = if users::valid_username(username) {
        users::login_record(&state.store, username).await?
    } else {
        None
    };
    let record = record.ok_or_else(|| Error::NotFound(format!("no account {username}")))?;
    // Audited before it takes effect; fails closed if the audit cannot be written.
    crate::audit::append(
        &state.store,
        crate::audit::Record {
            actor: &caller.username,
            role: caller.role.as_str(),
            action: "revoke_sessions",
            target: username,
            reason: None,
            client: Some(&caller.client),
        },
    )
    .await
    .map_err(crate::events::write::audit_unavailable)?;
    let revoked = state.auth().revoke_all(&state.store, record.id).await?;
    Ok(Revoked {
        username: username.to_string(),
        revoked,
    })
}

/// Sign in with a username and password from `client`: every attempt is audited (never
/// the password), failures count towards the account's and the address's lockout.
pub async fn login(
    state: &App,
    username: &str,
    password: &Secret,
    client: &str,
) -> Result<SignedIn, Error> {
    let auth = state.auth();
    let now = auth.now();
    let account_key = format!("user:{}", username);
    let client = client.to_string();
    let address_key = format!("addr:{client}");
    // Sign-ins are audited (never the password); the name as typed, bounded.
    let typed: String = username.chars().take(64).collect();
    let audit_login = |action: &'static str, role: String| {
        let (store, typed, client) = (state.store.clone(), typed.clone(), client.clone());
        // Failures are aggregated per address and window (see `FAILURE_WINDOW_SECS`).
        let earlier = match action {
            "login_failed" | "login_locked" => auth.count_failure(&client, now),
            _ => Some(0),
        };
        async move {
            let Some(earlier) = earlier else {
                return Ok(());
            };
            let reason = (earlier > 0).then(|| {
                format!(
                    "{earlier} more failed sign-ins from this address in its previous {FAILURE_WINDOW_SECS} s window (counted, not logged one by one)"
                )
            });
            crate::audit::append(
                &store,
                crate::audit::Record {
                    actor: &typed,
                    role: &role,
                    action,
                    target: &typed,
                    reason: reason.as_deref(),
                    client: Some(&client),
                },
            )
            .await
            .map(|_| ())
            .map_err(crate::events::write::audit_unavailable)
        }
    };
    let locked = {
        let l = auth.limiter.lock();
        l.locked(&account_key, now).max(l.locked(&address_key, now))
    };
    if let Some(retry_after) = locked {
        audit_login("login_locked", "-".into()).await?;
        return Err(Error::RateLimited {
            message: "too many failed sign-ins; try again later".into(),
            retry_after,
        });
    }
    let record = if users::valid_username(username) && password.expose().len() <= 1024 {
        users::login_record(&state.store, username).await?
    } else {
        None
    };
    let password_plain = password.clone();
    let stored = record.as_ref().map(|r| r.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(h) => password::verify(password_plain.expose(), &h),
        None => {
            password::verify_dummy(password_plain.expose());
            false
        }
    })
    .await
    .map_err(anyhow::Error::from)?;
    let record = match record {
        Some(r) if ok && !r.disabled => r,
        _ => {
            let lockout = {
                let mut l = auth.limiter.lock();
                // Only real accounts get a per-account key: made-up names cannot grow the
                // table (the address's key still counts them).
                let a = if record.is_some() {
                    l.fail(&account_key, limiter::PER_ACCOUNT, now)
                } else {
                    None
                };
                let b = l.fail(&address_key, limiter::PER_ADDRESS, now);
                a.max(b)
            };
            audit_login("login_failed", "-".into()).await?;
            if let Some(retry_after) = lockout {
                return Err(Error::RateLimited {
                    message: "too many failed sign-ins; try again later".into(),
                    retry_after,
                });
            }
            return Err(Error::Unauthenticated("wrong username or password".into()));
        }
    };
    auth.limiter.lock().succeed(&account_key);
    let who = users::identity(&state.store, record.id)
        .await?
        .ok_or_else(|| Error::Unauthenticated("wrong username or password".into()))?;
    let kiosk = AuthState::is_kiosk(who.role);
    let (token, expires_at) = auth.open(&state.store, record.id, kiosk).await?;
    audit_login("login", who.role.as_str().to_string()).await?;
    Ok(SignedIn {
        token,
        expires_at,
        display: who.display(),
        username: who.username,
        role: who.role,
        grids: who.grids.into_iter().collect(),
        mediation_org: who.mediation_org,
        kiosk,
    })
}
