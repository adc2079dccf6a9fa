//! The server side of the five analysis models: feeds `minqing-analysis` from the
//! in-memory index and caches the results.
//!
//! # What is precomputed, what is cached
//!
//! * **Register models** (population, housing): one `PopulationProfile` and one
//!   `HousingProfile` per building, built once per loaded index (and per reference
//!   month, since ages move), and their merge per area (every building is added to its
//!   grid and the grid's community, township and district). An area query is a lookup;
//!   a drawn polygon merges the profiles of the buildings the R-tree finds in its box
//!   whose point lies in the polygon — no full scan.
//! * **Event models** (hotspots, emerging hotspots, risk, efficiency): the events are
//!   turned into plain [`EventFacts`] once per event generation; results are cached per
//!   query. [`Analysis`] holds a receiver of the change bus: every access drains it,
//!   and any `Change::Event` (or a lagged receiver) bumps the generation and drops every
//!   event-dependent cache. Register caches never depend on events.
//! * **Study areas** (the H3 cells whose centre lies in the district) are built once per
//!   resolution and kept.
//!
//! # Approximations (documented in the API responses too)
//!
//! * The index keeps no household ids, so a person's **household size** is the number
//!   of residents registered at their unit, and **living alone** means being the only
//!   resident of the unit. Persons linked to a building but no unit have an unknown
//!   household size. Persons not linked to any building are in no area (only in the
//!   link report).
//! * The synthetic events carry no worker id: the **grid is the unit of workload**.
//! * Housing counts the units that have a housing record (occupancy).
//! * An event counts at building level for risk only when its `address_code` resolves to
//!   a unit or building of the register.
//!
//! Key-group counts below [`KEY_GROUP_MIN`] are suppressed in every output built here.

use crate::http::{ApiError, AppState, Change};
use crate::index::Index;
use crate::model::{AreaLevel, CATEGORIES, SOURCES, is_closed_status};
use geo::{BoundingRect, Contains};
use minqing_analysis::efficiency::{EventFacts, Window};
use minqing_analysis::hotspot::{HotspotClass, HotspotReport, StudyArea};
use minqing_analysis::housing::{
    CrowdingRule, EnterpriseFacts, EnterpriseSize, HousingProfile, Occupancy, UnitFacts,
    industry_index,
};
use minqing_analysis::population::{AgeBasis, PersonFacts, PopulationProfile, Sex, YearMonth};
use minqing_analysis::risk::{RiskConfig, RiskInputs, RiskScore, Tier};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Key-group counts below this never leave the server (the analysis crate's constant:
/// there is one 5).
pub const KEY_GROUP_MIN: u32 = minqing_analysis::population::KEY_GROUP_MIN_COUNT;
/// Default H3 resolution of the hot spot analysis.
pub const DEFAULT_RESOLUTION: u8 = 9;
/// Resolutions accepted (coarser is meaningless for a district, finer is too many cells).
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=10;
/// Longest emerging-hotspot cube, in steps.
pub const MAX_STEPS: usize = 520;
const DAY: i64 = 86_400;
/// Entries kept per result cache before it is emptied (queries are cheap to redo).
const MAX_CACHED: usize = 64;

/// Per-building and per-area register profiles.
pub struct RegisterModels {
    index_id: usize,
    pub reference: YearMonth,
    pub building_population: Vec<PopulationProfile>,
    pub building_housing: Vec<HousingProfile>,
    /// Indexed like `Index::areas`.
    pub area_population: Vec<PopulationProfile>,
    pub area_housing: Vec<HousingProfile>,
    /// Over-crowded units per building and per area (for risk).
    pub building_overcrowded: Vec<u32>,
    pub area_overcrowded: Vec<u32>,
    /// Unit and building codes → building index (to place events by address).
    pub building_of_address: HashMap<String, u32>,
    pub district: Option<u32>,
}

/// The events as the models see them.
pub struct EventModels {
    /// (index id, event generation, number of events) they were built from.
    key: (usize, u64, usize),
    pub facts: Vec<EventFacts>,
    pub points: Vec<(f64, f64)>,
    /// Grid index (into `Index::areas`) of each event, if its grid is known.
    pub grid: Vec<Option<u32>>,
    /// Building of each event's address code, if it resolves.
    pub building: Vec<Option<u32>>,
    /// Hash of each event's address code (for repeat disputes).
    pub address: Vec<Option<u64>>,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
}

impl EventModels {
    /// The event generation these facts were built from.
    pub fn generation(&self) -> u64 {
        self.key.1
    }
}

/// One model's results, each with the event generation it was computed from.
type Results<Q, V> = HashMap<Q, (u64, Arc<V>)>;

#[derive(Default)]
struct ResultCaches {
    hotspots: Results<HotspotQuery, HotspotResult>,
    emerging: Results<EmergingQuery, EmergingResult>,
    risk: Results<RiskQuery, RiskResult>,
    efficiency: Results<EfficiencyQuery, serde_json::Value>,
}

/// Bounds how many model computations run at once. The models are CPU-bound and run on
/// blocking threads; without a bound, a dozen concurrent cache misses (every intake
/// starts a new generation) take every core from the runtime that serves tiles and
/// search (mixed load at scale 1: tile p99 5.3 s, with the tile handlers themselves
/// under 1 ms).
struct ComputeGate {
    slots: Mutex<GateSlots>,
    freed: Condvar,
    limit: usize,
}

#[derive(Default)]
struct GateSlots {
    running: usize,
    /// Tile-feed computations waiting: they go before any request's.
    feed_waiting: usize,
}

/// Who waits for a computation: a caller of the API, or the hotspots/risk tile feed,
/// which every map tile of those layers depends on and so goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Request,
    TileFeed,
}

impl ComputeGate {
    fn new(limit: usize) -> Self {
        Self {
            slots: Mutex::default(),
            freed: Condvar::new(),
            limit: limit.max(1),
        }
    }

    /// One computation fewer than the machine has cores (at least one).
    fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores.saturating_sub(1))
    }

    /// Wait for a free slot (call from a blocking thread, never from async code).
    fn enter(&self, priority: Priority) -> GatePass<'_> {
        let feed = priority == Priority::TileFeed;
        let mut slots = lock(&self.slots);
        if feed {
            slots.feed_waiting += 1;
        }
        while slots.running >= self.limit || (!feed && slots.feed_waiting > 0) {
            slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
        }
        if feed {
            slots.feed_waiting -= 1;
        }
        slots.running += 1;
        GatePass(self)
    }
}

struct GatePass<'a>(&'a ComputeGate);

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        lock(&self.0.slots).running -= 1;
        // Waiters wait on different conditions (a feed's, a request's): wake them all.
        self.0.freed.notify_all();
    }
}

