//! The closed loop's write path, shared by the HTTP API, Open311 and the replica
//! follower: validate → one store transaction (the event, its history step and the
//! outbox record, [`super::write`]) → commit → apply to the in-memory index → publish a
//! [`Change`]. Nothing is acknowledged before the commit.
//!
//! The outbox (`event_changes.payload`) holds a [`ChangeRecord`]: a versioned copy of
//! the domain's event, never an API view, so changing the API changes nothing stored.

use crate::auth::{Caller, Permission, Role};
use crate::error::{AddressCandidate, Detail};
use crate::events::{self, Deadlines, write};
use crate::index::Index;
use crate::model::{CATEGORIES, DISTRICT_CODE, Event, EventStep, SOURCES};
use crate::{App, Change, Error};
use serde::{Deserialize, Serialize};

/// What the outbox stores for each committed change (format version [`ChangeRecord::VERSION`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The record's format version.
    pub v: u32,
    /// `created` or the transition's action.
    pub change: String,
    /// The event after the change.
    pub event: Event,
}

impl ChangeRecord {
    pub const VERSION: u32 = 1;

    pub fn new(change: &str, event: &Event) -> ChangeRecord {
        ChangeRecord {
            v: Self::VERSION,
            change: change.to_string(),
            event: event.clone(),
        }
    }

    fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(Error::internal)
    }

    /// A stored payload, or `None` for one of another format (older stores kept the API
    /// view; the live feed passes those on as they are).
    pub fn parse(payload: &str) -> Option<ChangeRecord> {
        serde_json::from_str::<ChangeRecord>(payload)
            .ok()
            .filter(|r| r.v == Self::VERSION)
    }
}

/// Possible duplicates: same category within this distance…
pub const DUPLICATE_RADIUS_M: f64 = 50.0;
/// …and this many seconds.
pub const DUPLICATE_WINDOW_S: i64 = 7 * 86_400;

/// A new event as a caller reports it (`POST /api/v1/events`, Open311).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// One of dispute, petition, consultation, public_safety, service_request.
    pub category: String,
    /// One of higher_level, township, department, grid_worker, visitor.
    pub source: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// A building code of the register; its point is used when lon/lat are absent.
    pub address_code: Option<String>,
    /// A free-text address, geocoded through the address matcher when neither a point
    /// nor an `address_code` is given (422 with the candidates when it abstains).
    pub address: Option<String>,
    /// small (default), medium or large; large matters are escalated at intake.
    pub risk_tier: Option<String>,
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::Unprocessable(format!(
            "{field} must be one of {}; got {value:?}",
            allowed.join(", ")
        )))
    }
}

/// A validated intake, ready to be written.
pub struct Draft {
    pub event: Event,
    /// The normalised request, compared on idempotent retries.
    pub canonical: String,
}

/// Validate an intake and place it (point → grid by point-in-polygon). The code is
/// given in the transaction.
pub fn validate(
    req: &IntakeRequest,
    index: &Index,
    deadlines: &Deadlines,
    now: i64,
) -> Result<Draft, Error> {
    one_of("category", &req.category, &CATEGORIES)?;
    one_of("source", &req.source, &SOURCES)?;
    let tier = req.risk_tier.clone().unwrap_or_else(|| "small".into());
    one_of("risk_tier", &tier, &events::RISK_TIERS)?;
    let title = req.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Error::Unprocessable(
            "title must be 1 to 200 characters".into(),
        ));
    }
    if req.description.chars().count() > 5_000 {
        return Err(Error::Unprocessable(
            "description must be at most 5000 characters".into(),
        ));
    }
    let mut address_code = req.address_code.clone();
    let (lon, lat) = match (req.lon, req.lat, &req.address_code, &req.address) {
        (Some(lon), Some(lat), _, _) => (lon, lat),
        (None, None, Some(code), _) => {
            let b = index.building(code).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "address_code {code:?} is not a building of the register"
                ))
            })?;
            (b.lon, b.lat)
        }
        (None, None, None, Some(text)) => {
            let b = geocode_building(index, text)?;
            address_code = Some(b.code.clone());
            (b.lon, b.lat)
        }
        _ => {
            return Err(Error::Unprocessable(
                "give a point (lon and lat), a register building address_code or an address".into(),
            ));
        }
    };
    if !(lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat))
    {
        return Err(Error::Unprocessable("lon/lat out of range".into()));
    }
    let grid = index.grid_at(lon, lat).ok_or_else(|| {
        Error::Unprocessable(format!("the point {lon},{lat} lies outside the district"))
    })?;
    let event = Event {
        code: String::new(),
        category: req.category.clone(),
        source: req.source.clone(),
        status: "accepted".into(),
        risk_tier: tier.clone(),
        title: title.to_string(),
        description: req.description.trim().to_string(),
        lon,
        lat,
        address_code,
        grid_code: grid.area.code.clone(),
        reported_at: now,
        deadline: deadlines.deadline(&req.category, &tier, now),
        mediation_org: None,
        diversion: None,
        resolved_by_mediation: false,
        escalated: tier == "large",
        closed_at: None,
        version: 0,
        updated_at: now,
        large_since: (tier == "large").then_some(now),
        ..Default::default()
    };
    let canonical = serde_json::to_string(&IntakeRequest {
        title: title.to_string(),
        description: event.description.clone(),
        risk_tier: Some(tier),
        ..req.clone()
    })
    .map_err(|e| Error::Internal(e.into()))?;
    Ok(Draft { event, canonical })
}

