//! The work of the closed loop as each account sees it, over the in-memory event index
//! (no SQL but the caller's history and read marks): the task list, alerts, the
//! assignee list's units, and model 5 per owner, organisation and unit.
//!
//! **Who an event concerns** ([`concerns`]): its owner, and the members of its owning
//! unit — the mediators of an owning organisation, the grid workers of an owning grid,
//! the reception for the reception window, the risk centre for the risk centre, the
//! leaders for the leaders' department ([`super::LEADER_DEPARTMENT`]). An event without
//! an owning unit (an older record) concerns the mediators of its mediation organisation
//! and the grid workers of its grid.
//!
//! **Alerts** ([`alerts_of`]) of an open event: `overdue` (past its deadline),
//! `due_soon` (deadline within 24 hours), `large_risk` (the tier became large within
//! the last 7 days) and `supervised` (a leader supervises it). An alert is identified by
//! its event, kind and time (`at`: the deadline, when the tier became large, when the
//! supervision was given), so a new deadline or a new supervision is a new, unread alert.

use super::query::is_due_within_24h;
use crate::auth::{Caller, Role};
use crate::model::{Event, is_closed_status};
use serde::Serialize;
use std::collections::BTreeMap;

/// The alert kinds.
pub const ALERT_KINDS: [&str; 4] = ["due_soon", "overdue", "large_risk", "supervised"];

/// How long a tier change to large stays an alert.
pub const LARGE_RISK_ALERT_S: i64 = 7 * 86_400;

/// How far back the done list reaches.
pub const DONE_WINDOW_S: i64 = 30 * 86_400;

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub code: String,
    pub kind: &'static str,
    pub title: String,
    /// Unix seconds (see the module doc).
    pub at: i64,
}

impl Alert {
    /// The key its read mark is stored under.
    pub fn key(&self) -> (String, String, i64) {
        (self.code.clone(), self.kind.to_string(), self.at)
    }
}

/// The alerts `e` raises at `now` (none once it is closed).
pub fn alerts_of(e: &Event, now: i64) -> Vec<Alert> {
    let mut v = Vec::new();
    if is_closed_status(&e.status) {
        return v;
    }
    let alert = |kind: &'static str, at: i64| Alert {
        code: e.code.clone(),
        kind,
        title: e.title.clone(),
        at,
    };
    if super::is_overdue(e, now) {
        v.push(alert("overdue", e.deadline));
    } else if is_due_within_24h(e, now) {
        v.push(alert("due_soon", e.deadline));
    }
    if e.risk_tier == "large"
        && let Some(since) = e.large_since
        && now - since <= LARGE_RISK_ALERT_S
    {
        v.push(alert("large_risk", since));
    }
    if let Some(s) = &e.supervision {
        v.push(alert("supervised", s.at));
    }
    v
}

/// The alert kinds a change makes new (what the live feed pushes): a supervision, a tier
/// that became large (or a large intake), and, on assignment, every alert the event has
/// for its new owner.
pub fn kinds_made_by(change: &str, e: &Event) -> &'static [&'static str] {
    match change {
        "supervise" => &["supervised"],
        "set_risk_tier" | "created" if e.large_since == Some(e.updated_at) => &["large_risk"],
        "assign" | "assign_mediation" => &ALERT_KINDS,
        _ => &[],
    }
}

/// Whether `e` concerns `caller` (see the module doc).
pub fn concerns(caller: &Caller, e: &Event) -> bool {
    if e.owner.as_deref() == Some(caller.username.as_str()) {
        return true;
    }
    let unit = e.owner_unit.as_deref();
    match (caller.role, e.owner_unit_kind.as_deref()) {
        (Role::Mediator, Some("mediation_org")) => {
            caller.mediation_org.is_some() && caller.mediation_org.as_deref() == unit
        }
        (Role::Mediator, None) => {
            caller.mediation_org.is_some() && caller.mediation_org == e.mediation_org
        }
        (Role::GridWorker, Some("grid")) => unit.is_some_and(|g| caller.grids.contains(g)),
        (Role::GridWorker, None) => caller.grids.contains(&e.grid_code),
        (Role::Reception, Some("reception")) => true,
        (Role::RiskCentre, Some("risk_centre")) => true,
        (Role::Leader, Some("department")) => unit == Some(super::LEADER_DEPARTMENT),
        _ => false,
    }
}

