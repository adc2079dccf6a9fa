//! Key groups on the six lists (六大清单) with tracking and help (跟踪帮扶).
//!
//! **The six lists.** The source names four: drug users (吸毒人员), people with severe
//! mental disorders (严重精神障碍患者), people under community correction (社区矫正对象)
//! and people released from prison (刑满释放人员). The other two are the remaining
//! "special populations" (特殊人群) of the national comprehensive-governance information
//! system, which a governance centre keeps beside them: key youth (重点青少年 — idle
//! young people without schooling or work, with bad behaviour or left behind) and people
//! at risk of HIV (艾滋病危险人员). The register's key-group flag `other` feeds them: a
//! flagged resident aged up to 25 is on the youth list, an older one on the HIV-risk list.
//!
//! **One entry per person and list**, with the responsible grid worker and police officer
//! (members of the grid's 1+1+4+N forces), a follow-up plan (a visit every N days: by
//! the list, shortened for `attention` and `alert`), a status — stable (稳定), attention
//! (关注), alert (预警) — and the record of visits (走访), counselling (心理疏导) and help
//! (帮扶救助). A follow-up whose next visit falls on or before today is due; after today
//! it is overdue, and due follow-ups are the grid worker's tasks.
//!
//! **Who sees them.** These are the most sensitive records of the system and sit behind
//! the personal-data door like the residents they point at: only
//! [`Permission::KeyGroupRead`] (the grid's own grid workers, leaders, the social-risk
//! centre) sees a person on a list, always masked unless a leader unmasks one with a
//! stated reason; [`Permission::KeyGroupFollowUp`] (grid workers, the risk centre)
//! records visits. Every read, refusal and write is audited (a refusal as `denied_…`).
//! A record outside the caller's grids answers like an unknown one.
//!
//! **Counts.** Exact counts per grid, list and status go only to callers entitled to the
//! people behind them (audited). Everybody else with key-group aggregates sees only each
//! grid's total, and only when it passes [`super::suppress_key_group_count`] (≥ 5): no
//! breakdown and no sum over grids, as differences of those would single out people.
//! A grid worker sees nothing of another grid — not even a suppressed count.
//!
//! The records are read from the store on each request (like residents): no list, name
//! or status of a person is kept in memory, and every replica answers from the one store.

use super::{audit_refusal, audited, mask, record, resident_row, valid_code};
use crate::App;
use crate::audit::{self, Record};
use crate::auth::{Caller, Permission};
use crate::error::{Error, Result};
use crate::model::AreaLevel;
use crate::store::{Store, StoreTx, dispatch};
use crate::time::{DAY, format_date, format_local, today};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The six lists: code and Chinese name.
pub const LISTS: [(&str, &str); 6] = [
    ("drug", "吸毒人员"),
    ("mental", "严重精神障碍患者"),
    ("correction", "社区矫正对象"),
    ("released", "刑满释放人员"),
    ("youth", "重点青少年"),
    ("hiv_risk", "艾滋病危险人员"),
];

/// Follow-up statuses: code and Chinese name.
pub const STATUSES: [(&str, &str); 3] =
    [("stable", "稳定"), ("attention", "关注"), ("alert", "预警")];

/// What a follow-up record is: code and Chinese name.
pub const VISIT_KINDS: [(&str, &str); 3] = [
    ("visit", "走访"),
    ("counselling", "心理疏导"),
    ("help", "帮扶救助"),
];

/// The oldest age on the youth list (重点青少年 reach 25).
pub const YOUTH_MAX_AGE: i32 = 25;

fn name_of(table: &[(&str, &'static str)], code: &str) -> &'static str {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("其他", |(_, n)| n)
}

/// The Chinese name of a list.
pub fn list_name(code: &str) -> &'static str {
    name_of(&LISTS, code)
}

/// The Chinese name of a status.
pub fn status_name(code: &str) -> &'static str {
    name_of(&STATUSES, code)
}

/// The follow-up plan: days between visits by list and status. Community correction
/// and drug users are seen every two weeks when stable, the other lists monthly;
/// `attention` halves the interval, `alert` means a visit every week.
pub fn plan_days(list: &str, status: &str) -> i64 {
    let base = match list {
        "correction" | "drug" => 14,
        _ => 30,
    };
    match status {
        "alert" => 7,
        "attention" => base / 2,
        _ => base,
    }
}

/// The list of a resident's register flag (`crate::model::KEY_GROUPS`) at `age`.
pub fn list_for_flag(flag: &str, age: i32) -> Option<&'static str> {
    Some(match flag {
        "drug" => "drug",
        "mental" => "mental",
        "correction" => "correction",
        "released" => "released",
        "other" if age <= YOUTH_MAX_AGE => "youth",
        "other" => "hiv_risk",
        _ => return None,
    })
}