/// The register building a free-text address names, through the address matcher; 422
/// (with the matcher's candidates) when it abstains.
fn geocode_building<'a>(
    index: &'a Index,
    text: &str,
) -> Result<&'a crate::index::BuildingEntry, Error> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(Error::Unprocessable(
            "address must be 1 to 200 characters".into(),
        ));
    }
    let m = index.register.match_address(text);
    match (m.code.as_ref(), m.building) {
        (Some(_), Some(b)) => index
            .buildings
            .get(b)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("register and index disagree"))),
        _ => Err(Error::UnprocessableWith {
            message: format!(
                "the address {text:?} could not be placed with confidence; give a point or pick a candidate's address_code"
            ),
            detail: Detail::AddressCandidates(
                m.candidates
                    .iter()
                    .map(|c| AddressCandidate {
                        address_code: c.code.to_string(),
                        label: c.label.to_string(),
                    })
                    .collect(),
            ),
        }),
    }
}

/// Same category within 50 m and 7 days, among the events the caller may see (a
/// possible duplicate never tells anyone about an event outside their scope).
pub fn possible_duplicates(state: &App, caller: &Caller, e: &Event) -> Vec<Duplicate> {
    let d = 0.001; // degrees: > 50 m in both directions at the district's latitude
    let events = state.events();
    let mut v: Vec<(f64, &Event)> = events
        .in_box([e.lon - d, e.lat - d], [e.lon + d, e.lat + d])
        .filter(|o| {
            o.category == e.category
                && (e.reported_at - o.reported_at).abs() <= DUPLICATE_WINDOW_S
                && caller.can_see(o)
        })
        .map(|o| (events::distance_m((e.lon, e.lat), (o.lon, o.lat)), o))
        .filter(|(m, _)| *m <= DUPLICATE_RADIUS_M)
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.iter()
        .map(|(m, o)| Duplicate {
            code: o.code.clone(),
            title: o.title.clone(),
            status: o.status.clone(),
            distance_m: (m * 10.0).round() / 10.0,
            reported_at: o.reported_at,
        })
        .collect()
}

/// An earlier event that may be the same matter.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub code: String,
    pub title: String,
    pub status: String,
    pub distance_m: f64,
    /// Unix seconds.
    pub reported_at: i64,
}

/// The result of an intake: created or replayed from its idempotency key.
pub enum Intake {
    /// A new event, with the possible duplicates the caller may see.
    Created {
        event: Box<Event>,
        duplicates: Vec<Duplicate>,
    },
    /// A retry of an earlier intake with the same key: the body first answered.
    Replayed { body: String },
}

