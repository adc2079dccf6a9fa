//! Personal records behind one door. Every read of a household or resident goes through
//! the functions here: they check the caller's role and grid scope, write the audit entry
//! (and fail closed if it cannot be written), decrypt, and mask by default.
//!
//! - [`crypto`]: encryption at rest of ID numbers and phones, the blind index, keys;
//! - [`mask`]: 张*明, 510603********1234, 138****5678;
//! - [`key_groups`]: the six key-group lists with their follow-up (tracking and help);
//! - [`suppress_key_group_count`]: the one place that decides whether a key-group count
//!   may leave the server.

pub mod crypto;
pub mod key_groups;
pub mod mask;

pub use crypto::{DataKeys, SealedFields, install_keys, keys, seal};

use crate::audit::{self, Record};
use crate::auth::{Caller, Permission};
use crate::model::KEY_GROUPS;
use crate::store::{Store, StoreTx, dispatch};
use crate::{App, Error};
use anyhow::{Context, Result};
use serde::Serialize;

/// The smallest key-group count that may be shown (the analysis crate's constant, so
/// tiles, analysis and exports all use the same 5).
pub const KEY_GROUP_MIN_COUNT: u32 = minqing_analysis::population::KEY_GROUP_MIN_COUNT;

/// `Some(n)` when a key-group aggregate of `n` people may leave the server, `None` when
/// it must be suppressed (fewer than [`KEY_GROUP_MIN_COUNT`], including zero). Use this
/// for every key-group count in tiles, analysis results and exports.
pub fn suppress_key_group_count(n: u32) -> Option<u32> {
    minqing_analysis::population::suppress_small(n, KEY_GROUP_MIN_COUNT)
}

/// One resident as the API shows it. Masked unless `masked` is false (only after an
/// audited unmasking).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResidentRecord {
    pub id: String,
    pub name: String,
    pub sex: String,
    /// `YYYY-**-**` when masked.
    pub birth_date: String,
    pub id_number: String,
    pub phone: Option<String>,
    pub registration: String,
    pub household_id: Option<String>,
    pub relation: Option<String>,
    pub address: String,
    pub address_code: Option<String>,
    pub building_code: Option<String>,
    pub grid_code: Option<String>,
    pub key_groups: Vec<String>,
    pub masked: bool,
}

/// A household of a building and its members.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Household {
    /// `None` groups the residents recorded without a household.
    pub household_id: Option<String>,
    pub members: Vec<ResidentRecord>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildingHouseholds {
    pub building_code: String,
    pub grid_code: Option<String>,
    pub households: Vec<Household>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
);

const SELECT: &str = "SELECT r.id, r.name, r.sex, r.birth_date, r.id_number, r.phone, r.registration, \
     r.household_id, r.relation, r.address, r.address_code, r.key_groups, \
     COALESCE(u.building_code, b.code) FROM residents r \
     LEFT JOIN units u ON u.code = r.address_code \
     LEFT JOIN buildings b ON b.code = r.address_code ";

fn grid_of(state: &App, building: Option<&str>) -> Result<Option<String>, Error> {
    let ix = state.index()?;
    Ok(building
        .and_then(|b| ix.building(b))
        .and_then(|b| b.grid)
        .and_then(|g| ix.areas.get(g as usize))
        .map(|a| a.area.code.clone()))
}

fn record(row: Row, grid_code: Option<String>, masked: bool) -> Result<ResidentRecord> {
    let (
        id,
        name,
        sex,
        birth,
        id_enc,
        phone_enc,
        registration,
        household_id,
        relation,
        address,
        address_code,
        groups,
        building,
    ) = row;
    let keys = keys();
    let id_number = keys
        .decrypt("id_number", &id, &id_enc)
        .with_context(|| format!("opening resident {id}"))?;
    let phone = phone_enc
        .map(|p| keys.decrypt("phone", &id, &p))
        .transpose()?;
    let name = open_sealed(&keys, "name", &id, name)?;
    let birth = open_sealed(&keys, "birth_date", &id, birth)?;
    let key_groups = groups
        .split(';')
        .map(str::trim)
        .filter(|g| KEY_GROUPS.contains(g))
        .map(String::from)
        .collect();
    Ok(if masked {
        ResidentRecord {
            name: mask::mask_name(&name),
            birth_date: format!("{}-**-**", birth.get(..4).unwrap_or("****")),
            id_number: mask::mask_id_number(&id_number),
            phone: phone.as_deref().map(mask::mask_phone),
            id,
            sex,
            registration,
            household_id,
            relation,
            address,
            address_code,
            building_code: building,
            grid_code,
            key_groups,
            masked,
        }
    } else {
        ResidentRecord {
            id,
            name,
            sex,
            birth_date: birth,
            id_number,
            phone,
            registration,
            household_id,
            relation,
            address,
            address_code,
            building_code: building,
            grid_code,
            key_groups,
            masked,
        }
    })
}

fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn resident_row(store: &Store, id: &str) -> Result<Option<Row>, Error> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    Ok(
        dispatch!(store, Store, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await.map_err(anyhow::Error::from)?),
    )
}

async fn audited(state: &App, r: Record<'_>) -> Result<(), Error> {
    audit::append(&state.store, r)
        .await
        .map(|_| ())
        .map_err(crate::events::write::audit_unavailable)
}

/// Pass `check` through; a refusal (403) is itself audited as `denied_<action>`, so
/// probing outside one's role or grids shows up in the log.
async fn audit_refusal(
    state: &App,
    caller: &Caller,
    action: &str,
    target: &str,
    check: Result<(), Error>,
) -> Result<(), Error> {
    if let Err(Error::Forbidden(_)) = &check {
        let denied = format!("denied_{action}");
        audited(state, Record::by(caller, &denied, target)).await?;
    }
    check
}

/// Households and residents of one building (masked).
pub async fn building_households(
    state: &App,
    caller: &Caller,
    code: &str,
) -> Result<BuildingHouseholds, Error> {
    let code = code.to_string();
    let target = code.chars().take(64).collect::<String>();
    audit_refusal(
        state,
        caller,
        "read_households",
        &target,
        caller.require(Permission::PersonalRead),
    )
    .await?;
    if !valid_code(&code) {
        return Err(Error::Invalid("not a building code".into()));
    }
    if state.index()?.building(&code).is_none() {
        return Err(Error::NotFound(format!("no building {code}")));
    }
    let grid_code = grid_of(state, Some(&code))?;
    audit_refusal(
        state,
        caller,
        "read_households",
        &code,
        caller.require_grid(grid_code.as_deref()),
    )
    .await?;
    audited(state, Record::by(caller, "read_households", &code)).await?;
    let sql = format!(
        "{SELECT} WHERE r.address_code = $1 OR r.address_code IN (SELECT code FROM units WHERE building_code = $1) \
         ORDER BY r.household_id, r.id"
    );
    let rows: Vec<Row> = dispatch!(&state.store, Store, p => sqlx::query_as(&sql).bind(&code).fetch_all(p).await.map_err(anyhow::Error::from)?);
    let mut households: Vec<Household> = Vec::new();
    for row in rows {
        let r = record(row, grid_code.clone(), true)?;
        match households.last_mut() {
            Some(h) if h.household_id == r.household_id => h.members.push(r),
            _ => households.push(Household {
                household_id: r.household_id.clone(),
                members: vec![r],
            }),
        }
    }
    Ok(BuildingHouseholds {
        building_code: code,
        grid_code,
        households,
    })
}