/// The caller's alerts now, newest first.
pub fn alerts_for(caller: &Caller, events: &[Event], now: i64) -> Vec<Alert> {
    let mut v: Vec<Alert> = events
        .iter()
        .filter(|e| !is_closed_status(&e.status) && concerns(caller, e))
        .flat_map(|e| alerts_of(e, now))
        .collect();
    v.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.code.cmp(&b.code)));
    v
}

/// Every alert of the district now, newest first (the screen's panel).
pub fn all_alerts(events: &[Event], now: i64) -> Vec<Alert> {
    let mut v: Vec<Alert> = events.iter().flat_map(|e| alerts_of(e, now)).collect();
    v.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.code.cmp(&b.code)));
    v
}

/// Counts per alert kind (every kind, zeros included).
pub fn count_kinds(alerts: &[Alert]) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> = ALERT_KINDS.iter().map(|k| (*k, 0)).collect();
    for a in alerts {
        *m.entry(a.kind).or_default() += 1;
    }
    m
}

/// The kind of a task.
pub type TaskKind = &'static str;

/// Whether a follow-up visit of a closed event is due on or before `today`
/// (`YYYY-MM-DD`, CST).
pub fn visit_due(e: &Event, today: &str) -> bool {
    is_closed_status(&e.status) && e.next_visit.as_deref().is_some_and(|d| d <= today)
}

/// The statuses in which a case still asks something of its holder in `role`: a grid
/// worker or the reception until it is handled or routed (accepted), a mediator while
/// it is with the organisation (accepted, mediating), the risk centre and leaders until
/// it is closed.
pub fn pending_statuses(role: Role) -> &'static [&'static str] {
    match role {
        Role::GridWorker | Role::Reception => &["accepted"],
        Role::Mediator => &["accepted", "mediating"],
        Role::Leader | Role::RiskCentre => super::OPEN,
        Role::Screen | Role::Admin => &[],
    }
}

/// What `e` asks of `caller` now, if anything: `supervision` (an open event of theirs
/// under supervision), `follow_up_visit` (grid workers: a closed event of their grid
/// whose next visit is due), `case` (in a [pending status](pending_statuses): grid
/// workers' events of their grids, mediators' of their organisation, everyone's events
/// they own).
pub fn task_kind(caller: &Caller, e: &Event, today: &str) -> Option<TaskKind> {
    let open = !is_closed_status(&e.status);
    let owned = e.owner.as_deref() == Some(caller.username.as_str());
    let theirs = owned
        || match caller.role {
            Role::GridWorker => caller.grids.contains(&e.grid_code),
            Role::Mediator => {
                concerns(caller, e)
                    || caller.can_see_event(&e.grid_code, e.mediation_org.as_deref())
            }
            _ => false,
        };
    if !theirs {
        return None;
    }
    if open && e.supervision.is_some() {
        return Some("supervision");
    }
    if caller.role == Role::GridWorker && visit_due(e, today) {
        return Some("follow_up_visit");
    }
    pending_statuses(caller.role)
        .contains(&e.status.as_str())
        .then_some("case")
}

/// The caller's tasks: each event with what it asks, supervision first, then due
/// visits, then by deadline (earliest first).
pub fn tasks_for<'a>(caller: &Caller, events: &'a [Event], now: i64) -> Vec<(&'a Event, TaskKind)> {
    let today = crate::time::today(now);
    let mut v: Vec<(&Event, TaskKind)> = events
        .iter()
        .filter_map(|e| task_kind(caller, e, &today).map(|k| (e, k)))
        .collect();
    let rank = |k: TaskKind| match k {
        "supervision" => 0,
        "follow_up_visit" => 1,
        _ => 2,
    };
    v.sort_by(|a, b| {
        rank(a.1)
            .cmp(&rank(b.1))
            .then_with(|| a.0.deadline.cmp(&b.0.deadline))
            .then_with(|| a.0.code.cmp(&b.0.code))
    });
    v
}