/// The shared intake path (JSON API and Open311): one transaction, then index and bus.
///
/// With an `idempotency_key`, `render` makes the answer the caller will get (from the
/// new event and its possible duplicates); it is stored with the key in the same
/// transaction, so a retry is answered with exactly those bytes.
pub async fn intake(
    state: &App,
    req: &IntakeRequest,
    idempotency_key: Option<&str>,
    caller: &Caller,
    render: &(dyn Fn(&Event, &[Duplicate]) -> String + Sync),
) -> Result<Intake, Error> {
    caller.require(Permission::Intake)?;
    let index = state.index()?;
    let now = state.clock.now();
    let Draft {
        mut event,
        canonical,
    } = validate(req, &index, &state.deadlines, now)?;
    // A grid worker reports from their own grids.
    caller.require_grid(Some(&event.grid_code))?;
    // Keys are per account: another account's key never replays someone else's answer.
    let idempotency_key = idempotency_key.map(|k| format!("{}:{k}", caller.user_id));
    let idempotency_key = idempotency_key.as_deref();
    let duplicates = possible_duplicates(state, caller, &event);
    let mut tx = write::begin(&state.store).await?;
    if let Some(key) = idempotency_key
        && let Some((request, response)) = write::find_idempotency(&mut tx, key, now).await?
    {
        drop(tx); // rolls back
        if request != canonical {
            return Err(Error::Unprocessable(
                "this Idempotency-Key was used for a different request".into(),
            ));
        }
        return Ok(Intake::Replayed { body: response });
    }
    let year = crate::time::local_year(now);
    let seq = write::next_sequence(&mut tx, year).await?;
    event.code = format!("{DISTRICT_CODE}{year}{seq:06}");
    // The caller owns what they took in, with their role's unit.
    let unit = events::unit_of(
        caller.role,
        caller.mediation_org.as_deref(),
        &event.grid_code,
    );
    let who = set_owner(
        &mut event,
        Some((&caller.username, &caller.display)),
        unit,
        &index,
    );
    let mut steps = vec![EventStep {
        event_code: event.code.clone(),
        seq: 1,
        at: now,
        actor: format!("{}:{}", caller.username, req.source),
        action: "accept".into(),
        from_status: None,
        to_status: "accepted".into(),
        note: format!("受理：{}；{who}", event.title),
    }];
    if event.escalated {
        steps.push(EventStep {
            seq: 2,
            actor: caller.username.clone(),
            action: "escalate".into(),
            from_status: Some("accepted".into()),
            note: "重大事项，报送社会风险研判中心".into(),
            ..steps[0].clone()
        });
    }
    event.version = steps.len() as i64;
    write::insert_event(&mut tx, &event).await?;
    for s in &steps {
        write::append_step(&mut tx, s).await?;
    }
    if let Some(key) = idempotency_key {
        let text = render(&event, &duplicates);
        write::insert_idempotency(&mut tx, key, &event.code, &canonical, &text, now).await?;
    }
    let record = ChangeRecord::new("created", &event);
    write::record_change(&mut tx, &event.code, "accept", &record.to_json()?, now).await?;
    write::commit(tx).await?;
    apply(state, event.clone());
    Ok(Intake::Created {
        event: Box::new(event),
        duplicates,
    })
}

/// After the commit: the in-memory index, then the change bus. Also how other replicas'
/// writes arrive ([`super::replica`]): an event no newer than the one held is ignored.
pub fn apply(state: &App, event: Event) {
    let change = |before: Option<(f64, f64)>| Change::Event {
        code: event.code.clone(),
        lon: event.lon,
        lat: event.lat,
        before,
    };
    let previous = {
        let mut events = state.events_mut();
        // Two commits of one event may be applied out of order: keep the newest.
        if events
            .get(&event.code)
            .is_some_and(|e| e.version >= event.version)
        {
            return;
        }
        events.upsert(event.clone())
    };
    state.publish(change(previous.map(|p| (p.lon, p.lat))));
}

/// One step of the closed loop (`POST /api/v1/events/{code}/transitions`).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// assign_mediation, resolve, divert, close, follow_up, escalate, set_risk_tier,
    /// assign, set_case_leader, joint_review, supervise, mark_duplicate.
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// The version the caller saw; a stale one is a 409.
    pub version: i64,
    /// assign_mediation: one of the mediation organisations.
    pub org: Option<String>,
    /// divert: arbitration, administrative_review, administrative_ruling, litigation.
    pub kind: Option<String>,
    /// set_risk_tier: small, medium, large.
    pub risk_tier: Option<String>,
    /// assign: the new owner's username (an active account that works events).
    pub owner: Option<String>,
    /// assign: the owning unit's kind (mediation_org, department, grid, risk_centre,
    /// reception); without it the owner's own unit.
    pub unit_kind: Option<String>,
    /// assign: the owning unit (an organisation's or department's name, a grid code).
    pub unit: Option<String>,
    /// set_case_leader: the case-package leader (包案领导), a name.
    pub leader: Option<String>,
    /// joint_review: who took part (a list of names, or one string separated by commas).
    pub participants: Option<Participants>,
    /// joint_review: the conclusion.
    pub conclusion: Option<String>,
    /// joint_review: when it took place (RFC 3339 or a date; default now).
    pub at: Option<String>,
    /// supervise: the new deadline, YYYY-MM-DD (the end of that day, China Standard Time).
    pub deadline: Option<String>,
    /// follow_up: routine (常态走访, default), counselling (思想疏导), assistance (帮扶救助).
    pub visit_kind: Option<String>,
    /// follow_up: what the visit found (default: the note).
    pub outcome: Option<String>,
    /// follow_up: the next visit, YYYY-MM-DD.
    pub next_visit: Option<String>,
    /// close: satisfied, basically_satisfied, dissatisfied.
    pub satisfaction: Option<String>,
    /// mark_duplicate: the code of the event this one duplicates.
    pub duplicate_of: Option<String>,
}

/// The participants of a joint review: a list, or one string of names separated by
/// commas (`,`, `，`, `、`, `;`).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Participants {
    List(Vec<String>),
    Text(String),
}

impl Participants {
    fn names(&self) -> Vec<String> {
        let raw: Vec<String> = match self {
            Participants::List(v) => v.clone(),
            Participants::Text(t) => t
                .split([',', '，', '、', ';', '；'])
                .map(str::to_string)
                .collect(),
        };
        raw.into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    }
}

