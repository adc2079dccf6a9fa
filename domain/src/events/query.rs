//! Reading the closed loop: the event list's filter and the list itself, over the
//! in-memory event index (no SQL). Every time filter is read by [`crate::time`]: whole
//! days in China Standard Time, both ends inclusive.

use crate::auth::{Access, Permission};
use crate::events;
use crate::index::{EventIndex, Index, ListKey, NO_ID, vocabulary_index};
use crate::model::{CATEGORIES, Event, STATUSES};
use crate::time::Window;
use crate::{App, Error};
use std::collections::HashSet;

/// The list's parameters as given (all optional; validated by [`Filter::parse`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct ListParams<'a> {
    /// `minLon,minLat,maxLon,maxLat`.
    pub bbox: Option<&'a str>,
    /// One status or a comma-separated list.
    pub status: Option<&'a str>,
    /// A grid code, or a community/township code (its grids).
    pub grid: Option<&'a str>,
    pub category: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub overdue: Option<&'a str>,
    /// An H3 cell index in hex.
    pub cell: Option<&'a str>,
    /// A building code.
    pub building: Option<&'a str>,
    /// An owner's username, or `me` (the caller).
    pub owner: Option<&'a str>,
    /// One source or a comma-separated list.
    pub source: Option<&'a str>,
    /// One risk tier or a comma-separated list.
    pub risk_tier: Option<&'a str>,
    pub escalated: Option<&'a str>,
    /// Whether a leader supervises (督办) the event.
    pub supervised: Option<&'a str>,
    /// An owning unit (an organisation's or department's name, a grid code).
    pub unit: Option<&'a str>,
}

fn parse_bool(name: &str, v: &str) -> Result<bool, Error> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::Invalid(format!("{name} must be true or false"))),
    }
}

pub fn parse_int(name: &str, v: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, Error> {
    v.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{name} must be an integer in {}..={}",
                range.start(),
                range.end()
            ))
        })
}

/// A compiled list filter.
pub struct Filter {
    bbox: Option<[f64; 4]>,
    statuses: Option<Vec<String>>,
    area: Option<String>,
    category: Option<String>,
    window: Option<Window>,
    overdue: Option<bool>,
    cell: Option<h3o::CellIndex>,
    building: Option<String>,
    owner: Option<String>,
    sources: Option<Vec<String>>,
    tiers: Option<Vec<String>>,
    escalated: Option<bool>,
    supervised: Option<bool>,
    unit: Option<String>,
}

/// A comma-separated list whose every item is one of `allowed`.
fn parse_list(name: &str, v: Option<&str>, allowed: &[&str]) -> Result<Option<Vec<String>>, Error> {
    let Some(v) = v else { return Ok(None) };
    let items: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
    for x in &items {
        if !allowed.contains(&x.as_str()) {
            return Err(Error::Invalid(format!(
                "{name} must be among {}; got {x:?}",
                allowed.join(", ")
            )));
        }
    }
    Ok(Some(items))
}

impl Filter {
    /// `me` as an owner is the username given (the caller's); without one it is refused.
    pub fn parse_for(q: &ListParams<'_>, me: Option<&str>) -> Result<Filter, Error> {
        let mut f = Filter::parse(q)?;
        if f.owner.as_deref() == Some("me") {
            f.owner = Some(
                me.ok_or_else(|| {
                    Error::Unauthenticated("owner=me needs a signed-in caller".into())
                })?
                .to_string(),
            );
        }
        Ok(f)
    }