/// Per-group figures of model 5 per owner (see [`workload`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Load {
    /// Events accepted in the window.
    pub events: u32,
    /// Still open at `now`.
    pub open: u32,
    /// Closed (or followed up) at `now`.
    pub closed: u32,
    /// Open past the deadline.
    pub overdue_open: u32,
    /// Closed after the deadline.
    pub closed_late: u32,
    /// `overdue_open + closed_late` (model 5's overdue).
    pub overdue: u32,
    /// Mean days from acceptance to closure of the closed ones (null without any).
    pub mean_closure_days: Option<f64>,
    /// Median days from acceptance to closure of the closed ones (null without any).
    pub median_closure_days: Option<f64>,
    /// Share of the closed ones with a recorded answer that were satisfied or basically
    /// satisfied (null without any answer).
    pub satisfaction_rate: Option<f64>,
    /// Satisfaction at closure: satisfied, basically_satisfied, dissatisfied, unknown
    /// (closed without a recorded answer).
    pub satisfaction: BTreeMap<&'static str, u32>,
    #[serde(skip)]
    closure_days_sum: f64,
    #[serde(skip)]
    closure_days: Vec<f64>,
}

impl Load {
    fn add(&mut self, e: &Event, now: i64) {
        self.events += 1;
        let closed_at = e
            .closed_at
            .filter(|c| *c <= now && is_closed_status(&e.status));
        match closed_at {
            Some(c) => {
                self.closed += 1;
                if c > e.deadline {
                    self.closed_late += 1;
                }
                let days = (c - e.reported_at) as f64 / 86_400.0;
                self.closure_days_sum += days;
                self.closure_days.push(days);
                let s = match e.satisfaction.as_deref() {
                    Some("satisfied") => "satisfied",
                    Some("basically_satisfied") => "basically_satisfied",
                    Some("dissatisfied") => "dissatisfied",
                    _ => "unknown",
                };
                *self.satisfaction.entry(s).or_default() += 1;
            }
            None => {
                self.open += 1;
                if e.deadline < now {
                    self.overdue_open += 1;
                }
            }
        }
    }

    fn finish(&mut self) {
        self.overdue = self.overdue_open + self.closed_late;
        self.mean_closure_days =
            (self.closed > 0).then(|| self.closure_days_sum / f64::from(self.closed));
        let mut days = std::mem::take(&mut self.closure_days);
        days.sort_by(f64::total_cmp);
        self.median_closure_days = match days.len() {
            0 => None,
            n if n % 2 == 1 => Some(days[n / 2]),
            n => Some((days[n / 2 - 1] + days[n / 2]) / 2.0),
        };
        let count = |k: &str| f64::from(self.satisfaction.get(k).copied().unwrap_or(0));
        let pleased = count("satisfied") + count("basically_satisfied");
        let answered = pleased + count("dissatisfied");
        self.satisfaction_rate = (answered > 0.0).then(|| pleased / answered);
        for k in [
            "satisfied",
            "basically_satisfied",
            "dissatisfied",
            "unknown",
        ] {
            self.satisfaction.entry(k).or_default();
        }
    }
}

/// Model 5 per owner account, per mediation organisation and per owning unit, over
/// the events accepted in `window`, as of `now` (the definitions of
/// `minqing_analysis::efficiency`: closed means `closed_at ≤ now`; overdue is open past
/// the deadline plus closed late).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Workload {
    /// (username, display) → load.
    pub by_owner: BTreeMap<String, (String, Load)>,
    /// Organisation → load (events with a mediation organisation).
    pub by_org: BTreeMap<String, Load>,
    /// (unit kind, unit) → load.
    pub by_unit: BTreeMap<(String, String), Load>,
    /// Every event of the window.
    pub total: Load,
    /// Events of the window without an owner account.
    pub without_owner: u32,
}