/// A follow-up visit (回访) as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visit {
    /// Unix seconds.
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub next_visit: Option<String>,
    pub by: String,
}

/// A joint review (会商) as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    /// Unix seconds: when it took place.
    pub at: i64,
    pub participants: Vec<String>,
    pub conclusion: String,
    pub by: String,
}

/// What a step writes besides the event and its history step.
enum Side {
    None,
    Visit(Visit),
    Review(Review),
}

/// Facts a step needs from outside the event, looked up before its transaction (an
/// error about them is raised only after the caller's permission was checked).
#[derive(Default)]
struct Lookups {
    /// assign: the named owner, if it is an active account.
    owner: Option<crate::auth::users::Identity>,
    /// assign_mediation / assign to an organisation: its active mediators.
    mediators: Vec<(String, String)>,
}

async fn lookups(state: &App, req: &TransitionRequest) -> Result<Lookups, Error> {
    let mut l = Lookups::default();
    let store_err = |e: anyhow::Error| write::unavailable(e);
    if req.action == "assign"
        && let Some(owner) = req
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|o| crate::auth::users::valid_username(o))
    {
        l.owner = crate::auth::users::active_by_username(&state.store, owner)
            .await
            .map_err(store_err)?;
    }
    let org = match req.action.as_str() {
        "assign_mediation" => req.org.as_deref(),
        "assign" if req.unit_kind.as_deref() == Some("mediation_org") => req.unit.as_deref(),
        _ => None,
    };
    if let Some(org) = org.filter(|o| events::MEDIATION_ORGS.contains(o)) {
        l.mediators = crate::auth::users::mediators_of(&state.store, org)
            .await
            .map_err(store_err)?;
    }
    Ok(l)
}