/// The models' caches and configuration; one per [`AppState`].
pub struct Analysis {
    pub risk_grid: RiskConfig,
    pub risk_building: RiskConfig,
    pub crowding: CrowdingRule,
    changes: Mutex<tokio::sync::broadcast::Receiver<Change>>,
    generation: AtomicU64,
    register: Mutex<Option<Arc<RegisterModels>>>,
    events: Mutex<Option<Arc<EventModels>>>,
    study_areas: Mutex<HashMap<(usize, u8), Arc<StudyArea>>>,
    results: Mutex<ResultCaches>,
    gate: ComputeGate,
    /// Model computations run (cache misses), for tests and operators.
    computations: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The index's own id (not its address, which a later index may reuse).
fn index_id(ix: &Arc<Index>) -> usize {
    ix.id as usize
}

/// Current unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Analysis {
    pub fn new(changes: tokio::sync::broadcast::Receiver<Change>) -> Self {
        Self {
            risk_grid: RiskConfig::grid(),
            risk_building: RiskConfig::building(),
            crowding: CrowdingRule::default(),
            changes: Mutex::new(changes),
            generation: AtomicU64::new(0),
            register: Mutex::new(None),
            events: Mutex::new(None),
            study_areas: Mutex::new(HashMap::new()),
            results: Mutex::new(ResultCaches::default()),
            gate: ComputeGate::for_this_machine(),
            computations: AtomicU64::new(0),
        }
    }

    /// Use these risk configurations (from [`RiskSettings::resolve`]) instead of the
    /// defaults.
    #[must_use]
    pub fn with_risk(mut self, grid: RiskConfig, building: RiskConfig) -> Self {
        self.risk_grid = grid;
        self.risk_building = building;
        self
    }

    /// Drain the change bus; on any event change, start a new generation (results of
    /// older generations are no longer served, see [`Analysis::cached`]).
    fn refresh(&self) -> u64 {
        use tokio::sync::broadcast::error::TryRecvError;
        let mut dirty = false;
        // The generation moves while the bus is held: a second caller that finds the bus
        // drained must not read the generation from before the change it missed.
        let mut rx = lock(&self.changes);
        // Any event change (or a lagged receiver, which lost some) makes results stale.
        while let Ok(Change::Event { .. }) | Err(TryRecvError::Lagged(_)) = rx.try_recv() {
            dirty = true;
        }
        if dirty {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        self.generation.load(Ordering::SeqCst)
    }

    /// The result of `query`, computed at most once per generation however many ask.
    ///
    /// A request that arrives at generation `g` is answered by any result computed
    /// from events of generation `g` or later, so whoever wrote an event sees it in
    /// the next answer. On a miss the caller waits for the [`ComputeGate`], looks again
    /// (the computation it waited behind may have been its own query), and only then
    /// computes. `compute` returns the generation of the events it read.
    fn cached<Q: Hash + Eq + Copy, V>(
        &self,
        results: fn(&mut ResultCaches) -> &mut Results<Q, V>,
        query: Q,
        priority: Priority,
        compute: impl FnOnce() -> Result<(u64, V), ApiError>,
    ) -> Result<Arc<V>, ApiError> {
        let since = self.refresh();
        let fresh = || {
            results(&mut lock(&self.results))
                .get(&query)
                .filter(|(generation, _)| *generation >= since)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = fresh() {
            return Ok(v);
        }
        let _pass = self.gate.enter(priority);
        if let Some(v) = fresh() {
            return Ok(v);
        }
        self.computations.fetch_add(1, Ordering::Relaxed);
        let (generation, value) = compute()?;
        let value = Arc::new(value);
        let mut caches = lock(&self.results);
        let map = results(&mut caches);
        // Results of older generations can no longer answer a new request: free them
        // (a building-level risk result at scale 10 holds 1.2 M scores).
        map.retain(|_, (g, _)| *g >= generation);
        if map.len() >= MAX_CACHED && !map.contains_key(&query) {
            map.clear();
        }
        // Two computations of one query (a generation apart) keep the newer result.
        if map.get(&query).is_none_or(|(g, _)| *g <= generation) {
            map.insert(query, (generation, value.clone()));
        }
        Ok(value)
    }

    /// Drop every cached result: the register's links changed (a review resolution), so
    /// results that read per-building figures (risk) are stale. The register profiles
    /// follow by themselves, since they are keyed by the index id.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// How many model results have been computed (each a cache miss).
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }

    /// How many model computations may run at once on this machine.
    pub fn concurrent_computations(&self) -> usize {
        self.gate.limit
    }

    /// The generation of the events the caches are built on (bumps on every change).
    pub fn generation(&self) -> u64 {
        self.refresh()
    }

    /// Register profiles for the loaded index at the current month.
    pub fn register(&self, ix: &Arc<Index>) -> Arc<RegisterModels> {
        let reference = minqing_analysis::efficiency::cst_year_month(now());
        let mut slot = lock(&self.register);
        if let Some(r) = slot.as_ref()
            && r.index_id == index_id(ix)
            && r.reference == reference
        {
            return r.clone();
        }
        let built = Arc::new(build_register(ix, reference, self.crowding));
        *slot = Some(built.clone());
        built
    }

    /// The events as plain facts, rebuilt when the events changed.
    pub fn events(&self, state: &AppState, ix: &Arc<Index>) -> Arc<EventModels> {
        let generation = self.refresh();
        let register = self.register(ix);
        let ev = state.events();
        let key = (index_id(ix), generation, ev.len());
        let mut slot = lock(&self.events);
        if let Some(m) = slot.as_ref()
            && m.key == key
        {
            return m.clone();
        }
        let built = Arc::new(build_events(ix, &register, &ev.events, key));
        drop(ev);
        *slot = Some(built.clone());
        built
    }

    /// The district's H3 study area at `resolution` (built once).
    pub fn study_area(&self, ix: &Arc<Index>, resolution: u8) -> Result<Arc<StudyArea>, ApiError> {
        let key = (index_id(ix), resolution);
        if let Some(a) = lock(&self.study_areas).get(&key) {
            return Ok(a.clone());
        }
        let district = ix
            .areas
            .iter()
            .find(|a| a.area.level == AreaLevel::District)
            .ok_or_else(|| ApiError::NotFound("no district polygon is loaded".into()))?;
        let res = h3o::Resolution::try_from(resolution)
            .map_err(|_| ApiError::BadRequest(format!("invalid H3 resolution {resolution}")))?;
        let area = StudyArea::from_polygon(&district.area.geometry, res)
            .map_err(|e| ApiError::Unprocessable(format!("district study area: {e}")))?;
        let area = Arc::new(area);
        let mut cache = lock(&self.study_areas);
        cache.retain(|(id, _), _| *id == key.0);
        cache.insert(key, area.clone());
        Ok(area)
    }
}

fn sex(male: bool) -> Sex {
    if male { Sex::Male } else { Sex::Female }
}

fn occupancy(s: &str) -> Option<Occupancy> {
    match s {
        "owner" => Some(Occupancy::Owner),
        "rented" => Some(Occupancy::Rented),
        "vacant" => Some(Occupancy::Vacant),
        _ => None,
    }
}

fn enterprise_size(s: &str) -> EnterpriseSize {
    match s {
        "large" => EnterpriseSize::Large,
        "medium" => EnterpriseSize::Medium,
        "small" => EnterpriseSize::Small,
        _ => EnterpriseSize::Micro,
    }
}

/// The area indexes a grid belongs to: itself and its ancestors.
fn chain(ix: &Index, grid: u32) -> Vec<u32> {
    let mut out = vec![grid];
    let mut cur = ix.areas[grid as usize].parent;
    while let Some(p) = cur {
        out.push(p);
        cur = ix.areas[p as usize].parent;
    }
    out
}

fn build_register(ix: &Arc<Index>, reference: YearMonth, rule: CrowdingRule) -> RegisterModels {
    let basis = AgeBasis::at(reference);
    let nb = ix.buildings.len();
    let mut building_population = vec![PopulationProfile::new(basis); nb];
    let mut building_housing = vec![HousingProfile::new(rule); nb];
    let mut building_overcrowded = vec![0u32; nb];
    for p in &ix.people {
        let Some(b) = p.building else { continue };
        let (household_size, lives_alone) = match p.unit {
            Some(u) => {
                let n = ix.units[u as usize].residents;
                (n.min(255) as u8, n == 1)
            }
            None => (0, false),
        };
        building_population[b as usize].add(&PersonFacts {
            birth_year: p.birth_year,
            birth_month: p.birth_month,
            sex: sex(p.male),
            registered: !p.floating,
            household_size,
            lives_alone,
            key_groups: p.key_groups,
        });
    }
    for u in &ix.units {
        let Some(occ) = u.occupancy.as_deref().and_then(occupancy) else {
            continue;
        };
        let facts = UnitFacts {
            occupancy: occ,
            residents: u.residents.min(u32::from(u16::MAX)) as u16,
            floor_area_m2: u.floor_area_m2,
        };
        if rule.is_overcrowded(&facts) {
            building_overcrowded[u.building as usize] += 1;
        }
        building_housing[u.building as usize].add_unit(&facts);
    }
    for e in &ix.enterprises {
        let Some(b) = e.building else { continue };
        building_housing[b as usize].add_enterprise(&EnterpriseFacts {
            industry: e
                .industry
                .chars()
                .next()
                .and_then(industry_index)
                .unwrap_or(u8::MAX),
            size: enterprise_size(&e.size),
            employees: e.employees.clamp(0, i64::from(u32::MAX)) as u32,
        });
    }
    let district = ix
        .areas
        .iter()
        .position(|a| a.area.level == AreaLevel::District)
        .map(|i| i as u32);
    let na = ix.areas.len();
    let mut area_population = vec![PopulationProfile::new(basis); na];
    let mut area_housing = vec![HousingProfile::new(rule); na];
    let mut area_overcrowded = vec![0u32; na];
    let mut chains: HashMap<u32, Vec<u32>> = HashMap::new();
    for (b, building) in ix.buildings.iter().enumerate() {
        let members: &[u32] = match building.grid {
            Some(g) => chains.entry(g).or_insert_with(|| chain(ix, g)),
            None => district.as_slice(),
        };
        for &a in members {
            let a = a as usize;
            area_population[a].merge(&building_population[b]);
            area_housing[a].merge(&building_housing[b]);
            area_overcrowded[a] += building_overcrowded[b];
        }
    }
    let mut building_of_address: HashMap<String, u32> = HashMap::with_capacity(ix.units.len() + nb);
    for (b, building) in ix.buildings.iter().enumerate() {
        building_of_address.insert(building.code.clone(), b as u32);
    }
    for u in &ix.units {
        building_of_address.insert(u.code.clone(), u.building);
    }
    RegisterModels {
        index_id: index_id(ix),
        reference,
        building_population,
        building_housing,
        area_population,
        area_housing,
        building_overcrowded,
        area_overcrowded,
        building_of_address,
        district,
    }
}

fn code_index(list: &[&str], s: &str) -> u8 {
    list.iter()
        .position(|c| *c == s)
        .map_or(u8::MAX, |i| i as u8)
}

fn build_events(
    ix: &Index,
    register: &RegisterModels,
    events: &[crate::model::Event],
    key: (usize, u64, usize),
) -> EventModels {
    let grid_of: HashMap<&str, u32> = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.area.level == AreaLevel::Grid)
        .map(|(i, a)| (a.area.code.as_str(), i as u32))
        .collect();
    let n = events.len();
    let mut m = EventModels {
        key,
        facts: Vec::with_capacity(n),
        points: Vec::with_capacity(n),
        grid: Vec::with_capacity(n),
        building: Vec::with_capacity(n),
        address: Vec::with_capacity(n),
        first_at: None,
        last_at: None,
    };
    for e in events {
        let grid = grid_of.get(e.grid_code.as_str()).copied();
        m.facts.push(EventFacts {
            category: code_index(&CATEGORIES, &e.category),
            source: code_index(&SOURCES, &e.source),
            accepted_at: e.reported_at,
            closed_at: e.closed_at.filter(|_| is_closed_status(&e.status)),
            resolved_by_mediation: e.resolved_by_mediation,
            diverted: e.diversion.is_some(),
            deadline: e.deadline,
            worker: grid,
            area: grid.unwrap_or(u32::MAX),
        });
        m.points.push((e.lon, e.lat));
        m.grid.push(grid);
        m.building.push(
            e.address_code
                .as_ref()
                .and_then(|c| register.building_of_address.get(c).copied()),
        );
        m.address.push(e.address_code.as_ref().map(|c| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            c.hash(&mut h);
            h.finish()
        }));
        m.first_at = Some(m.first_at.map_or(e.reported_at, |f| f.min(e.reported_at)));
        m.last_at = Some(m.last_at.map_or(e.reported_at, |l| l.max(e.reported_at)));
    }
    m
}