/// One entry as stored.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    resident_id: String,
    list: String,
    grid_code: String,
    worker_id: String,
    police_id: String,
    visit_every_days: i64,
    status: String,
    enrolled_at: i64,
    last_visit_at: Option<i64>,
    version: i64,
    name: Option<String>,
    sex: Option<String>,
    birth_date: Option<String>,
}

impl Entry {
    fn next_visit_at(&self) -> i64 {
        self.last_visit_at.unwrap_or(self.enrolled_at) + self.visit_every_days * DAY
    }
}

type EntryRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

const SELECT: &str = "SELECT k.id, k.resident_id, k.list, k.grid_code, k.worker_id, k.police_id, \
     k.visit_every_days, k.status, k.enrolled_at, k.last_visit_at, k.version, r.name, r.sex, r.birth_date \
     FROM key_group_people k LEFT JOIN residents r ON r.id = k.resident_id";

fn entry(r: EntryRow) -> Entry {
    Entry {
        id: r.0,
        resident_id: r.1,
        list: r.2,
        grid_code: r.3,
        worker_id: r.4,
        police_id: r.5,
        visit_every_days: r.6,
        status: r.7,
        enrolled_at: r.8,
        last_visit_at: r.9,
        version: r.10,
        name: r.11,
        sex: r.12,
        birth_date: r.13,
    }
}

async fn entries(store: &Store, grid: Option<&str>) -> Result<Vec<Entry>> {
    let rows: Vec<EntryRow> = match grid {
        Some(g) => {
            let sql = format!("{SELECT} WHERE k.grid_code = $1 ORDER BY k.id");
            dispatch!(store, Store, p => sqlx::query_as(&sql).bind(g).fetch_all(p).await.map_err(Error::internal)?)
        }
        None => {
            let sql = format!("{SELECT} ORDER BY k.id");
            dispatch!(store, Store, p => sqlx::query_as(&sql).fetch_all(p).await.map_err(Error::internal)?)
        }
    };
    Ok(rows.into_iter().map(entry).collect())
}

async fn one_entry(store: &Store, id: &str) -> Result<Option<Entry>> {
    let sql = format!("{SELECT} WHERE k.id = $1");
    let row: Option<EntryRow> = dispatch!(store, Store, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await.map_err(Error::internal)?);
    Ok(row.map(entry))
}

/// A member of the grid's forces responsible for a person.
#[derive(Debug, Clone, Serialize)]
pub struct Responsible {
    pub id: String,
    pub role_name: &'static str,
    pub name: String,
    /// Masked.
    pub phone: Option<String>,
}

/// A person on a list as the API shows them: always masked.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: String,
    pub resident_id: String,
    pub list: String,
    pub list_name: &'static str,
    pub grid_code: String,
    pub grid_name: String,
    /// Masked (张*明) unless unmasked.
    pub name: String,
    pub sex: String,
    pub birth_year: String,
    pub status: String,
    pub status_name: &'static str,
    /// The follow-up plan: a visit every this many days.
    pub visit_every_days: i64,
    pub enrolled_on: String,
    pub last_visit_on: Option<String>,
    pub next_visit_on: String,
    /// The next visit is today or earlier.
    pub due: bool,
    /// The next visit was before today.
    pub overdue: bool,
    pub days_overdue: i64,
    pub worker: Option<Responsible>,
    pub police: Option<Responsible>,
    pub version: i64,
}

fn responsible(state: &App, grid: &str, id: &str) -> Option<Responsible> {
    let ix = state.index().ok()?;
    let forces = ix.forces.read();
    let f = forces.grid_forces.get(grid)?.iter().find(|f| f.id == id)?;
    Some(Responsible {
        id: f.id.clone(),
        role_name: f.role_name,
        name: f.name.clone(),
        phone: f.phone.clone(),
    })
}