/// A required text field of 1 to `max` characters.
fn required_text(field: &str, v: Option<&str>, max: usize) -> Result<String, Error> {
    let v = v.map(str::trim).unwrap_or_default();
    if v.contains('\0') {
        return Err(Error::Unprocessable(format!(
            "{field} must not contain NUL"
        )));
    }
    if v.is_empty() || v.chars().count() > max {
        return Err(Error::Unprocessable(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    Ok(v.to_string())
}

/// A `YYYY-MM-DD` on or after today (CST).
fn future_date(field: &str, v: &str, now: i64) -> Result<jiff::civil::Date, Error> {
    let d = crate::time::parse_date(v).ok_or_else(|| {
        Error::Unprocessable(format!("{field} must be a date YYYY-MM-DD, got {v:?}"))
    })?;
    let today = crate::time::local_date(now)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no date for now")))?;
    if d < today {
        return Err(Error::Unprocessable(format!(
            "{field} must be today ({today}) or later"
        )));
    }
    Ok(d)
}

/// How a unit reads in a history note.
pub fn unit_label(kind: &str, unit: &str, index: &Index) -> String {
    match kind {
        "grid" => index.area(unit).map_or_else(
            || format!("网格 {unit}"),
            |a| format!("{}（网格）", a.area.name),
        ),
        _ => unit.to_string(),
    }
}

/// Set the owner and owning unit of `e`; returns the history note's words for it.
fn set_owner(
    e: &mut Event,
    owner: Option<(&str, &str)>,
    unit: Option<(&str, String)>,
    index: &Index,
) -> String {
    e.owner = owner.map(|(u, _)| u.to_string());
    e.owner_display = owner.map(|(_, d)| d.to_string());
    e.owner_unit_kind = unit.as_ref().map(|(k, _)| k.to_string());
    e.owner_unit = unit.as_ref().map(|(_, u)| u.clone());
    let who = match owner {
        Some((u, d)) if u != d => format!("负责人 {d}（{u}）"),
        Some((u, _)) => format!("负责人 {u}"),
        None => "负责人 未指定".to_string(),
    };
    match unit {
        Some((k, u)) => format!("{who}；责任单位 {}", unit_label(k, &u, index)),
        None => who,
    }
}

/// Whether an account may see `e` (an owner must be able to work their case).
fn identity_sees(who: &crate::auth::users::Identity, e: &Event) -> bool {
    let c = Caller {
        user_id: who.id,
        username: who.username.clone(),
        display: who.display(),
        role: who.role,
        grids: std::sync::Arc::new(who.grids.clone()),
        mediation_org: who.mediation_org.clone(),
        client: String::new(),
        token_hash: String::new(),
    };
    c.can_see(e)
}

/// The sole active mediator of an organisation, if there is exactly one.
fn sole_mediator(l: &Lookups) -> Option<(&str, &str)> {
    match l.mediators.as_slice() {
        [(u, d)] => Some((u.as_str(), d.as_str())),
        _ => None,
    }
}

/// Apply `req` to `before` (rules already checked): the new event, its step and what
/// else the step writes.
#[allow(clippy::too_many_arguments)]
fn transition_of(
    before: &Event,
    req: &TransitionRequest,
    rule: &events::Rule,
    caller: &Caller,
    l: &Lookups,
    index: &Index,
    deadlines: &Deadlines,
    now: i64,
) -> Result<(Event, EventStep, Side), Error> {
    let mut e = before.clone();
    let mut side = Side::None;
    let mut note = req.note.trim().to_string();
    if note.chars().count() > 2_000 || note.contains('\0') {
        return Err(Error::Unprocessable(
            "note must be at most 2000 characters, without NUL".into(),
        ));
    }
    // The words the step adds to the caller's note.
    let mut said: Option<String> = None;
    match req.action.as_str() {
        "assign_mediation" => {
            let org = req.org.as_deref().unwrap_or_default();
            one_of("org", org, &events::MEDIATION_ORGS)?;
            e.mediation_org = Some(org.to_string());
            let who = set_owner(
                &mut e,
                sole_mediator(l),
                Some(("mediation_org", org.to_string())),
                index,
            );
            said = Some(format!("分派至{org}；{who}"));
        }
        "assign" => {
            let owner_name = req
                .owner
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty());
            let kind = req
                .unit_kind
                .as_deref()
                .map(str::trim)
                .filter(|k| !k.is_empty());
            if owner_name.is_none() && kind.is_none() {
                return Err(Error::Unprocessable(
                    "assign needs an owner (a username), a unit_kind, or both".into(),
                ));
            }
            let owner = match owner_name {
                None => None,
                Some(name) => {
                    let who = l
                        .owner
                        .as_ref()
                        .filter(|w| w.username == name)
                        .ok_or_else(|| {
                            Error::Unprocessable(format!("owner {name:?} is not an active account"))
                        })?;
                    if !who.role.allows(Permission::EventsWrite) {
                        return Err(Error::Unprocessable(format!(
                            "owner {name:?} is a {} account, which does not work events",
                            who.role.as_str()
                        )));
                    }
                    Some(who)
                }
            };
            let unit: Option<(&str, String)> = match kind {
                Some(kind) => {
                    one_of("unit_kind", kind, &crate::model::UNIT_KINDS)?;
                    let given = req.unit.as_deref().map(str::trim).filter(|u| !u.is_empty());
                    let unit = match kind {
                        "mediation_org" => {
                            let org = given.unwrap_or_default();
                            one_of("unit", org, &events::MEDIATION_ORGS)?;
                            org.to_string()
                        }
                        "grid" => {
                            let g = given.unwrap_or(before.grid_code.as_str());
                            match index.area(g) {
                                Some(a) if a.area.level == crate::model::AreaLevel::Grid => {
                                    g.to_string()
                                }
                                _ => {
                                    return Err(Error::Unprocessable(format!(
                                        "unit {g:?} is not a grid code"
                                    )));
                                }
                            }
                        }
                        "department" => match given {
                            Some(d) => required_text("unit", Some(d), 100)?,
                            None => events::LEADER_DEPARTMENT.to_string(),
                        },
                        "risk_centre" => required_text(
                            "unit",
                            Some(given.unwrap_or(events::RISK_CENTRE_UNIT)),
                            100,
                        )?,
                        _ => required_text(
                            "unit",
                            Some(given.unwrap_or(events::RECEPTION_UNIT)),
                            100,
                        )?,
                    };
                    let kind = crate::model::UNIT_KINDS
                        .iter()
                        .copied()
                        .find(|k| *k == kind)
                        .unwrap_or("department");
                    Some((kind, unit))
                }
                None => owner.and_then(|w| {
                    events::unit_of(w.role, w.mediation_org.as_deref(), &before.grid_code)
                }),
            };
            let owner_pair = match owner {
                Some(w) => Some((
                    w.username.as_str(),
                    w.display_name.as_deref().unwrap_or(&w.username),
                )),
                // An organisation's case goes to its mediator when it has exactly one.
                None if unit.as_ref().is_some_and(|(k, _)| *k == "mediation_org") => {
                    sole_mediator(l)
                }
                None => None,
            };
            let who = set_owner(&mut e, owner_pair, unit, index);
            if let Some(w) = owner
                && !identity_sees(w, &e)
            {
                return Err(Error::Unprocessable(format!(
                    "owner {:?} could not see this event (outside their grids or organisation)",
                    w.username
                )));
            }
            said = Some(format!("指派：{who}"));
        }
        "divert" => {
            let kind = req.kind.as_deref().unwrap_or_default();
            one_of("kind", kind, &events::DIVERSIONS)?;
            e.diversion = Some(kind.to_string());
        }
        "resolve" => e.resolved_by_mediation = before.status == "mediating",
        "close" => {
            if let Some(s) = req.satisfaction.as_deref() {
                one_of("satisfaction", s, &crate::model::SATISFACTION)?;
                e.satisfaction = Some(s.to_string());
                let word = match s {
                    "satisfied" => "满意",
                    "basically_satisfied" => "基本满意",
                    _ => "不满意",
                };
                said = Some(format!("办结；当事人{word}"));
            }
            e.closed_at = Some(now);
        }
        "escalate" => e.escalated = true,
        "set_risk_tier" => {
            let tier = req.risk_tier.as_deref().unwrap_or_default();
            one_of("risk_tier", tier, &events::RISK_TIERS)?;
            e.risk_tier = tier.to_string();
            // A supervised event keeps the deadline its supervision set.
            if before.supervision.is_none() {
                e.deadline = deadlines.deadline(&e.category, tier, e.reported_at);
            }
            e.large_since = match (tier, before.risk_tier.as_str()) {
                ("large", "large") => before.large_since,
                ("large", _) => Some(now),
                _ => None,
            };
            said = Some(format!("风险等级 {} → {tier}", before.risk_tier));
        }
        "set_case_leader" => {
            let leader = required_text("leader", req.leader.as_deref(), 50)?;
            said = Some(format!("包案领导：{leader}"));
            e.case_leader = Some(leader);
        }
        "joint_review" => {
            let participants = req
                .participants
                .as_ref()
                .map(Participants::names)
                .unwrap_or_default();
            if participants.is_empty()
                || participants.len() > 50
                || participants
                    .iter()
                    .any(|p| p.chars().count() > 50 || p.contains('\0'))
            {
                return Err(Error::Unprocessable(
                    "participants must name 1 to 50 people, each in at most 50 characters".into(),
                ));
            }
            let conclusion = required_text("conclusion", req.conclusion.as_deref(), 2_000)?;
            let at = match req.at.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
                None => now,
                Some(a) => {
                    let at = crate::time::parse_instant(a).ok_or_else(|| {
                        Error::Unprocessable(format!(
                            "at must be an RFC 3339 instant or a date YYYY-MM-DD, got {a:?}"
                        ))
                    })?;
                    if at > now + 300 {
                        return Err(Error::Unprocessable(
                            "at must not be in the future: record a joint review once it took place"
                                .into(),
                        ));
                    }
                    at
                }
            };
            said = Some(format!(
                "会商（{}）：{}；结论：{conclusion}",
                crate::time::format_date(at),
                participants.join("、")
            ));
            side = Side::Review(Review {
                at,
                participants,
                conclusion,
                by: caller.username.clone(),
            });
        }
        "supervise" => {
            let text = required_text("note", Some(&note), 2_000)?;
            let date_text = req
                .deadline
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_string();
            let date = future_date("deadline", &date_text, now)?;
            e.deadline = crate::time::day_end(date)
                .ok_or_else(|| Error::Unprocessable("deadline is out of range".into()))?;
            e.supervision = Some(crate::model::Supervision {
                note: text,
                deadline: date.to_string(),
                by: caller.username.clone(),
                at: now,
            });
            said = Some(format!("督办，期限 {date}"));
        }
        "follow_up" => {
            let kind = req.visit_kind.as_deref().unwrap_or("routine");
            one_of("visit_kind", kind, &crate::model::VISIT_KINDS)?;
            let outcome = match req
                .outcome
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty())
            {
                Some(o) => required_text("outcome", Some(o), 2_000)?,
                None if !note.is_empty() => note.clone(),
                None => "已回访".to_string(),
            };
            let next_visit = match req
                .next_visit
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                Some(v) => Some(future_date("next_visit", v, now)?.to_string()),
                None => None,
            };
            let word = match kind {
                "counselling" => "思想疏导",
                "assistance" => "帮扶救助",
                _ => "常态走访",
            };
            said = Some(match &next_visit {
                Some(n) => format!("回访（{word}）：{outcome}；下次回访 {n}"),
                None => format!("回访（{word}）：{outcome}"),
            });
            e.next_visit = next_visit.clone();
            side = Side::Visit(Visit {
                at: now,
                kind: kind.to_string(),
                outcome,
                next_visit,
                by: caller.username.clone(),
            });
        }
        "mark_duplicate" => {
            let other = req
                .duplicate_of
                .as_deref()
                .map(str::trim)
                .unwrap_or_default();
            if other.len() != 16 || !other.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Unprocessable(
                    "duplicate_of must be an event code (16 digits)".into(),
                ));
            }
            if other == before.code {
                return Err(Error::Unprocessable(
                    "an event cannot duplicate itself".into(),
                ));
            }
            e.duplicate_of = Some(other.to_string());
            e.closed_at = Some(now);
            said = Some(format!("重复事项，并入 {other}"));
        }
        _ => {}
    }
    if said.is_none() && note.is_empty() {
        // Every step names its change, even without the caller's words.
        note = match req.action.as_str() {
            "resolve" if before.status == "mediating" => "调解成功，已化解".into(),
            "resolve" => "已化解".into(),
            "divert" => format!("依法导入{}", e.diversion.as_deref().unwrap_or_default()),
            "close" => "办结".into(),
            "escalate" => "报送社会风险研判中心".into(),
            other => other.to_string(),
        };
    }
    if let Some(words) = said {
        // The step names the change; the caller's own note follows it.
        note = match req.action.as_str() {
            _ if note.is_empty() => words,
            // The supervision's note is its text.
            "supervise" => format!("{words}：{note}"),
            // A visit's outcome is the note when no outcome was given.
            "follow_up" if req.outcome.is_none() => words,
            _ => format!("{words}。{note}"),
        };
    }
    if let Some(to) = rule.to {
        e.status = to.to_string();
    }
    e.version = before.version + 1;
    e.updated_at = now;
    let step = EventStep {
        event_code: e.code.clone(),
        seq: e.version,
        at: now,
        actor: caller.username.clone(),
        action: req.action.clone(),
        from_status: Some(before.status.clone()),
        to_status: e.status.clone(),
        note,
    };
    Ok((e, step, side))
}