// ---------------------------------------------------------------------------------
// Dates and parameters

/// Parse `YYYY-MM-DD` as 00:00 China Standard Time (UTC+8) of that day.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (u16, u8, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1900..=2200).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    use minqing_analysis::efficiency::{add_months, month_start};
    let ym = YearMonth::new(y, m);
    let start = month_start(ym);
    let days = (month_start(add_months(ym, 1)) - start) / DAY;
    (d <= days).then_some(start + (d - 1) * DAY)
}

/// `YYYY-MM-DD` (CST) of a unix time.
pub fn format_date(t: i64) -> String {
    let (y, m, d) = minqing_analysis::efficiency::cst_date(t);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A window from optional `from`/`to` dates, both inclusive days in CST.
pub fn parse_window(from: Option<&str>, to: Option<&str>) -> Result<Option<Window>, ApiError> {
    let bad = |name: &str, v: &str| {
        ApiError::BadRequest(format!(
            "{name} must be a date YYYY-MM-DD (China Standard Time), got {v:?}"
        ))
    };
    let from = from
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(s).ok_or_else(|| bad("from", s)))
        .transpose()?;
    let to = to
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(s).map(|t| t + DAY).ok_or_else(|| bad("to", s)))
        .transpose()?;
    match (from, to) {
        (None, None) => Ok(None),
        (f, t) => {
            let w = Window::new(f.unwrap_or(i64::MIN / 4), t.unwrap_or(i64::MAX / 4));
            if w.from >= w.to {
                return Err(ApiError::BadRequest("from must not be after to".into()));
            }
            Ok(Some(w))
        }
    }
}

pub fn parse_category(s: Option<&str>) -> Result<Option<u8>, ApiError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(c) => match code_index(&CATEGORIES, c) {
            u8::MAX => Err(ApiError::BadRequest(format!(
                "category must be one of {}, got {c:?}",
                CATEGORIES.join(", ")
            ))),
            i => Ok(Some(i)),
        },
    }
}

pub fn parse_source(s: Option<&str>) -> Result<Option<u8>, ApiError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(c) => match code_index(&SOURCES, c) {
            u8::MAX => Err(ApiError::BadRequest(format!(
                "source must be one of {}, got {c:?}",
                SOURCES.join(", ")
            ))),
            i => Ok(Some(i)),
        },
    }
}