    pub fn parse(q: &ListParams<'_>) -> Result<Filter, Error> {
        let bbox = match q.bbox {
            None => None,
            Some(b) => {
                let v: Vec<f64> = b
                    .split(',')
                    .map(|s| s.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        Error::Invalid("bbox must be minLon,minLat,maxLon,maxLat".into())
                    })?;
                if v.len() != 4 || v[0] > v[2] || v[1] > v[3] || v.iter().any(|x| !x.is_finite()) {
                    return Err(Error::Invalid(
                        "bbox must be minLon,minLat,maxLon,maxLat with min ≤ max".into(),
                    ));
                }
                Some([v[0], v[1], v[2], v[3]])
            }
        };
        let statuses = match q.status {
            None => None,
            Some(s) => {
                let v: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
                for x in &v {
                    if !STATUSES.contains(&x.as_str()) {
                        return Err(Error::Invalid(format!(
                            "status must be among {}; got {x:?}",
                            STATUSES.join(", ")
                        )));
                    }
                }
                Some(v)
            }
        };
        if let Some(c) = q.category
            && !CATEGORIES.contains(&c)
        {
            return Err(Error::Invalid(format!(
                "category must be one of {}",
                CATEGORIES.join(", ")
            )));
        }
        Ok(Filter {
            bbox,
            statuses,
            area: q.grid.map(str::to_string),
            category: q.category.map(str::to_string),
            window: crate::time::parse_window(q.from, q.to)?,
            overdue: q.overdue.map(|v| parse_bool("overdue", v)).transpose()?,
            cell: q
                .cell
                .map(|v| {
                    v.parse::<h3o::CellIndex>()
                        .map_err(|_| Error::Invalid("cell must be an H3 cell index in hex".into()))
                })
                .transpose()?,
            building: q.building.map(str::to_string),
            owner: q
                .owner
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty()),
            sources: parse_list("source", q.source, &crate::model::SOURCES)?,
            tiers: parse_list("risk_tier", q.risk_tier, &events::RISK_TIERS)?,
            escalated: q
                .escalated
                .map(|v| parse_bool("escalated", v))
                .transpose()?,
            supervised: q
                .supervised
                .map(|v| parse_bool("supervised", v))
                .transpose()?,
            unit: q
                .unit
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty()),
        })
    }

    /// The building filter as a building index of `register` (`None`: no such filter).
    /// An unknown building code is a 404.
    pub fn building_index(
        &self,
        index: &Index,
        register: &crate::analysis::RegisterModels,
    ) -> Result<Option<u32>, Error> {
        let Some(code) = &self.building else {
            return Ok(None);
        };
        if index.building(code).is_none() {
            return Err(Error::NotFound(format!("no building {code}")));
        }
        Ok(register.building_of_address.get(code).copied())
    }

    /// The register models a `building` filter needs to find its events (`None`
    /// without such a filter).
    pub fn register(
        &self,
        state: &App,
        index: &std::sync::Arc<Index>,
    ) -> Option<std::sync::Arc<crate::analysis::RegisterModels>> {
        self.building
            .is_some()
            .then(|| state.analysis.register(index))
    }

    /// The `building` argument of [`Filter::matches`], given [`Filter::register`].
    pub fn building_arg<'r>(
        &self,
        index: &Index,
        register: Option<&'r crate::analysis::RegisterModels>,
    ) -> Result<Option<(u32, &'r crate::analysis::RegisterModels)>, Error> {
        Ok(match register {
            Some(r) => match self.building_index(index, r)? {
                Some(b) => Some((b, r)),
                // A building of the index that the register does not know: nothing matches.
                None => Some((u32::MAX, r)),
            },
            None => None,
        })
    }

    /// The areas the `grid` filter stands for (the area and every area under it, so a
    /// community or township brings its grids); `None` without such a filter. Resolved
    /// once per request, so the test per event is one set lookup.
    pub fn area_grids<'i>(&self, index: &'i Index) -> Option<HashSet<&'i str>> {
        let area = self.area.as_ref()?;
        Some(
            index
                .areas
                .iter()
                .filter(|g| index.ancestors(g).iter().any(|a| &a.area.code == area))
                .map(|g| g.area.code.as_str())
                .collect(),
        )
    }

    /// `building`: the index from [`Filter::building_index`] when the filter has one;
    /// `grids`: [`Filter::area_grids`].
    pub fn matches(
        &self,
        e: &Event,
        grids: Option<&HashSet<&str>>,
        now: i64,
        building: Option<(u32, &crate::analysis::RegisterModels)>,
    ) -> bool {
        if let Some(cell) = self.cell {
            let inside = h3o::LatLng::new(e.lat, e.lon)
                .map(|ll| ll.to_cell(cell.resolution()) == cell)
                .unwrap_or(false);
            if !inside {
                return false;
            }
        }
        if let Some((b, register)) = building {
            let at = e
                .address_code
                .as_ref()
                .and_then(|c| register.building_of_address.get(c));
            if at != Some(&b) {
                return false;
            }
        }
        if let Some([a, b, c, d]) = self.bbox
            && !(e.lon >= a && e.lon <= c && e.lat >= b && e.lat <= d)
        {
            return false;
        }
        if let Some(s) = &self.statuses
            && !s.contains(&e.status)
        {
            return false;
        }
        if let Some(c) = &self.category
            && c != &e.category
        {
            return false;
        }
        if let Some(o) = &self.owner
            && e.owner.as_ref() != Some(o)
        {
            return false;
        }
        if let Some(s) = &self.sources
            && !s.contains(&e.source)
        {
            return false;
        }
        if let Some(t) = &self.tiers
            && !t.contains(&e.risk_tier)
        {
            return false;
        }
        if self.escalated.is_some_and(|x| x != e.escalated) {
            return false;
        }
        if let Some(x) = self.supervised
            && e.supervision.is_some() != x
        {
            return false;
        }
        if let Some(u) = &self.unit
            && e.owner_unit.as_ref() != Some(u)
        {
            return false;
        }
        if self.window.is_some_and(|w| !w.contains(e.reported_at)) {
            return false;
        }
        if let Some(o) = self.overdue
            && events::is_overdue(e, now) != o
        {
            return false;
        }
        if let (Some(area), Some(grids)) = (&self.area, grids)
            && area != &e.grid_code
            && !grids.contains(e.grid_code.as_str())
        {
            return false;
        }
        true
    }
}