/// Take one step of the closed loop: checks the caller's role and scope, the version
/// (stale → [`Error::Conflict`] with `current_version`) and the rules (an action not
/// allowed from the current status → [`Error::Conflict`] with the `allowed` actions; one
/// that exists but not for the caller's role → [`Error::Forbidden`]); then one
/// transaction with the history step, what else the step records (a visit, a joint
/// review) and the outbox record.
pub async fn transition(
    state: &App,
    caller: &Caller,
    code: &str,
    req: &TransitionRequest,
) -> Result<(Event, EventStep), Error> {
    let now = state.clock.now();
    let index = state.index()?;
    let looked_up = lookups(state, req).await?;
    let mut tx = write::begin(&state.store).await?;
    let before = write::event_in(&mut tx, code)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no event {code}")))?;
    if req.version != before.version {
        return Err(Error::Conflict {
            message: format!(
                "stale version {}: the event is at version {}",
                req.version, before.version
            ),
            detail: Some(Detail::StaleVersion {
                current_version: before.version,
                status: before.status.clone(),
            }),
        });
    }
    let allowed = events::allowed_actions(caller.role, &before);
    let rule = match events::allowed(caller.role, &before.status, &req.action) {
        Some(rule) if allowed.contains(&req.action.as_str()) => rule,
        _ => {
            let someone_may = Role::ALL
                .iter()
                .any(|r| events::allowed_actions(*r, &before).contains(&req.action.as_str()));
            if someone_may {
                return Err(Error::Forbidden(format!(
                    "the role {} may not {} this event",
                    caller.role.as_str(),
                    req.action
                )));
            }
            return Err(Error::Conflict {
                message: format!(
                    "{} is not allowed from status {}{}",
                    req.action,
                    before.status,
                    match req.action.as_str() {
                        "escalate" if before.escalated => " (already escalated)",
                        "set_case_leader" => " (large-risk events only)",
                        "joint_review" => " (medium- and large-risk events only)",
                        _ => "",
                    }
                ),
                detail: Some(Detail::StepNotAllowed {
                    status: before.status.clone(),
                    allowed,
                }),
            });
        }
    };
    let (after, step, side) = transition_of(
        &before,
        req,
        rule,
        caller,
        &looked_up,
        &index,
        &state.deadlines,
        now,
    )?;
    if let Some(other) = &after.duplicate_of
        && before.duplicate_of.as_ref() != Some(other)
        && write::event_in(&mut tx, other).await?.is_none()
    {
        return Err(Error::Unprocessable(format!(
            "duplicate_of: no event {other}"
        )));
    }
    if !write::update_event(&mut tx, &after, before.version).await? {
        return Err(Error::Conflict {
            message: "the event changed meanwhile; reload it".into(),
            detail: None,
        });
    }
    write::append_step(&mut tx, &step).await?;
    match &side {
        Side::None => {}
        Side::Visit(v) => write::insert_visit(&mut tx, code, v).await?,
        Side::Review(r) => write::insert_review(&mut tx, code, r, now).await?,
    }
    let record = ChangeRecord::new(&req.action, &after);
    write::record_change(&mut tx, code, &req.action, &record.to_json()?, now).await?;
    write::commit(tx).await?;
    apply(state, after.clone());
    Ok((after, step))
}