pub fn parse_resolution(s: Option<&str>) -> Result<u8, ApiError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_RESOLUTION),
        Some(r) => r
            .parse::<u8>()
            .ok()
            .filter(|r| RESOLUTIONS.contains(r))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "resolution must be an H3 resolution from {} to {}, got {r:?}",
                    RESOLUTIONS.start(),
                    RESOLUTIONS.end()
                ))
            }),
    }
}

/// The area index of a code, 404 if unknown; `None` code → the district.
pub fn resolve_area(ix: &Index, code: Option<&str>) -> Result<u32, ApiError> {
    match code.filter(|s| !s.is_empty()) {
        Some(c) => ix
            .areas
            .iter()
            .position(|a| a.area.code == c)
            .map(|i| i as u32)
            .ok_or_else(|| ApiError::NotFound(format!("no area with code {c:?}"))),
        None => ix
            .areas
            .iter()
            .position(|a| a.area.level == AreaLevel::District)
            .map(|i| i as u32)
            .ok_or_else(|| ApiError::NotFound("no district is loaded".into())),
    }
}

/// Whether grid `grid` lies in area `area` (is it or one of its descendants).
pub fn grid_in_area(ix: &Index, grid: u32, area: u32) -> bool {
    let mut cur = Some(grid);
    while let Some(a) = cur {
        if a == area {
            return true;
        }
        cur = ix.areas[a as usize].parent;
    }
    false
}

// ---------------------------------------------------------------------------------
// Model 1 and 2

fn json_opt_f(x: Option<f64>) -> serde_json::Value {
    x.filter(|v| v.is_finite())
        .map_or(serde_json::Value::Null, Into::into)
}

/// The wire form of a population profile, key-group counts below 5 suppressed
/// (omitted).
pub fn population_json(profile: &PopulationProfile, area_km2: f64) -> serde_json::Value {
    use minqing_analysis::population::AGE_BAND_LABELS;
    let s = profile.finish(area_km2).suppressed(KEY_GROUP_MIN);
    let mut groups = serde_json::Map::new();
    for (i, name) in crate::model::KEY_GROUPS.iter().enumerate() {
        if let Some(c) = s.key_groups.by_group[i] {
            groups.insert((*name).into(), c.into());
        }
    }
    let mut key_groups = serde_json::Map::new();
    if let Some(p) = s.key_groups.persons {
        key_groups.insert("persons".into(), p.into());
    }
    key_groups.insert("by_group".into(), groups.into());
    key_groups.insert(
        "suppression".into(),
        format!("counts below {KEY_GROUP_MIN} are omitted").into(),
    );
    let age_bands: serde_json::Map<String, serde_json::Value> = AGE_BAND_LABELS
        .iter()
        .zip(s.age_bands)
        .map(|(l, c)| ((*l).to_string(), c.into()))
        .collect();
    let households: serde_json::Map<String, serde_json::Value> = ["1", "2", "3", "4", "5", "6+"]
        .iter()
        .zip(s.households_by_size)
        .map(|(l, c)| ((*l).to_string(), c.into()))
        .collect();
    serde_json::json!({
        "residents": s.residents,
        "area_km2": json_opt_f(s.area_km2),
        "density_per_km2": json_opt_f(s.density_per_km2),
        "age_bands": age_bands,
        "unknown_age": s.unknown_age,
        "share_60_plus": json_opt_f(s.share_60_plus),
        "share_65_plus": json_opt_f(s.share_65_plus),
        "males": s.males,
        "females": s.females,
        "sex_ratio": json_opt_f(s.sex_ratio),
        "registered": s.registered,
        "floating": s.floating,
        "registered_share": json_opt_f(s.registered_share),
        "floating_share": json_opt_f(s.floating_share),
        "households": s.households,
        "households_by_size": households,
        "mean_household_size": json_opt_f(s.mean_household_size),
        "unknown_household_size": s.unknown_household_size,
        "elderly_age": s.elderly_age,
        "elderly": s.elderly,
        "elderly_alone": s.elderly_alone,
        "elderly_alone_share": json_opt_f(s.elderly_alone_share),
        "key_groups": key_groups,
        "reference_month": format!("{:04}-{:02}", s.reference.year, s.reference.month),
        "household_rule": "household size = residents registered at the person's unit; living alone = sole resident of the unit",
    })
}

/// The wire form of a housing profile.
pub fn housing_json(profile: &HousingProfile) -> serde_json::Value {
    use minqing_analysis::housing::INDUSTRY_SECTIONS;
    let h = profile.finish();
    let rule = profile.rule();
    let by_industry: serde_json::Map<String, serde_json::Value> = INDUSTRY_SECTIONS
        .iter()
        .zip(h.enterprises.by_section)
        .filter(|(_, c)| *c > 0)
        .map(|(s, c)| (s.to_string(), c.into()))
        .collect();
    let names = ["micro", "small", "medium", "large"];
    let by_size: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(h.enterprises.by_size)
        .map(|(s, c)| ((*s).to_string(), c.into()))
        .collect();
    let employees_by_size: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(h.enterprises.employees_by_size)
        .map(|(s, c)| ((*s).to_string(), c.into()))
        .collect();
    serde_json::json!({
        "units": h.units,
        "owner_occupied": h.owner_occupied,
        "rented": h.rented,
        "vacant": h.vacant,
        "owner_share": json_opt_f(h.owner_share),
        "rented_share": json_opt_f(h.rented_share),
        "vacant_share": json_opt_f(h.vacant_share),
        "rental_share_of_occupied": json_opt_f(h.rental_share_of_occupied),
        "residents": h.residents,
        "overcrowded_units": h.overcrowded_units,
        "overcrowded_residents": h.overcrowded_residents,
        "overcrowded_share_of_rented": json_opt_f(h.overcrowded_share_of_rented),
        "overcrowding_rule": {
            "min_residents": rule.min_residents,
            "min_area_per_person_m2": rule.min_area_per_person_m2,
            "rented_only": rule.rented_only,
        },
        "unknown_area": h.unknown_area,
        "mismatched_units": h.mismatched_units,
        "mismatched_residents": h.mismatched_residents,
        "enterprises": {
            "total": h.enterprises.total,
            "by_industry": by_industry,
            "unknown_industry": h.enterprises.unknown_section,
            "by_size": by_size,
            "employees": h.enterprises.employees,
            "employees_by_size": employees_by_size,
        },
    })
}

/// Buildings whose point lies in `polygon` (R-tree on its box, then point-in-polygon).
pub fn buildings_in_polygon(ix: &Index, polygon: &geo_types::MultiPolygon<f64>) -> Vec<u32> {
    let Some(r) = polygon.bounding_rect() else {
        return Vec::new();
    };
    let env = rstar::AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
    ix.building_tree
        .locate_in_envelope(&env)
        .filter(|e| polygon.contains(&geo_types::Point::new(e.geom()[0], e.geom()[1])))
        .map(|e| e.data)
        .collect()
}

/// Equirectangular area in km² (as the index computes area sizes).
pub fn polygon_km2(polygon: &geo_types::MultiPolygon<f64>) -> f64 {
    use geo::Area;
    let lat = polygon.bounding_rect().map_or(31.0, |r| r.center().y);
    polygon.unsigned_area() * 111.32 * 110.574 * lat.to_radians().cos()
}