pub fn workload<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    window: Option<crate::time::Window>,
    now: i64,
) -> Workload {
    let mut w = Workload::default();
    for e in events {
        if window.is_some_and(|win| !win.contains(e.reported_at)) {
            continue;
        }
        w.total.add(e, now);
        match &e.owner {
            Some(o) => w
                .by_owner
                .entry(o.clone())
                .or_insert_with(|| {
                    (
                        e.owner_display.clone().unwrap_or_else(|| o.clone()),
                        Load::default(),
                    )
                })
                .1
                .add(e, now),
            None => w.without_owner += 1,
        }
        if let Some(org) = &e.mediation_org {
            w.by_org.entry(org.clone()).or_default().add(e, now);
        }
        if let (Some(k), Some(u)) = (&e.owner_unit_kind, &e.owner_unit) {
            w.by_unit
                .entry((k.clone(), u.clone()))
                .or_default()
                .add(e, now);
        }
    }
    w.total.finish();
    w.by_owner.values_mut().for_each(|(_, l)| l.finish());
    w.by_org.values_mut().for_each(Load::finish);
    w.by_unit.values_mut().for_each(Load::finish);
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Supervision;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    fn caller(role: Role, grids: &[&str], org: Option<&str>) -> Caller {
        Caller {
            user_id: 1,
            username: "me".into(),
            display: "me".into(),
            role,
            grids: Arc::new(grids.iter().map(|g| g.to_string()).collect::<BTreeSet<_>>()),
            mediation_org: org.map(str::to_string),
            client: String::new(),
            token_hash: String::new(),
        }
    }

    fn event(status: &str, deadline: i64) -> Event {
        Event {
            code: "5106032026000001".into(),
            status: status.into(),
            risk_tier: "small".into(),
            grid_code: "g1".into(),
            deadline,
            ..Default::default()
        }
    }

    #[test]
    fn alerts_of_an_event() {
        let now = 1_000_000;
        let kinds = |e: &Event| alerts_of(e, now).iter().map(|a| a.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&event("accepted", now - 1)), ["overdue"]);
        assert_eq!(kinds(&event("accepted", now + 86_400)), ["due_soon"]);
        assert!(kinds(&event("accepted", now + 86_401)).is_empty());
        assert!(kinds(&event("closed", now - 1)).is_empty(), "closed: none");
        let mut e = event("mediating", now + 10 * 86_400);
        e.risk_tier = "large".into();
        e.large_since = Some(now - 7 * 86_400);
        e.supervision = Some(Supervision {
            at: now - 5,
            ..Default::default()
        });
        assert_eq!(kinds(&e), ["large_risk", "supervised"]);
        e.large_since = Some(now - 7 * 86_400 - 1);
        assert_eq!(kinds(&e), ["supervised"], "large for more than 7 days");
    }

    #[test]
    fn changes_that_make_alerts() {
        let mut e = event("accepted", 0);
        assert_eq!(kinds_made_by("supervise", &e), ["supervised"]);
        assert!(kinds_made_by("set_risk_tier", &e).is_empty());
        e.updated_at = 5;
        e.large_since = Some(5);
        assert_eq!(kinds_made_by("set_risk_tier", &e), ["large_risk"]);
        assert_eq!(kinds_made_by("created", &e), ["large_risk"]);
        assert_eq!(kinds_made_by("assign", &e), ALERT_KINDS);
        assert!(kinds_made_by("resolve", &e).is_empty());
    }

    #[test]
    fn whom_an_event_concerns() {
        let mut e = event("accepted", 0);
        e.owner_unit_kind = Some("grid".into());
        e.owner_unit = Some("g1".into());
        assert!(concerns(&caller(Role::GridWorker, &["g1"], None), &e));
        assert!(!concerns(&caller(Role::GridWorker, &["g2"], None), &e));
        assert!(!concerns(&caller(Role::Leader, &[], None), &e));
        e.owner = Some("me".into());
        assert!(concerns(&caller(Role::Leader, &[], None), &e), "the owner");
        e.owner = None;
        e.owner_unit_kind = Some("mediation_org".into());
        e.owner_unit = Some("org".into());
        assert!(concerns(&caller(Role::Mediator, &[], Some("org")), &e));
        assert!(!concerns(&caller(Role::Mediator, &[], Some("other")), &e));
        e.owner_unit_kind = Some("department".into());
        e.owner_unit = Some(crate::events::LEADER_DEPARTMENT.into());
        assert!(concerns(&caller(Role::Leader, &[], None), &e));
        e.owner_unit_kind = Some("risk_centre".into());
        assert!(concerns(&caller(Role::RiskCentre, &[], None), &e));
        assert!(!concerns(&caller(Role::Reception, &[], None), &e));
    }

    #[test]
    fn workload_per_owner() {
        let now = 100 * 86_400;
        let mut a = event("closed", 10 * 86_400);
        a.owner = Some("u".into());
        a.reported_at = 0;
        a.closed_at = Some(2 * 86_400);
        a.satisfaction = Some("satisfied".into());
        let mut b = event("accepted", 50 * 86_400);
        b.owner = Some("u".into());
        b.mediation_org = Some("org".into());
        let mut c = event("closed", 86_400);
        c.closed_at = Some(4 * 86_400);
        let w = workload([&a, &b, &c], None, now);
        let (_, l) = &w.by_owner["u"];
        assert_eq!((l.events, l.open, l.closed, l.overdue), (2, 1, 1, 1));
        assert_eq!(l.mean_closure_days, Some(2.0));
        assert_eq!(l.satisfaction["satisfied"], 1);
        assert_eq!(w.without_owner, 1);
        assert_eq!(w.total.closed_late, 1);
        assert_eq!(w.by_org["org"].open, 1);
    }
}