/// The event `code` if it exists and the caller may see it: 404 when it does not exist,
/// 403 when it lies outside the caller's grids or organisation.
pub fn visible_event(state: &App, caller: &Caller, code: &str) -> Result<Event, Error> {
    let event = state
        .events()
        .get(code)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no event {code}")))?;
    if caller.can_see(&event) {
        Ok(event)
    } else {
        Err(Error::Forbidden(format!(
            "the event {code} is outside your grids or organisation"
        )))
    }
}

pub fn valid_code(code: &str) -> Result<(), Error> {
    if code.len() == 16 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::NotFound(format!("no event {code:?}")))
    }
}

/// Most pixels a photo may have (24 megapixels: a phone camera's full size): checked
/// from the header before anything is decoded, so one upload decodes into at most
/// about 96 MiB (RGBA).
pub const MAX_PHOTO_PIXELS: u64 = 24_000_000;

/// Decode an image within the pixel limit, turned upright by its EXIF orientation.
fn decode_bounded(bytes: &[u8], format: image::ImageFormat) -> Result<image::DynamicImage, String> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader.set_format(format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(MAX_PHOTO_PIXELS * 4 + 16 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| format!("not a valid image: {e}"))?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PHOTO_PIXELS {
        return Err(format!(
            "the image has {w}×{h} pixels; at most {} megapixels are accepted",
            MAX_PHOTO_PIXELS / 1_000_000
        ));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| format!("not a valid image: {e}"))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Encode `img` again in `format`: what is stored and served carries pixels only — no
/// EXIF (GPS position, camera, time), XMP or text chunks.
fn encode_clean(img: &image::DynamicImage, format: image::ImageFormat) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    match format {
        image::ImageFormat::Jpeg => {
            img.to_rgb8()
                .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                    &mut out, 90,
                ))
        }
        other => img.write_to(&mut out, other),
    }
    .map_err(|e| format!("re-encoding the image: {e}"))?;
    Ok(out.into_inner())
}