/// Population profile of a drawn polygon (the server's code path, without HTTP).
pub fn population_of_polygon(
    register: &RegisterModels,
    ix: &Index,
    polygon: &geo_types::MultiPolygon<f64>,
) -> (PopulationProfile, HousingProfile, usize) {
    let buildings = buildings_in_polygon(ix, polygon);
    let mut pop = PopulationProfile::new(AgeBasis::at(register.reference));
    let mut housing = HousingProfile::new(
        register
            .building_housing
            .first()
            .map_or_else(CrowdingRule::default, HousingProfile::rule),
    );
    for &b in &buildings {
        pop.merge(&register.building_population[b as usize]);
        housing.merge(&register.building_housing[b as usize]);
    }
    (pop, housing, buildings.len())
}

// ---------------------------------------------------------------------------------
// Model 3: hot spots

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HotspotQuery {
    pub resolution: u8,
    pub window: Option<Window>,
    pub category: Option<u8>,
    pub source: Option<u8>,
}

impl Default for HotspotQuery {
    fn default() -> Self {
        Self {
            resolution: DEFAULT_RESOLUTION,
            window: None,
            category: None,
            source: None,
        }
    }
}

fn event_matches(
    f: &EventFacts,
    window: Option<Window>,
    category: Option<u8>,
    source: Option<u8>,
) -> bool {
    window.is_none_or(|w| w.contains(f.accepted_at))
        && category.is_none_or(|c| c == f.category)
        && source.is_none_or(|s| s == f.source)
}

pub struct HotspotResult {
    pub area: Arc<StudyArea>,
    pub report: HotspotReport,
    pub events: usize,
    pub outside: usize,
    /// ArcGIS default search radius of the quartic KDE for these events, metres of
    /// Web Mercator.
    pub kde_bandwidth_m: Option<f64>,
}

/// Web Mercator metres of a lon/lat point.
pub fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    let x = R * lon.to_radians();
    let y = R
        * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln();
    (x, y)
}

/// Gi* over the filtered events, uncached (the cached entry point is [`hotspots`]).
pub fn compute_hotspots(
    area: Arc<StudyArea>,
    events: &EventModels,
    q: HotspotQuery,
) -> Result<HotspotResult, ApiError> {
    let selected: Vec<(f64, f64)> = events
        .facts
        .iter()
        .zip(&events.points)
        .filter(|(f, _)| event_matches(f, q.window, q.category, q.source))
        .map(|(_, p)| *p)
        .collect();
    let counts = area.count_points(selected.iter().copied());
    let report = minqing_analysis::hotspot::gi_star(&area, &counts.counts)
        .map_err(|e| ApiError::Unprocessable(format!("hot spot analysis: {e}")))?;
    let projected: Vec<(f64, f64)> = selected.iter().map(|&(x, y)| mercator(x, y)).collect();
    let kde_bandwidth_m = minqing_analysis::kde::default_bandwidth(&projected, None);
    Ok(HotspotResult {
        area,
        report,
        events: selected.len(),
        outside: counts.outside + counts.invalid,
        kde_bandwidth_m,
    })
}

/// Gi* over the filtered events (cached per query, dropped when events change).
pub fn hotspots(state: &AppState, q: HotspotQuery) -> Result<Arc<HotspotResult>, ApiError> {
    hotspots_with(state, q, Priority::Request)
}

/// [`hotspots`], waiting for a computation with `priority`.
pub fn hotspots_with(
    state: &AppState,
    q: HotspotQuery,
    priority: Priority,
) -> Result<Arc<HotspotResult>, ApiError> {
    let ix = state.index()?;
    let an = &state.analysis;
    an.cached(
        |c| &mut c.hotspots,
        q,
        priority,
        || {
            let area = an.study_area(&ix, q.resolution)?;
            let events = an.events(state, &ix);
            Ok((events.generation(), compute_hotspots(area, &events, q)?))
        },
    )
}

/// One hexagon of the `hotspots` tile layer.
#[derive(Debug, Clone)]
pub struct HotspotCellFeature {
    pub cell: String,
    /// Closed ring of lon/lat vertices.
    pub boundary: Vec<(f64, f64)>,
    pub count: f64,
    pub gi_z: f64,
    /// Two-sided p-value of `gi_z` (before the FDR correction that decides `class`).
    pub p: f64,
    pub class: &'static str,
}

/// The `hotspots` tile layer: every cell of the default query (all events,
/// resolution 9) with its boundary, z and class.
pub fn hotspot_layer(state: &AppState) -> Result<Vec<HotspotCellFeature>, ApiError> {
    let r = hotspots_with(state, HotspotQuery::default(), Priority::TileFeed)?;
    Ok(r.report
        .cells
        .iter()
        .filter_map(|c| {
            let cell = h3o::CellIndex::try_from(c.cell).ok()?;
            let mut boundary: Vec<(f64, f64)> =
                cell.boundary().iter().map(|v| (v.lng(), v.lat())).collect();
            if let Some(&first) = boundary.first() {
                boundary.push(first);
            }
            Some(HotspotCellFeature {
                cell: cell.to_string(),
                boundary,
                count: c.count,
                gi_z: c.gi_z,
                p: c.p,
                class: c.class.as_str(),
            })
        })
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmergingQuery {
    pub step: Step,
    pub resolution: u8,
    pub window: Option<Window>,
    pub category: Option<u8>,
    pub source: Option<u8>,
}

pub struct EmergingResult {
    pub report: minqing_analysis::emerging::EmergingReport,
    /// Start of each step (unix seconds).
    pub step_starts: Vec<i64>,
    pub end: i64,
    pub events: usize,
}

/// Emerging hot spots, uncached (the cached entry point is [`emerging`]).
pub fn compute_emerging(
    area: &StudyArea,
    events: &EventModels,
    q: EmergingQuery,
) -> Result<EmergingResult, ApiError> {
    use minqing_analysis::efficiency::{add_months, cst_year_month, month_start, week_start};
    let (Some(first), Some(last)) = (events.first_at, events.last_at) else {
        return Err(ApiError::Unprocessable(
            "there are no events to analyse".into(),
        ));
    };
    let from = q.window.map_or(first, |w| w.from.max(first.min(w.to)));
    let to = q
        .window
        .map_or(last + 1, |w| w.to.min(last + 1).max(w.from + 1));
    let mut step_starts = Vec::new();
    match q.step {
        Step::Month => {
            let mut ym = cst_year_month(from);
            while month_start(ym) < to && step_starts.len() <= MAX_STEPS {
                step_starts.push(month_start(ym));
                ym = add_months(ym, 1);
            }
            step_starts.push(month_start(ym));
        }
        Step::Week => {
            let mut w = week_start(from);
            while w < to && step_starts.len() <= MAX_STEPS {
                step_starts.push(w);
                w += 7 * DAY;
            }
            step_starts.push(w);
        }
    }
    let end = step_starts.pop().unwrap_or(to);
    if step_starts.len() > MAX_STEPS {
        return Err(ApiError::BadRequest(format!(
            "the window has more than {MAX_STEPS} steps; choose a shorter window or monthly steps"
        )));
    }
    if step_starts.len() < 2 {
        return Err(ApiError::BadRequest(
            "the window must span at least two steps".into(),
        ));
    }
    let window = Window::new(from, to);
    let mut cube = vec![vec![0.0; area.len()]; step_starts.len()];
    let mut counted = 0;
    for (f, &(lon, lat)) in events.facts.iter().zip(&events.points) {
        if !event_matches(f, Some(window), q.category, q.source) {
            continue;
        }
        let t = step_starts.partition_point(|&s| s <= f.accepted_at);
        if t == 0 || f.accepted_at >= end {
            continue;
        }
        if let Some(c) = area.locate(lon, lat) {
            cube[t - 1][c] += 1.0;
            counted += 1;
        }
    }
    let report = minqing_analysis::emerging::analyse(area, &cube, &Default::default())
        .map_err(|e| ApiError::Unprocessable(format!("emerging hot spot analysis: {e}")))?;
    Ok(EmergingResult {
        report,
        step_starts,
        end,
        events: counted,
    })
}

/// Emerging hot spots over weekly or monthly steps (cached, dropped when events change).
pub fn emerging(state: &AppState, q: EmergingQuery) -> Result<Arc<EmergingResult>, ApiError> {
    let ix = state.index()?;
    let an = &state.analysis;
    an.cached(
        |c| &mut c.emerging,
        q,
        Priority::Request,
        || {
            let area = an.study_area(&ix, q.resolution)?;
            let events = an.events(state, &ix);
            Ok((events.generation(), compute_emerging(&area, &events, q)?))
        },
    )
}

/// Class name as the API spells it.
pub fn class_name(c: HotspotClass) -> &'static str {
    c.as_str()
}

// ---------------------------------------------------------------------------------
// Model 4: risk

/// `[analysis]` of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisSettings {
    pub risk: RiskSettings,
}