/// The closed loop's funnel (受理 → 调解 → 化解/分流 → 办结 → 回访) of a period's flow:
/// of the events accepted (reported) in the period, how many had reached each stage by
/// the period's end.
///
/// The stage an event had reached is read from its history ([`Reached`], the first time
/// its steps entered each stage), so a past period shows where its events stood when
/// it ended — a matter of March closed in May counts as not closed for March — and the
/// same question asked later gets the same answer. `mediating` is the mediation stage,
/// `resolved` or `diverted` the settlement stage (a simple matter settled on the spot
/// passes the mediation stage without a mediator: `mediated` counts those that really
/// went through mediation), `closed`, `followed_up`. Events closed as a duplicate of
/// another are no demand of their own: they are left out of every stage and counted
/// apart (as they are marked now). Each stage is at most the one before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Funnel {
    /// 受理: accepted in the period (duplicates left out).
    pub accepted: u64,
    /// 调解: reached mediation or beyond.
    pub mediation: u64,
    /// 化解/分流: settled by mediation or on the spot, or diverted to the formal
    /// channels, or beyond.
    pub settled: u64,
    /// 办结: closed or followed up.
    pub closed: u64,
    /// 回访: followed up at least once.
    pub followed_up: u64,
    /// Of `mediation`, those that really went through a mediation organisation.
    pub mediated: u64,
    /// Accepted in the period and closed as duplicates (in no stage).
    pub duplicates: u64,
}

/// The funnel stage of a status: 1 mediation, 2 settled, 3 closed, 4 followed up, 0
/// none yet (accepted). The state machine ([`super::TRANSITIONS`]) only moves forward
/// through these.
pub fn funnel_stage(status: &str) -> usize {
    match status {
        "mediating" => 1,
        "resolved" | "diverted" => 2,
        "closed" => 3,
        "followed_up" => 4,
        _ => 0,
    }
}

/// When an event first reached each funnel stage or a later one (unix seconds; index
/// `k - 1` for stage `k`), from its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached(pub [Option<i64>; 4]);