/// One page of the list.
pub struct Page {
    /// Every match (not only this page).
    pub total: usize,
    pub events: Vec<Event>,
    /// Counts over every match (not only this page).
    pub counts: Counts,
}

/// Counts of a filtered set of events.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Events per status (every status, zeros included).
    pub by_status: std::collections::BTreeMap<String, usize>,
    /// Open past their deadline.
    pub overdue: usize,
    /// Open, not yet overdue, due within 24 hours.
    pub due_24h: usize,
}

/// Open (not closed or followed up), not yet overdue, with the deadline at most 24 h
/// ahead.
pub fn is_due_within_24h(e: &Event, now: i64) -> bool {
    !crate::model::is_closed_status(&e.status) && e.deadline >= now && e.deadline <= now + 86_400
}

impl Counts {
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event>, now: i64) -> Counts {
        let mut tally = Tally::default();
        for e in events {
            tally.add(e, now);
        }
        tally.counts()
    }
}

/// [`Filter`] over an event's [`ListKey`]: exactly [`Filter::matches`] for every filter
/// but `bbox`, `cell`, `building` and `unit`, which it leaves to the record (the list
/// only uses it where those are absent or checked on the record too).
struct KeyFilter {
    /// Bit i: the i-th of `STATUSES` (and likewise below).
    statuses: Option<u32>,
    category: Option<u8>,
    sources: Option<u32>,
    tiers: Option<u32>,
    /// [`NO_ID`] when no event has the owner.
    owner: Option<u32>,
    /// Per grid id: inside the area filter.
    grids: Option<Vec<bool>>,
    window: Option<crate::time::Window>,
    overdue: Option<bool>,
    escalated: Option<bool>,
    supervised: Option<bool>,
}

/// The bits of `values` in `vocabulary` (values outside it set none).
fn bits(values: &Option<Vec<String>>, vocabulary: &[&str]) -> Option<u32> {
    values.as_ref().map(|vs| {
        vs.iter()
            .map(|v| vocabulary_index(vocabulary, v))
            .filter(|&i| i != u8::MAX)
            .fold(0u32, |m, i| m | 1 << i)
    })
}

fn has_bit(mask: Option<u32>, i: u8) -> bool {
    mask.is_none_or(|m| i < 32 && m & (1 << i) != 0)
}