fn view(state: &App, e: &Entry, now: i64) -> PersonView {
    let grid_name = state
        .index()
        .ok()
        .and_then(|ix| ix.area(&e.grid_code).map(|a| a.area.name.clone()))
        .unwrap_or_default();
    let next = e.next_visit_at();
    let (next_day, today) = (format_date(next), today(now));
    PersonView {
        id: e.id.clone(),
        resident_id: e.resident_id.clone(),
        list: e.list.clone(),
        list_name: list_name(&e.list),
        grid_code: e.grid_code.clone(),
        grid_name,
        name: e.name.as_deref().map(mask::mask_name).unwrap_or_default(),
        sex: e.sex.clone().unwrap_or_default(),
        birth_year: e
            .birth_date
            .as_deref()
            .and_then(|b| b.get(..4))
            .unwrap_or("****")
            .to_string(),
        status: e.status.clone(),
        status_name: status_name(&e.status),
        visit_every_days: e.visit_every_days,
        enrolled_on: format_date(e.enrolled_at),
        last_visit_on: e.last_visit_at.map(format_date),
        due: next_day <= today,
        overdue: next_day < today,
        days_overdue: if next_day < today {
            ((now - next) / DAY).max(1)
        } else {
            0
        },
        worker: responsible(state, &e.grid_code, &e.worker_id),
        police: responsible(state, &e.grid_code, &e.police_id),
        next_visit_on: next_day,
        version: e.version,
    }
}

/// Whether `caller` is entitled to the people (and exact counts) of grid `grid`.
pub fn entitled(caller: &Caller, grid: &str) -> bool {
    caller.role.allows(Permission::KeyGroupRead) && caller.can_see_grid(grid)
}

/// The list's filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub grid: Option<String>,
    pub list: Option<String>,
    pub status: Option<String>,
    /// Only follow-ups due today or earlier.
    pub due: bool,
    pub limit: usize,
}

/// A page of the people on the lists.
#[derive(Debug, Clone, Serialize)]
pub struct People {
    pub total: usize,
    pub due: usize,
    pub people: Vec<PersonView>,
}

fn check_code(name: &str, v: Option<&str>, table: &[(&str, &str)]) -> Result<()> {
    match v {
        Some(v) if !table.iter().any(|(c, _)| *c == v) => Err(Error::Invalid(format!(
            "{name} must be one of {:?}, got {v:?}",
            table.iter().map(|(c, _)| *c).collect::<Vec<_>>()
        ))),
        _ => Ok(()),
    }
}

fn check_grid(state: &App, grid: &str) -> Result<()> {
    let ix = state.index()?;
    if ix
        .area(grid)
        .is_none_or(|a| a.area.level != AreaLevel::Grid)
    {
        return Err(Error::NotFound(format!("no grid {grid}")));
    }
    Ok(())
}

/// The people on the lists in the caller's grids (masked): due and overdue follow-ups
/// first. Audited, naming the filter and how many were shown.
pub async fn list(state: &App, caller: &Caller, f: Filter) -> Result<People> {
    let target = f.grid.clone().unwrap_or_else(|| "-".into());
    let target: String = target.chars().take(64).collect();
    audit_refusal(
        state,
        caller,
        "read_key_groups",
        &target,
        caller.require(Permission::KeyGroupRead),
    )
    .await?;
    check_code("list", f.list.as_deref(), &LISTS)?;
    check_code("status", f.status.as_deref(), &STATUSES)?;
    if let Some(g) = &f.grid {
        check_grid(state, g)?;
        audit_refusal(
            state,
            caller,
            "read_key_groups",
            g,
            caller.require_grid(Some(g)),
        )
        .await?;
    }
    let now = state.clock.now();
    let mut people: Vec<PersonView> = entries(&state.store, f.grid.as_deref())
        .await?
        .into_iter()
        .filter(|e| entitled(caller, &e.grid_code))
        .filter(|e| f.list.as_deref().is_none_or(|l| e.list == l))
        .filter(|e| f.status.as_deref().is_none_or(|s| e.status == s))
        .map(|e| view(state, &e, now))
        .filter(|v| !f.due || v.due)
        .collect();
    people.sort_by(|a, b| {
        b.due
            .cmp(&a.due)
            .then_with(|| a.next_visit_on.cmp(&b.next_visit_on))
            .then_with(|| a.id.cmp(&b.id))
    });
    let (total, due) = (people.len(), people.iter().filter(|p| p.due).count());
    people.truncate(f.limit);
    let what = format!(
        "{target};list={};status={};due={};shown={}",
        f.list.as_deref().unwrap_or("-"),
        f.status.as_deref().unwrap_or("-"),
        f.due,
        people.len()
    );
    audited(state, Record::by(caller, "read_key_groups", &what)).await?;
    Ok(People { total, due, people })
}