impl Reached {
    /// Nothing reached yet.
    pub const NONE: Reached = Reached([None; 4]);

    /// Note that the event entered `status` at `at`: that stage and every one before it
    /// were reached then at the latest.
    pub fn note(&mut self, status: &str, at: i64) {
        for k in 0..funnel_stage(status) {
            if self.0[k].is_none_or(|t| at < t) {
                self.0[k] = Some(at);
            }
        }
    }

    /// The stage reached before `end` (exclusive).
    pub fn stage_before(&self, end: i64) -> usize {
        self.0.iter().filter(|t| t.is_some_and(|t| t < end)).count()
    }

    /// An event with no history at hand (an imported record without steps): its current
    /// stage as reached when it last changed, closure when it was closed.
    pub fn of_event(e: &Event) -> Reached {
        let mut r = Reached::NONE;
        r.note(&e.status, e.updated_at);
        if let Some(c) = e.closed_at {
            r.note("closed", c);
        }
        r
    }
}

/// The stage times of every event from its history steps `(event code, to_status,
/// at)`, in any order.
pub fn reached_from_steps<'a>(
    steps: impl Iterator<Item = (&'a str, &'a str, i64)>,
) -> std::collections::HashMap<String, Reached> {
    let mut out: std::collections::HashMap<String, Reached> = Default::default();
    for (code, status, at) in steps {
        if funnel_stage(status) > 0 {
            match out.get_mut(code) {
                Some(r) => r.note(status, at),
                None => {
                    let mut r = Reached::NONE;
                    r.note(status, at);
                    out.insert(code.to_string(), r);
                }
            }
        }
    }
    out
}

/// The funnel (see [`Funnel`]) of the events reported in `window` (all when `None`),
/// each at the stage it had reached by the window's end (`reached` of an event: from
/// its history; an event not in it is taken at its current status, see
/// [`Reached::of_event`]).
pub fn funnel<'a>(
    events: impl Iterator<Item = &'a Event>,
    reached: &std::collections::HashMap<String, Reached>,
    window: Option<crate::time::Window>,
) -> Funnel {
    let end = window.map_or(i64::MAX, |w| w.to);
    let mut f = Funnel::default();
    for e in events {
        if window.is_some_and(|w| !w.contains(e.reported_at)) {
            continue;
        }
        if e.duplicate_of.is_some() {
            f.duplicates += 1;
            continue;
        }
        let stage = match reached.get(&e.code) {
            Some(r) => r.stage_before(end),
            None => Reached::of_event(e).stage_before(end),
        };
        f.accepted += 1;
        f.mediation += u64::from(stage >= 1);
        f.settled += u64::from(stage >= 2);
        f.closed += u64::from(stage >= 3);
        f.followed_up += u64::from(stage >= 4);
        // An organisation is assigned only on the way into mediation (accepted →
        // mediating), so one that reached mediation by the end and has one went
        // through it then.
        f.mediated += u64::from(stage >= 1 && e.mediation_org.is_some());
    }
    f
}

#[cfg(test)]
mod funnel_tests {
    use super::*;

    #[test]
    fn a_stage_counts_from_when_it_was_reached() {
        let mut r = Reached::NONE;
        r.note("mediating", 100);
        r.note("resolved", 200);
        r.note("closed", 300);
        assert_eq!(
            [99, 100, 101, 201, 301].map(|t| r.stage_before(t)),
            [0, 0, 1, 2, 3]
        );
        // Settled on the spot: mediation and settlement reached at once.
        let mut s = Reached::NONE;
        s.note("resolved", 50);
        assert_eq!(s.stage_before(51), 2);
        // Steps read in any order give the same times.
        let steps = [
            ("A", "closed", 300),
            ("A", "accepted", 10),
            ("A", "mediating", 100),
        ];
        let m = reached_from_steps(steps.iter().copied());
        let m2 = reached_from_steps(steps.iter().rev().copied());
        assert_eq!(m, m2);
        assert_eq!(m["A"].0, [Some(100), Some(300), Some(300), None]);
    }
}