impl KeyFilter {
    fn new(f: &Filter, events: &EventIndex, area: Option<&HashSet<&str>>) -> KeyFilter {
        KeyFilter {
            statuses: bits(&f.statuses, &STATUSES),
            category: f
                .category
                .as_deref()
                .map(|c| vocabulary_index(&CATEGORIES, c)),
            sources: bits(&f.sources, &crate::model::SOURCES),
            tiers: bits(&f.tiers, &events::RISK_TIERS),
            owner: f
                .owner
                .as_deref()
                .map(|o| events.owner_id(o).unwrap_or(NO_ID)),
            grids: f.area.as_ref().map(|code| {
                let mut inside = vec![false; events.grid_ids()];
                let codes = area.into_iter().flatten().copied().chain([code.as_str()]);
                for id in codes.filter_map(|c| events.grid_id(c)) {
                    inside[id as usize] = true;
                }
                inside
            }),
            window: f.window,
            overdue: f.overdue,
            escalated: f.escalated,
            supervised: f.supervised,
        }
    }

    fn matches(&self, k: &ListKey, now: i64) -> bool {
        has_bit(self.statuses, k.status)
            && self
                .category
                .is_none_or(|c| c == k.category && c != u8::MAX)
            && has_bit(self.sources, k.source)
            && has_bit(self.tiers, k.tier)
            && self.owner.is_none_or(|o| o == k.owner && o != NO_ID)
            && self
                .grids
                .as_ref()
                .is_none_or(|g| g.get(k.grid as usize).copied().unwrap_or(false))
            && self.window.is_none_or(|w| w.contains(k.reported_at))
            && self.overdue.is_none_or(|o| o == key_overdue(k, now))
            && self.escalated.is_none_or(|x| x == k.escalated)
            && self.supervised.is_none_or(|x| x == k.supervised)
    }
}

/// Whether a closed status: `closed` and `followed_up` (see `model::is_closed_status`).
fn key_closed(k: &ListKey) -> bool {
    STATUSES
        .get(usize::from(k.status))
        .is_some_and(|s| crate::model::is_closed_status(s))
}

/// [`events::is_overdue`] on a key.
fn key_overdue(k: &ListKey, now: i64) -> bool {
    !key_closed(k) && now > k.deadline
}

/// [`Counts`] as they are gathered over hundreds of thousands of events: a slot per
/// known status, so no status string is copied per event.
#[derive(Default)]
struct Tally {
    by_status: [usize; STATUSES.len()],
    other: std::collections::BTreeMap<String, usize>,
    overdue: usize,
    due_24h: usize,
}

impl Tally {
    fn add(&mut self, e: &Event, now: i64) {
        match STATUSES.iter().position(|s| *s == e.status) {
            Some(i) => self.by_status[i] += 1,
            None => *self.other.entry(e.status.clone()).or_default() += 1,
        }
        if events::is_overdue(e, now) {
            self.overdue += 1;
        } else if is_due_within_24h(e, now) {
            self.due_24h += 1;
        }
    }

    /// [`Tally::add`] from the event's key alone, for a status of the vocabulary.
    fn add_key(&mut self, k: &ListKey, now: i64) {
        debug_assert!(usize::from(k.status) < STATUSES.len());
        if let Some(n) = self.by_status.get_mut(usize::from(k.status)) {
            *n += 1;
        }
        if key_overdue(k, now) {
            self.overdue += 1;
        } else if !key_closed(k) && (now..=now + 86_400).contains(&k.deadline) {
            // As `is_due_within_24h`, on the key.
            self.due_24h += 1;
        }
    }

    fn counts(self) -> Counts {
        let mut by_status = self.other;
        for (s, n) in STATUSES.iter().zip(self.by_status) {
            by_status.insert(s.to_string(), n);
        }
        Counts {
            by_status,
            overdue: self.overdue,
            due_24h: self.due_24h,
        }
    }
}