/// One follow-up record.
#[derive(Debug, Clone, Serialize)]
pub struct Visit {
    pub id: String,
    pub at: String,
    pub kind: String,
    pub kind_name: &'static str,
    pub actor: String,
    pub status_after: String,
    pub status_after_name: &'static str,
    pub note: String,
}

/// A person on a list with the resident record behind them and the follow-up record,
/// newest first.
#[derive(Debug, Clone, Serialize)]
pub struct PersonDetail {
    #[serde(flatten)]
    pub person: PersonView,
    pub resident: Option<super::ResidentRecord>,
    pub visits: Vec<Visit>,
    pub masked: bool,
}

async fn visits(store: &Store, id: &str) -> Result<Vec<Visit>> {
    let sql = "SELECT id, at, kind, actor, status_after, note FROM key_group_visits WHERE person_id = $1 ORDER BY at DESC, id DESC";
    let rows: Vec<(String, i64, String, String, String, String)> = dispatch!(store, Store, p => sqlx::query_as(sql).bind(id).fetch_all(p).await.map_err(Error::internal)?);
    Ok(rows
        .into_iter()
        .map(|(id, at, kind, actor, status_after, note)| Visit {
            id,
            at: format_local(at),
            kind_name: name_of(&VISIT_KINDS, &kind),
            kind,
            actor,
            status_after_name: status_name(&status_after),
            status_after,
            note,
        })
        .collect())
}