/// `[analysis.risk]`: the risk model's weights, tier thresholds and reference values.
///
/// ```toml
/// [analysis.risk.weights]     # relative; normalised to sum to 1
/// key_group_density = 0.25
/// repeat_disputes = 0.20
/// overdue_events = 0.15
/// unresolved_events = 0.15
/// petitions = 0.15
/// overcrowding = 0.10
///
/// [analysis.risk.tiers]       # absolute thresholds on the 0–100 score
/// medium = 40.0
/// large = 70.0
///
/// # Optional, per level: `weights` and `tiers` overriding the above, each factor's
/// # reference value (where it counts half) and the density denominator floor.
/// [analysis.risk.grid.references]
/// repeat_disputes = 3.0
/// [analysis.risk.building]
/// density_min_residents = 200
/// [analysis.risk.building.references]
/// petitions = 1.0
/// ```
///
/// Defaults are [`RiskConfig::grid`] and [`RiskConfig::building`]. A level's value
/// comes from its own table, else from `[analysis.risk]`, else the default.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskSettings {
    pub weights: FactorValues,
    pub tiers: TierValues,
    pub grid: RiskLevelSettings,
    pub building: RiskLevelSettings,
}

/// `[analysis.risk.grid]` or `[analysis.risk.building]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskLevelSettings {
    pub weights: FactorValues,
    pub tiers: TierValues,
    pub references: FactorValues,
    pub density_min_residents: Option<u32>,
}

/// One optional number per risk factor, by the factor's wire name.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactorValues {
    pub key_group_density: Option<f64>,
    pub repeat_disputes: Option<f64>,
    pub overdue_events: Option<f64>,
    pub unresolved_events: Option<f64>,
    pub petitions: Option<f64>,
    pub overcrowding: Option<f64>,
}

impl FactorValues {
    fn get(&self, f: minqing_analysis::risk::Factor) -> Option<f64> {
        use minqing_analysis::risk::Factor;
        match f {
            Factor::KeyGroupDensity => self.key_group_density,
            Factor::RepeatDisputes => self.repeat_disputes,
            Factor::OverdueEvents => self.overdue_events,
            Factor::UnresolvedEvents => self.unresolved_events,
            Factor::Petitions => self.petitions,
            Factor::Overcrowding => self.overcrowding,
        }
    }
}

/// Optional tier thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierValues {
    pub medium: Option<f64>,
    pub large: Option<f64>,
}