/// The events `access` may see that match `params`, newest first, `limit` from
/// `offset`. Records need `EventsRead` (and are limited to the caller's events); a bare
/// total (`limit` 0) is an aggregate.
pub fn list(
    state: &App,
    access: &Access,
    params: &ListParams<'_>,
    limit: i64,
    offset: i64,
) -> Result<Page, Error> {
    let filter = Filter::parse_for(params, access.caller().map(|c| c.username.as_str()))?;
    let records = access.allows(Permission::EventsRead);
    if !records {
        access.require(if limit == 0 {
            Permission::Aggregates
        } else {
            Permission::EventsRead
        })?;
    }
    if !records {
        // The disclosure layer: public counts are by area, public-sized cell and whole
        // day; a box, a building or an owner would count a few households' events.
        for (name, given) in [
            ("bbox", params.bbox.is_some()),
            ("building", params.building.is_some()),
            ("owner", params.owner.is_some()),
        ] {
            if given {
                return Err(Error::Forbidden(format!(
                    "the {name} filter needs access to event records: public counts are by area, hot-spot cell and day"
                )));
            }
        }
        crate::disclosure::require_day_grain("from", params.from)?;
        crate::disclosure::require_day_grain("to", params.to)?;
        if let Some(cell) = filter.cell
            && u8::from(cell.resolution()) > crate::analysis::DEFAULT_RESOLUTION
        {
            return Err(Error::Forbidden(format!(
                "cells finer than H3 resolution {} need access to event records",
                crate::analysis::DEFAULT_RESOLUTION
            )));
        }
    }
    if let (Some(c), Some(area)) = (access.caller(), params.grid)
        && c.role.grid_scoped()
        && !c.can_see_grid(area)
    {
        return Err(Error::Forbidden(format!(
            "the grid {area} is outside your grids"
        )));
    }
    let visible = |e: &Event| !records || access.can_see(e);
    let index = state.index()?;
    let now = state.clock.now();
    let register = filter.register(state, &index);
    let building = filter.building_arg(&index, register.as_deref())?;
    let grids = filter.area_grids(&index);
    let matches = |e: &Event| visible(e) && filter.matches(e, grids.as_ref(), now, building);
    let events = state.events();
    let mut hits: Vec<&Event> = match (filter.bbox, filter.cell) {
        (None, None) => {
            // The index in time order, already newest first and cut to the window: count
            // every match, copy one page.
            let (offset, limit) = (offset as usize, limit as usize);
            let (from, to) = filter
                .window
                .map_or((i64::MIN, i64::MAX), |w| (w.from, w.to));
            let keys = KeyFilter::new(&filter, &events, grids.as_ref());
            // The keys decide alone unless a filter or the caller's scope needs the record.
            let sees_all = !records || access.caller().is_some_and(|c| c.sees_every_event());
            let whole_record = !sees_all || filter.building.is_some() || filter.unit.is_some();
            let (mut total, mut tally, mut page) = (0usize, Tally::default(), Vec::new());
            for k in events.keys_newest_first(from, to) {
                if !keys.matches(k, now) {
                    continue;
                }
                let e = &events.events[k.event as usize];
                if whole_record && !matches(e) {
                    continue;
                }
                if total >= offset && page.len() < limit {
                    page.push(e.clone());
                }
                total += 1;
                if k.status == u8::MAX {
                    // A status outside the vocabulary is counted under its own name.
                    tally.add(e, now);
                } else {
                    tally.add_key(k, now);
                }
            }
            return Ok(Page {
                total,
                counts: tally.counts(),
                events: page,
            });
        }
        (Some([a, b, c, d]), _) => events
            .in_box([a, b], [c, d])
            .filter(|e| matches(e))
            .collect(),
        (None, Some(cell)) => {
            // The cell's bounding box through the R-tree, then the exact cell test.
            let boundary = cell.boundary();
            let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
            for v in boundary.iter() {
                w = w.min(v.lng());
                e = e.max(v.lng());
                s = s.min(v.lat());
                n = n.max(v.lat());
            }
            // Padded a little: the edges between the vertices are not quite straight in
            // lon/lat.
            let pad = 1e-4;
            events
                .in_box([w - pad, s - pad], [e + pad, n + pad])
                .filter(|e| matches(e))
                .collect()
        }
    };
    hits.sort_by(|x, y| {
        y.reported_at
            .cmp(&x.reported_at)
            .then_with(|| y.code.cmp(&x.code))
    });
    let page = hits
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|e| (*e).clone())
        .collect();
    Ok(Page {
        total: hits.len(),
        counts: Counts::of(hits.iter().copied(), now),
        events: page,
    })
}