/// Whether stored image bytes still carry metadata (a photo stored before uploads were
/// cleaned): JPEG APP1 (EXIF/XMP) segments, PNG `eXIf`/text chunks.
pub fn has_metadata(bytes: &[u8]) -> bool {
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    find(b"Exif\0\0")
        || find(b"http://ns.adobe.com/xap")
        || find(b"eXIf")
        || find(b"tEXt")
        || find(b"iTXt")
        || find(b"zTXt")
}

/// A stored photo as it may be served: unchanged when clean, else decoded and encoded
/// again without its metadata.
pub fn served_photo(bytes: Vec<u8>, content_type: &str) -> Result<Vec<u8>, String> {
    if !has_metadata(&bytes) {
        return Ok(bytes);
    }
    let format = image::ImageFormat::from_mime_type(content_type)
        .ok_or_else(|| format!("unknown photo type {content_type}"))?;
    encode_clean(&decode_bounded(&bytes, format)?, format)
}

/// Decode a photo (the only validation that counts) within [`MAX_PHOTO_PIXELS`], store
/// it encoded again without metadata (see [`encode_clean`]), and make a JPEG thumbnail
/// whose longest side is `thumb_side` pixels. The error says why it is not an image.
pub fn process_photo(
    bytes: &[u8],
    declared: image::ImageFormat,
    thumb_side: u32,
) -> Result<write::Photo, String> {
    let img = decode_bounded(bytes, declared)?;
    let thumb = img.thumbnail(thumb_side, thumb_side).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    thumb
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .map_err(|e| format!("thumbnail: {e}"))?;
    Ok(write::Photo {
        id: 0,
        content_type: declared.to_mime_type().to_string(),
        width: img.width() as i64,
        height: img.height() as i64,
        bytes: encode_clean(&img, declared)?,
        thumb: out.into_inner(),
    })
}

/// Attach a processed photo to an event: the photo and its history step in one
/// transaction; the step makes it a change of the event (a new version), so the live
/// feed and the caches see it. Returns the photo's id.
pub async fn attach_photo(
    state: &App,
    caller: &Caller,
    code: &str,
    photo: &write::Photo,
) -> Result<i64, Error> {
    caller.require(Permission::EventsWrite)?;
    let now = state.clock.now();
    let mut tx = write::begin(&state.store).await?;
    let before = write::event_in(&mut tx, code)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no event {code}")))?;
    let id = write::insert_photo(&mut tx, code, photo, now).await?;
    let mut after = before.clone();
    after.version = before.version + 1;
    after.updated_at = now;
    let step = EventStep {
        event_code: code.to_string(),
        seq: after.version,
        at: now,
        actor: caller.username.clone(),
        action: "attach_photo".into(),
        from_status: Some(before.status.clone()),
        to_status: before.status.clone(),
        note: format!("照片 {id}（{}×{}）", photo.width, photo.height),
    };
    if !write::update_event(&mut tx, &after, before.version).await? {
        return Err(Error::Conflict {
            message: "the event changed meanwhile; retry".into(),
            detail: None,
        });
    }
    write::append_step(&mut tx, &step).await?;
    let record = ChangeRecord::new("attach_photo", &after);
    write::record_change(&mut tx, code, "attach_photo", &record.to_json()?, now).await?;
    write::commit(tx).await?;
    apply(state, after);
    Ok(id)
}