impl RiskSettings {
    /// The grid and the building configuration, or an error naming every bad value.
    pub fn resolve(&self) -> anyhow::Result<(RiskConfig, RiskConfig)> {
        use minqing_analysis::risk::{Factor, RiskConfigError};
        let mut problems = Vec::new();
        let mut level = |name: &str, mut c: RiskConfig, own: &RiskLevelSettings| {
            for f in Factor::ALL {
                let fc = c.factor_mut(f);
                if let Some(w) = own.weights.get(f).or(self.weights.get(f)) {
                    fc.weight = w;
                }
                if let Some(r) = own.references.get(f) {
                    fc.reference = r;
                }
            }
            if let Some(m) = own.tiers.medium.or(self.tiers.medium) {
                c.tiers.medium = m;
            }
            if let Some(l) = own.tiers.large.or(self.tiers.large) {
                c.tiers.large = l;
            }
            if let Some(d) = own.density_min_residents {
                c.density_min_residents = d;
            }
            for e in c.validate() {
                let got = match e {
                    RiskConfigError::Weight(f) => format!(" (got {})", c.factor(f).weight),
                    RiskConfigError::Reference(f) => format!(" (got {})", c.factor(f).reference),
                    RiskConfigError::NoWeight => String::new(),
                    RiskConfigError::Thresholds => {
                        format!(
                            " (got medium = {}, large = {})",
                            c.tiers.medium, c.tiers.large
                        )
                    }
                };
                problems.push(format!("{name}: {e}{got}"));
            }
            c
        };
        let grid = level("grid", RiskConfig::grid(), &self.grid);
        let building = level("building", RiskConfig::building(), &self.building);
        if !problems.is_empty() {
            anyhow::bail!("invalid [analysis.risk]: {}", problems.join("; "));
        }
        Ok((grid, building))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskLevel {
    Grid,
    Building,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RiskQuery {
    pub level: RiskLevel,
    pub area: u32,
    pub window: Option<Window>,
}

pub struct RiskUnit {
    /// Area index (grid level) or building index.
    pub unit: u32,
    pub inputs: RiskInputs,
    pub score: RiskScore,
}

pub struct RiskResult {
    pub window: Window,
    pub now: i64,
    /// Sorted by score, highest first.
    pub units: Vec<RiskUnit>,
}

pub fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Small => "small",
        Tier::Medium => "medium",
        Tier::Large => "large",
    }
}

/// The default risk window: the year up to the latest event (or now, if earlier).
fn default_risk_window(events: &EventModels, now: i64) -> Window {
    let end = events.last_at.map_or(now, |l| (l + 1).min(now));
    Window::new(end - 365 * DAY, end)
}

/// Risk scores of every grid or building of an area (cached, dropped when events change).
pub fn risk(state: &AppState, q: RiskQuery) -> Result<Arc<RiskResult>, ApiError> {
    risk_with(state, q, Priority::Request)
}

/// [`risk`], waiting for a computation with `priority`.
pub fn risk_with(
    state: &AppState,
    q: RiskQuery,
    priority: Priority,
) -> Result<Arc<RiskResult>, ApiError> {
    let ix = state.index()?;
    state
        .analysis
        .cached(|c| &mut c.risk, q, priority, || compute_risk(state, &ix, q))
}

/// Risk scores, uncached, with the generation of the events they read.
fn compute_risk(
    state: &AppState,
    ix: &Arc<Index>,
    q: RiskQuery,
) -> Result<(u64, RiskResult), ApiError> {
    use minqing_analysis::efficiency::category;
    let an = &state.analysis;
    let register = an.register(ix);
    let events = an.events(state, ix);
    let now = now();
    let window = q
        .window
        .unwrap_or_else(|| default_risk_window(&events, now));
    // Units of the level inside the area.
    let units: Vec<u32> = match q.level {
        RiskLevel::Grid => ix
            .areas
            .iter()
            .enumerate()
            .filter(|(i, a)| a.area.level == AreaLevel::Grid && grid_in_area(ix, *i as u32, q.area))
            .map(|(i, _)| i as u32)
            .collect(),
        RiskLevel::Building => ix
            .buildings
            .iter()
            .enumerate()
            .filter(|(_, b)| match b.grid {
                Some(g) => grid_in_area(ix, g, q.area),
                None => Some(q.area) == register.district,
            })
            .map(|(i, _)| i as u32)
            .collect(),
    };
    let mut inputs: HashMap<u32, RiskInputs> = units
        .iter()
        .map(|&u| {
            let (residents, key_group_persons, overcrowded_units) = match q.level {
                RiskLevel::Grid => {
                    let p = &register.area_population[u as usize];
                    (
                        p.residents,
                        p.key_group_persons,
                        register.area_overcrowded[u as usize],
                    )
                }
                RiskLevel::Building => {
                    let b = &ix.buildings[u as usize];
                    (
                        b.residents,
                        b.key_group_people,
                        register.building_overcrowded[u as usize],
                    )
                }
            };
            (
                u,
                RiskInputs {
                    residents,
                    key_group_persons,
                    overcrowded_units,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut dispute_addresses: HashMap<u32, Vec<u64>> = HashMap::new();
    for (i, f) in events.facts.iter().enumerate() {
        if !window.contains(f.accepted_at) {
            continue;
        }
        let unit = match q.level {
            RiskLevel::Grid => events.grid[i],
            RiskLevel::Building => events.building[i],
        };
        let Some(unit) = unit else { continue };
        let Some(inp) = inputs.get_mut(&unit) else {
            continue;
        };
        let closed = f.is_closed_at(now);
        if !closed {
            inp.unresolved_events += 1;
        }
        let late = match f.closed_at.filter(|_| closed) {
            Some(c) => c > f.deadline,
            None => f.deadline < now,
        };
        if late {
            inp.overdue_events += 1;
        }
        if f.category == category::PETITION {
            inp.petitions += 1;
        }
        if f.category == category::DISPUTE
            && let Some(a) = events.address[i]
        {
            dispute_addresses.entry(unit).or_default().push(a);
        }
    }
    for (unit, addrs) in &dispute_addresses {
        if let Some(inp) = inputs.get_mut(unit) {
            inp.repeat_dispute_addresses = minqing_analysis::risk::repeat_addresses(addrs, 2);
        }
    }
    let config = match q.level {
        RiskLevel::Grid => &an.risk_grid,
        RiskLevel::Building => &an.risk_building,
    };
    let mut scored: Vec<RiskUnit> = units
        .iter()
        .map(|&u| {
            let inputs = inputs[&u];
            RiskUnit {
                unit: u,
                inputs,
                score: minqing_analysis::risk::score(&inputs, config),
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .score
            .total_cmp(&a.score.score)
            .then(a.unit.cmp(&b.unit))
    });
    Ok((
        events.generation(),
        RiskResult {
            window,
            now,
            units: scored,
        },
    ))
}

/// The factors of one score as the API shows them: the key-group factor's `raw` and
/// `normalised` values are omitted when fewer than 5 key-group persons underlie them.
pub fn factors_json(unit: &RiskUnit) -> serde_json::Value {
    use minqing_analysis::risk::Factor;
    let suppressed = unit.inputs.key_group_persons < KEY_GROUP_MIN;
    unit.score
        .factors
        .iter()
        .map(|f| {
            let mut o = serde_json::Map::new();
            o.insert("factor".into(), f.factor.name().into());
            let hide = suppressed && f.factor == Factor::KeyGroupDensity;
            if hide {
                o.insert(
                    "suppressed".into(),
                    format!("fewer than {KEY_GROUP_MIN} key-group persons").into(),
                );
            } else {
                o.insert("raw".into(), f.raw.into());
                o.insert("normalised".into(), f.normalised.into());
            }
            o.insert("reference".into(), f.reference.into());
            o.insert("weight".into(), f.weight.into());
            o.insert("contribution".into(), f.contribution.into());
            serde_json::Value::Object(o)
        })
        .collect()
}

/// One feature of the `risk` tile layer.
#[derive(Debug, Clone)]
pub enum RiskGeometry {
    /// A grid's polygon.
    Polygon(geo_types::MultiPolygon<f64>),
    /// A building's point (lon, lat).
    Point(f64, f64),
}

#[derive(Debug, Clone)]
pub struct RiskFeature {
    pub code: String,
    pub geometry: RiskGeometry,
    pub score: f64,
    pub tier: &'static str,
}

/// The `risk` tile layer: every grid (polygons) or building (points) of the district
/// with its score and tier over the default window.
pub fn risk_layer(state: &AppState, level: RiskLevel) -> Result<Vec<RiskFeature>, ApiError> {
    let ix = state.index()?;
    let area = resolve_area(&ix, None)?;
    let r = risk(
        state,
        RiskQuery {
            level,
            area,
            window: None,
        },
    )?;
    Ok(r.units
        .iter()
        .map(|u| {
            let (code, geometry) = match level {
                RiskLevel::Grid => {
                    let a = &ix.areas[u.unit as usize];
                    (
                        a.area.code.clone(),
                        RiskGeometry::Polygon(a.area.geometry.clone()),
                    )
                }
                RiskLevel::Building => {
                    let b = &ix.buildings[u.unit as usize];
                    (b.code.clone(), RiskGeometry::Point(b.lon, b.lat))
                }
            };
            RiskFeature {
                code,
                geometry,
                score: u.score.score,
                tier: tier_name(u.score.tier),
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------
// Model 5: efficiency

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EfficiencyQuery {
    pub area: u32,
    pub window: Option<Window>,
}

fn category_name(c: u8) -> &'static str {
    CATEGORIES.get(usize::from(c)).copied().unwrap_or("unknown")
}

fn change_json(c: &minqing_analysis::efficiency::Change) -> serde_json::Value {
    serde_json::json!({
        "current": c.current,
        "previous": c.previous,
        "relative": json_opt_f(c.relative),
    })
}

fn comparison_json(c: &minqing_analysis::efficiency::Comparison) -> serde_json::Value {
    let by_category: serde_json::Map<String, serde_json::Value> = c
        .by_category
        .iter()
        .map(|cc| {
            (
                category_name(cc.category).to_string(),
                change_json(&cc.change),
            )
        })
        .collect();
    serde_json::json!({
        "current": {"from": format_date(c.current.from), "to": format_date(c.current.to - 1)},
        "previous": {"from": format_date(c.previous.from), "to": format_date(c.previous.to - 1)},
        "total": change_json(&c.total),
        "by_category": by_category,
    })
}

/// Model 5 for an area and window, as the API returns it (cached, dropped when
/// events change). The default window is the calendar year (CST) of the latest event.
pub fn efficiency(
    state: &AppState,
    q: EfficiencyQuery,
) -> Result<Arc<serde_json::Value>, ApiError> {
    let ix = state.index()?;
    state.analysis.cached(
        |c| &mut c.efficiency,
        q,
        Priority::Request,
        || compute_efficiency(state, &ix, q),
    )
}

/// Model 5's answer, uncached, with the generation of the events it read.
fn compute_efficiency(
    state: &AppState,
    ix: &Arc<Index>,
    q: EfficiencyQuery,
) -> Result<(u64, serde_json::Value), ApiError> {
    use minqing_analysis::efficiency as eff;
    let an = &state.analysis;
    let events = an.events(state, ix);
    let now = now();
    let window = q.window.unwrap_or_else(|| {
        let year = eff::cst_year_month(events.last_at.unwrap_or(now)).year;
        Window::year(year)
    });
    let in_area: Vec<&EventFacts> = events
        .facts
        .iter()
        .zip(&events.grid)
        .filter(|(_, g)| g.is_some_and(|g| grid_in_area(ix, g, q.area)))
        .map(|(f, _)| f)
        .collect();
    let report = eff::efficiency(in_area.iter().copied(), window, now);
    let workload: Vec<serde_json::Value> = report
        .workload
        .iter()
        .map(|w| {
            serde_json::json!({
                "grid": ix.areas.get(w.worker as usize).map(|a| a.area.code.clone()),
                "open": w.open,
                "handled": w.handled,
                "overdue_open": w.overdue_open,
            })
        })
        .collect();
    let by_category: Vec<serde_json::Value> = report
        .by_category
        .iter()
        .map(|c| {
            serde_json::json!({
                "category": category_name(c.category),
                "events": c.events,
                "closed": c.closed,
            })
        })
        .collect();
    let yoy = eff::compare(in_area.iter().copied(), window, window.year_before());
    // Month-on-month for the last month of the window.
    let last_month = eff::cst_year_month(window.to.min(now).max(window.from + 1) - 1);
    let mom = eff::month_on_month(in_area.iter().copied(), last_month);
    // Children of the area, each with its own year-on-year and month-on-month change.
    let by_area: Vec<serde_json::Value> = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.parent == Some(q.area))
        .map(|(child, a)| {
            let child = child as u32;
            let evs: Vec<&EventFacts> = in_area
                .iter()
                .copied()
                .filter(|f| f.area != u32::MAX && grid_in_area(ix, f.area, child))
                .collect();
            serde_json::json!({
                "code": a.area.code,
                "name": a.area.name,
                "year_on_year": comparison_json(&eff::compare(evs.iter().copied(), window, window.year_before())),
                "month_on_month": comparison_json(&eff::month_on_month(evs.iter().copied(), last_month)),
            })
        })
        .collect();
    // Anomalous weeks: weekly counts from 8 weeks before the window (the baseline).
    let config = eff::AnomalyConfig::default();
    let first_week = eff::week_start(window.from.max(events.first_at.unwrap_or(window.from)))
        - 7 * DAY * config.baseline_weeks as i64;
    let end = window.to.min(now);
    let weeks = (((end - first_week).max(0) + 7 * DAY - 1) / (7 * DAY)) as usize;
    let counts = eff::weekly_counts(in_area.iter().copied(), first_week, weeks);
    let tests = eff::anomalous_weeks(&counts, &config);
    let anomalous: Vec<serde_json::Value> = tests
        .iter()
        .filter(|t| t.anomalous)
        .map(|t| {
            serde_json::json!({
                "week": format_date(first_week + 7 * DAY * t.index as i64),
                "observed": t.observed,
                "baseline": t.baseline,
                "p": t.p_value,
                "p_adjusted": t.adjusted_p,
            })
        })
        .collect();
    let handling = report.handling.map(|h| {
        serde_json::json!({
            "count": h.count,
            "mean_hours": h.mean_hours,
            "median_hours": h.median_hours,
            "p90_hours": h.p90_hours,
        })
    });
    let area = &ix.areas[q.area as usize].area;
    let body = serde_json::json!({
        "area": {"code": area.code, "name": area.name, "level": area.level.as_str()},
        "window": {"from": format_date(window.from), "to": format_date(window.to - 1), "timezone": "UTC+8"},
        "now": now,
        "events": report.events,
        "closed": report.closed,
        "open": report.open,
        "closure_rate": json_opt_f(report.closure_rate),
        "by_category": by_category,
        "disputes": report.disputes,
        "disputes_closed": report.disputes_closed,
        "disputes_mediated": report.disputes_mediated,
        "disputes_diverted": report.disputes_diverted,
        "mediation_rate": json_opt_f(report.mediation_rate_of_disputes),
        "mediation_rate_of_closed": json_opt_f(report.mediation_rate_of_closed),
        "handling_time": handling,
        "overdue": {
            "total": report.overdue,
            "open_overdue": report.overdue_open,
            "closed_late": report.closed_late,
        },
        "workload": {
            "unit": "grid (the events carry no worker id; each grid's events are its worker's load)",
            "grids": workload,
            "unassigned": report.unassigned,
        },
        "year_on_year": comparison_json(&yoy),
        "month_on_month": comparison_json(&mom),
        "by_area": by_area,
        "anomalous_weeks": {
            "method": "Poisson upper tail against the mean of the previous 8 weeks (rate floored), Benjamini-Hochberg across the weeks tested, alpha 0.05",
            "tested": tests.len(),
            "weeks": anomalous,
        },
        "inconsistent": report.inconsistent,
    });
    Ok((events.generation(), body))
}

#[cfg(test)]
mod gate_tests {
    use super::{ComputeGate, Priority, lock};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// However many threads ask, no more than the limit are inside at once, and every
    /// one gets in eventually.
    #[test]
    fn the_gate_bounds_concurrent_computations() {
        for limit in [1, 3] {
            let gate = Arc::new(ComputeGate::new(limit));
            let inside = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..12)
                .map(|_| {
                    let (gate, inside, peak, done) =
                        (gate.clone(), inside.clone(), peak.clone(), done.clone());
                    std::thread::spawn(move || {
                        let _pass = gate.enter(Priority::Request);
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(done.load(Ordering::SeqCst), 12);
            let peak = peak.load(Ordering::SeqCst);
            assert!(peak <= limit, "{peak} inside a gate of {limit}");
            assert!(peak >= 1);
        }
    }

    /// A tile-feed computation waiting at a full gate goes in before the requests that
    /// were already waiting.
    #[test]
    fn the_tile_feed_goes_before_waiting_requests() {
        let gate = Arc::new(ComputeGate::new(1));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let held = gate.enter(Priority::Request);
        let spawn = |priority: Priority, name: &'static str| {
            let (gate, order) = (gate.clone(), order.clone());
            std::thread::spawn(move || {
                let _pass = gate.enter(priority);
                order.lock().unwrap().push(name);
            })
        };
        let requests: Vec<_> = (0..3)
            .map(|_| spawn(Priority::Request, "request"))
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let feed = spawn(Priority::TileFeed, "feed");
        // Release only once the feed is waiting.
        while lock(&gate.slots).feed_waiting == 0 {
            std::thread::yield_now();
        }
        drop(held);
        feed.join().unwrap();
        for r in requests {
            r.join().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order.len(), 4);
        assert_eq!(order[0], "feed", "{order:?}");
    }
}