async fn scoped_resident(
    state: &App,
    caller: &Caller,
    id: &str,
    permission: Permission,
    action: &str,
) -> Result<(Row, Option<String>), Error> {
    let target = id.chars().take(64).collect::<String>();
    audit_refusal(state, caller, action, &target, caller.require(permission)).await?;
    if !valid_code(id) {
        return Err(Error::Invalid("not a resident id".into()));
    }
    let row = resident_row(&state.store, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no resident {id}")))?;
    let grid = grid_of(state, row.12.as_deref())?;
    // The refusal is audited, but answered like an unknown id: the answer must not
    // tell a caller that a resident exists outside their grids.
    audit_refusal(
        state,
        caller,
        action,
        id,
        caller.require_grid(grid.as_deref()),
    )
    .await
    .map_err(|e| match e {
        Error::Forbidden(_) => Error::NotFound(format!("no resident {id}")),
        other => other,
    })?;
    Ok((row, grid))
}

/// One resident (masked).
pub async fn resident(state: &App, caller: &Caller, id: &str) -> Result<ResidentRecord, Error> {
    let (row, grid) =
        scoped_resident(state, caller, id, Permission::PersonalRead, "read_resident").await?;
    audited(state, Record::by(caller, "read_resident", id)).await?;
    record(row, grid, true).map_err(Error::Internal)
}

/// One resident in full: an explicit, audited action with a stated reason.
///
/// `reason` is `None` when the request carried none in a readable form: that is an
/// [`Error::Invalid`], but only after the role check (so a refusal is audited first).
pub async fn unmask(
    state: &App,
    caller: &Caller,
    id: &str,
    reason: Option<&str>,
) -> Result<ResidentRecord, Error> {
    let target = id.chars().take(64).collect::<String>();
    audit_refusal(
        state,
        caller,
        "unmask_resident",
        &target,
        caller.require(Permission::Unmask),
    )
    .await?;
    let reason = reason
        .ok_or_else(|| Error::Invalid("expected {\"reason\": \"…\"}".into()))?
        .trim();
    if !(4..=500).contains(&reason.chars().count()) {
        return Err(Error::Unprocessable(
            "a reason of 4–500 characters is required to unmask a record".into(),
        ));
    }
    let (row, grid) =
        scoped_resident(state, caller, id, Permission::Unmask, "unmask_resident").await?;
    audited(
        state,
        Record::by(caller, "unmask_resident", id).reason(reason),
    )
    .await?;
    record(row, grid, false).map_err(Error::Internal)
}

/// Exact lookup by ID number through the blind index (masked; within the caller's
/// grids). An ID number outside the caller's grids answers 404 like an unknown one, so
/// the answer never reveals that the person lives elsewhere in the district.
///
/// `id_number` is `None` when the request carried none in a readable form (an
/// [`Error::Invalid`] after the role check).
pub async fn lookup(
    state: &App,
    caller: &Caller,
    id_number: Option<&crate::config::Secret>,
) -> Result<Vec<ResidentRecord>, Error> {
    audit_refusal(
        state,
        caller,
        "lookup_id",
        "-",
        caller.require(Permission::IdLookup),
    )
    .await?;
    // Rate limited per account: a lookup confirms a guessed ID number. A refusal is
    // audited too (`denied_lookup_id`, reason `rate limited`).
    if let Err(wait) = state.auth().count_lookup(caller.user_id) {
        audited(
            state,
            Record::by(caller, "denied_lookup_id", "-").reason("rate limited"),
        )
        .await?;
        return Err(Error::RateLimited {
            message: format!("too many ID-number lookups; try again in {wait} s"),
            retry_after: wait,
        });
    }
    let id_number = id_number
        .ok_or_else(|| Error::Invalid("expected {\"id_number\": \"…\"}".into()))?
        .expose()
        .trim()
        .to_ascii_uppercase();
    if !crate::ids::is_valid_id_number(&id_number) {
        return Err(Error::Unprocessable("not a valid ID number".into()));
    }
    let bidx = keys().blind_index(&id_number);
    let sql = format!("{SELECT} WHERE r.id_number_bidx = $1 ORDER BY r.id");
    let rows: Vec<Row> = dispatch!(&state.store, Store, p => sqlx::query_as(&sql).bind(&bidx).fetch_all(p).await.map_err(anyhow::Error::from)?);
    let mut found = Vec::new();
    for row in rows {
        let grid = grid_of(state, row.12.as_deref())?;
        if caller.require_grid(grid.as_deref()).is_ok() {
            found.push((row, grid));
        }
    }
    // The audit names the resident(s) found, or the first 16 hex digits of the blind
    // index for a miss: never the ID number itself.
    let target = if found.is_empty() {
        format!("bidx:{}", &bidx[..16])
    } else {
        found
            .iter()
            .map(|(r, _)| r.0.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    audited(state, Record::by(caller, "lookup_id", &target)).await?;
    if found.is_empty() {
        return Err(Error::NotFound(
            "no resident with this ID number in your scope".into(),
        ));
    }
    let records = found
        .into_iter()
        .map(|(row, grid)| record(row, grid, true))
        .collect::<Result<Vec<_>>>()?;
    Ok(records)
}

/// A sealed column's value in the clear (a value stored before it was sealed is
/// returned as it is, until `seal_plain_names` or a key rotation seals it).
fn open_sealed(keys: &DataKeys, column: &str, id: &str, stored: String) -> Result<String> {
    if stored.starts_with("enc1:") {
        keys.decrypt(column, id, &stored)
            .with_context(|| format!("opening resident {id}"))
    } else {
        Ok(stored)
    }
}

/// Seal the names and birth dates still stored in the clear (rows imported before
/// migration 0011), with the installed keys, in one transaction; run at every start
/// (a no-op once done). Returns the rows sealed.
pub async fn seal_plain_names(store: &Store) -> Result<u64> {
    let rows: Vec<(String, String, String)> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT id, name, birth_date FROM residents \
         WHERE name NOT LIKE 'enc1:%' OR birth_date NOT LIKE 'enc1:%' ORDER BY id")
        .fetch_all(p).await?);
    if rows.is_empty() {
        return Ok(0);
    }
    let k = keys();
    let mut tx = store.begin().await?;
    let mut n = 0;
    for (id, name, birth) in rows {
        let name = open_sealed(&k, "name", &id, name)?;
        let birth = open_sealed(&k, "birth_date", &id, birth)?;
        let ym: i64 = birth
            .get(0..4)
            .zip(birth.get(5..7))
            .and_then(|(y, m)| Some(y.parse::<i64>().ok()? * 100 + m.parse::<i64>().ok()?))
            .unwrap_or(0);
        dispatch!(&mut tx, StoreTx, t => sqlx::query(
            "UPDATE residents SET name = $1, birth_date = $2, birth_ym = $3 WHERE id = $4")
            .bind(k.encrypt("name", &id, &name)).bind(k.encrypt("birth_date", &id, &birth))
            .bind(ym).bind(&id)
            .execute(&mut **t).await?.rows_affected());
        n += 1;
    }
    tx.commit().await?;
    Ok(n)
}

/// Re-encrypt every ID number, phone, name and birth date from `old` to `new` keys (and
/// recompute the blind index) in one transaction: all rows move or none. Values still in plain text
/// (a store imported before encryption) are encrypted too. Returns the rows rewritten.
pub async fn rotate_keys(store: &Store, old: &DataKeys, new: &DataKeys) -> Result<u64> {
    let rows: Vec<(String, String, Option<String>, String, String)> = dispatch!(store, Store, p => sqlx::query_as(
        "SELECT id, id_number, phone, name, birth_date FROM residents ORDER BY id").fetch_all(p).await?);
    let open = |col: &str, id: &str, v: &str| -> Result<String> {
        if v.starts_with("enc1:") {
            old.decrypt(col, id, v)
        } else {
            Ok(v.to_string())
        }
    };
    let mut tx = store.begin().await?;
    let mut n = 0;
    for (id, id_enc, phone_enc, name_enc, birth_enc) in rows {
        let id_number = open("id_number", &id, &id_enc)?;
        let phone = phone_enc.map(|p| open("phone", &id, &p)).transpose()?;
        let name = open("name", &id, &name_enc)?;
        let birth = open("birth_date", &id, &birth_enc)?;
        let s = seal(new, &id, &id_number, phone.as_deref());
        dispatch!(&mut tx, StoreTx, t => sqlx::query(
            "UPDATE residents SET id_number = $1, phone = $2, id_number_bidx = $3, name = $4, birth_date = $5 WHERE id = $6")
            .bind(&s.id_number).bind(&s.phone).bind(&s.id_number_bidx)
            .bind(new.encrypt("name", &id, &name)).bind(new.encrypt("birth_date", &id, &birth))
            .bind(&id)
            .execute(&mut **t).await?.rows_affected());
        n += 1;
    }
    tx.commit().await?;
    Ok(n)
}