/// The entry `id` if the caller may see it: a refusal is audited and answered like an
/// unknown id.
async fn scoped(
    state: &App,
    caller: &Caller,
    id: &str,
    p: Permission,
    action: &str,
) -> Result<Entry> {
    let target: String = id.chars().take(64).collect();
    audit_refusal(state, caller, action, &target, caller.require(p)).await?;
    if !valid_code(id) {
        return Err(Error::Invalid("not a key-group record id".into()));
    }
    let e = one_entry(&state.store, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no key-group record {id}")))?;
    audit_refusal(
        state,
        caller,
        action,
        id,
        caller.require_grid(Some(&e.grid_code)),
    )
    .await
    .map_err(|e| match e {
        Error::Forbidden(_) => Error::NotFound(format!("no key-group record {id}")),
        other => other,
    })?;
    Ok(e)
}

async fn detail_of(state: &App, e: Entry, masked: bool) -> Result<PersonDetail> {
    let now = state.clock.now();
    let resident = match resident_row(&state.store, &e.resident_id).await? {
        Some(row) => Some(record(row, Some(e.grid_code.clone()), masked).map_err(Error::Internal)?),
        None => None,
    };
    let mut person = view(state, &e, now);
    if !masked && let Some(name) = &e.name {
        person.name = name.clone();
    }
    Ok(PersonDetail {
        visits: visits(&state.store, &e.id).await?,
        person,
        resident,
        masked,
    })
}

/// One person on a list with their follow-up record (masked; audited).
pub async fn detail(state: &App, caller: &Caller, id: &str) -> Result<PersonDetail> {
    let e = scoped(
        state,
        caller,
        id,
        Permission::KeyGroupRead,
        "read_key_group",
    )
    .await?;
    audited(state, Record::by(caller, "read_key_group", id)).await?;
    detail_of(state, e, true).await
}

/// One person on a list in full: leaders only (unmasking and the lists), with a stated
/// reason, audited.
pub async fn unmask(
    state: &App,
    caller: &Caller,
    id: &str,
    reason: Option<&str>,
) -> Result<PersonDetail> {
    let target: String = id.chars().take(64).collect();
    audit_refusal(
        state,
        caller,
        "unmask_key_group",
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
    let e = scoped(
        state,
        caller,
        id,
        Permission::KeyGroupRead,
        "unmask_key_group",
    )
    .await?;
    audited(
        state,
        Record::by(caller, "unmask_key_group", id).reason(reason),
    )
    .await?;
    detail_of(state, e, false).await
}

/// A follow-up to record.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitRequest {
    /// `visit` (走访), `counselling` (心理疏导) or `help` (帮扶救助).
    pub kind: String,
    /// What was found and done (2–2000 characters).
    pub note: String,
    /// The status after this follow-up (default: unchanged); the plan follows it.
    pub status: Option<String>,
    /// The record's `version` as read; a stale one is a 409.
    pub version: Option<i64>,
}

/// Record a visit, counselling or help given to person `id` (grid workers of the
/// person's grid, the risk centre): one transaction with the record's new status, plan
/// and version and the audit entry. Answers the updated record (masked).
pub async fn record_visit(
    state: &App,
    caller: &Caller,
    id: &str,
    req: VisitRequest,
) -> Result<PersonDetail> {
    let e = scoped(
        state,
        caller,
        id,
        Permission::KeyGroupFollowUp,
        "record_key_group_visit",
    )
    .await?;
    let kind = req.kind.trim();
    check_code("kind", Some(kind), &VISIT_KINDS)?;
    let status = req
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    check_code("status", status, &STATUSES)?;
    let status = status.unwrap_or(&e.status).to_string();
    let note = req.note.trim();
    if !(2..=2000).contains(&note.chars().count()) {
        return Err(Error::Unprocessable(
            "note must say in 2–2000 characters what was found and done".into(),
        ));
    }
    let version = req.version.unwrap_or(e.version);
    if version != e.version {
        return Err(Error::Conflict {
            message: format!(
                "record {id} has changed (version {} now, {version} sent): reload it",
                e.version
            ),
            detail: None,
        });
    }
    let now = state.clock.now();
    let every = plan_days(&e.list, &status);
    let visit_id = format!("{id}-{version:04}");
    let mut tx = state.store.begin().await?;
    let updated = dispatch!(&mut tx, StoreTx, t => {
        let n = sqlx::query("UPDATE key_group_people SET status = $1, visit_every_days = $2, last_visit_at = $3, version = version + 1 WHERE id = $4 AND version = $5")
            .bind(&status).bind(every).bind(now).bind(id).bind(version)
            .execute(&mut **t).await.map_err(Error::internal)?.rows_affected();
        if n == 1 {
            sqlx::query("INSERT INTO key_group_visits (id, person_id, at, kind, actor, status_after, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&visit_id).bind(id).bind(now).bind(kind).bind(&caller.username).bind(&status).bind(note)
                .execute(&mut **t).await.map_err(Error::internal)?;
        }
        n
    });
    if updated != 1 {
        return Err(Error::Conflict {
            message: format!("record {id} has changed: reload it"),
            detail: None,
        });
    }
    audit::append_in(
        &mut tx,
        &Record::by(caller, "record_key_group_visit", &visit_id),
    )
    .await
    .map_err(crate::events::write::audit_unavailable)?;
    tx.commit().await?;
    let e = one_entry(&state.store, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no key-group record {id}")))?;
    detail_of(state, e, true).await
}

/// The key-group figures of one grid.
#[derive(Debug, Clone, Serialize)]
pub struct GridCounts {
    pub grid_code: String,
    pub grid_name: String,
    /// Exact figures (the caller is entitled to the people) or only a protected total.
    pub exact: bool,
    /// People on the lists; `null` when fewer than 5 and the caller is not entitled.
    pub total: Option<u32>,
    /// Exact figures only: per list, per status, and follow-ups due.
    pub by_list: Option<BTreeMap<String, u32>>,
    pub by_status: Option<BTreeMap<String, u32>>,
    pub due: Option<u32>,
}

/// Key-group follow-up status per grid.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub grids: Vec<GridCounts>,
    /// Sums over the grids shown, only when every one of them is exact.
    pub total: Option<u32>,
    pub due: Option<u32>,
}

/// Key-group follow-up status per grid of `area` (a grid, community or township; the
/// district without): exact for entitled callers (audited), the protected total for the
/// others with key-group aggregates, nothing of grids outside a grid worker's scope.
pub async fn summary(state: &App, caller: &Caller, area: Option<&str>) -> Result<Summary> {
    let target: String = area.unwrap_or("-").chars().take(64).collect();
    let may = caller.role.allows(Permission::KeyGroupRead)
        || caller.role.allows(Permission::KeyGroupAggregates);
    let check = if may {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "the role {} may not see key-group figures",
            caller.role.as_str()
        )))
    };
    audit_refusal(state, caller, "read_key_group_counts", &target, check).await?;
    let grids: Vec<(String, String)> = {
        let ix = state.index()?;
        let root = match area {
            Some(a) => Some(
                ix.area(a)
                    .ok_or_else(|| Error::NotFound(format!("no area {a}")))?,
            ),
            None => None,
        };
        if let Some(r) = root
            && r.area.level == AreaLevel::Grid
        {
            let check = if caller.can_see_grid(&r.area.code) {
                Ok(())
            } else {
                Err(Error::Forbidden("outside your grids".into()))
            };
            audit_refusal(state, caller, "read_key_group_counts", &target, check).await?;
        }
        ix.areas
            .iter()
            .filter(|g| g.area.level == AreaLevel::Grid)
            .filter(|g| caller.can_see_grid(&g.area.code))
            .filter(|g| {
                root.is_none_or(|r| ix.ancestors(g).iter().any(|a| a.area.code == r.area.code))
            })
            .map(|g| (g.area.code.clone(), g.area.name.clone()))
            .collect()
    };
    let now = state.clock.now();
    let today = today(now);
    #[derive(Default)]
    struct Tally {
        total: u32,
        by_list: BTreeMap<String, u32>,
        by_status: BTreeMap<String, u32>,
        due: u32,
    }
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let one = match area {
        Some(a) if grids.len() == 1 && grids[0].0 == a => Some(a),
        _ => None,
    };
    for e in entries(&state.store, one).await? {
        let t = tallies.entry(e.grid_code.clone()).or_default();
        t.total += 1;
        *t.by_list.entry(e.list.clone()).or_default() += 1;
        *t.by_status.entry(e.status.clone()).or_default() += 1;
        t.due += u32::from(format_date(e.next_visit_at()) <= today);
    }
    let mut out = Vec::new();
    let mut any_exact = false;
    for (code, name) in grids {
        let t = tallies.remove(&code).unwrap_or_default();
        if entitled(caller, &code) {
            any_exact = true;
            out.push(GridCounts {
                grid_code: code,
                grid_name: name,
                exact: true,
                total: Some(t.total),
                by_list: Some(t.by_list),
                by_status: Some(t.by_status),
                due: Some(t.due),
            });
        } else if caller.can_see_key_groups(Some(&code)) {
            out.push(GridCounts {
                grid_code: code,
                grid_name: name,
                exact: false,
                total: super::suppress_key_group_count(t.total),
                by_list: None,
                by_status: None,
                due: None,
            });
        }
    }
    let all_exact = out.iter().all(|g| g.exact);
    let sum = |f: fn(&GridCounts) -> Option<u32>| -> Option<u32> {
        all_exact.then(|| out.iter().filter_map(f).sum())
    };
    let (total, due) = (sum(|g| g.total), sum(|g| g.due));
    if any_exact {
        audited(state, Record::by(caller, "read_key_group_counts", &target)).await?;
    }
    Ok(Summary {
        grids: out,
        total,
        due,
    })
}

/// A due follow-up as a task of the grid worker.
#[derive(Debug, Clone, Serialize)]
pub struct DueFollowUp {
    pub id: String,
    pub list_name: &'static str,
    pub grid_code: String,
    pub grid_name: String,
    /// Masked.
    pub name: String,
    pub status: String,
    pub status_name: &'static str,
    pub next_visit_on: String,
    pub overdue: bool,
    pub days_overdue: i64,
}

/// The due key-group follow-ups of a grid worker's grids (the task list's
/// `key_group_follow_ups`): empty, without a read, for every other role. Audited when
/// any is shown.
pub async fn due_follow_ups(state: &App, caller: &Caller) -> Result<Vec<DueFollowUp>> {
    if !caller.role.grid_scoped()
        || !caller.role.allows(Permission::KeyGroupFollowUp)
        || caller.grids.is_empty()
    {
        return Ok(Vec::new());
    }
    let now = state.clock.now();
    let mut out = Vec::new();
    for g in caller.grids.iter() {
        for e in entries(&state.store, Some(g)).await? {
            let v = view(state, &e, now);
            if v.due {
                out.push(DueFollowUp {
                    id: v.id,
                    list_name: v.list_name,
                    grid_code: v.grid_code,
                    grid_name: v.grid_name,
                    name: v.name,
                    status: v.status,
                    status_name: v.status_name,
                    next_visit_on: v.next_visit_on,
                    overdue: v.overdue,
                    days_overdue: v.days_overdue,
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.next_visit_on, &a.id).cmp(&(&b.next_visit_on, &b.id)));
    if !out.is_empty() {
        let target = format!("due={}", out.len());
        audited(state, Record::by(caller, "read_key_group_tasks", &target)).await?;
    }
    Ok(out)
}
