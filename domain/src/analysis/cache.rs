//! [`Analysis`]: the models' inputs and results, cached per event generation (a
//! request at generation g takes any result of g or later), computed behind the gate.

use super::*;

/// One model's results, each with the event generation it was computed from.
pub(crate) type Results<Q, V> = HashMap<Q, (u64, Arc<V>)>;

#[derive(Default)]
pub(crate) struct ResultCaches {
    pub(crate) hotspots: Results<HotspotQuery, HotspotResult>,
    pub(crate) emerging: Results<EmergingQuery, EmergingResult>,
    pub(crate) risk: Results<RiskQuery, RiskResult>,
    pub(crate) efficiency: Results<EfficiencyQuery, Efficiency>,
}

/// The models' caches and configuration; one per [`App`].
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
    /// The application's clock (ages and "now" windows move with it).
    pub clock: crate::time::Clock,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> parking_lot::MutexGuard<'_, T> {
    m.lock()
}

/// The index's own id (not its address, which a later index may reuse).
pub(crate) fn index_id(ix: &Arc<Index>) -> usize {
    ix.id as usize
}

impl Analysis {
    pub fn new(
        changes: tokio::sync::broadcast::Receiver<Change>,
        clock: crate::time::Clock,
    ) -> Self {
        Self {
            clock,
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
    pub(crate) fn refresh(&self) -> u64 {
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
    pub(crate) fn cached<Q: Hash + Eq + Copy, V>(
        &self,
        results: fn(&mut ResultCaches) -> &mut Results<Q, V>,
        query: Q,
        priority: Priority,
        compute: impl FnOnce() -> Result<(u64, V), Error>,
    ) -> Result<Arc<V>, Error> {
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
        let reference = minqing_analysis::efficiency::cst_year_month(self.clock.now());
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
    pub fn events(&self, state: &App, ix: &Arc<Index>) -> Arc<EventModels> {
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
    pub fn study_area(&self, ix: &Arc<Index>, resolution: u8) -> Result<Arc<StudyArea>, Error> {
        let key = (index_id(ix), resolution);
        if let Some(a) = lock(&self.study_areas).get(&key) {
            return Ok(a.clone());
        }
        let district = ix
            .areas
            .iter()
            .find(|a| a.area.level == AreaLevel::District)
            .ok_or_else(|| Error::NotFound("no district polygon is loaded".into()))?;
        let res = h3o::Resolution::try_from(resolution)
            .map_err(|_| Error::Invalid(format!("invalid H3 resolution {resolution}")))?;
        let area = StudyArea::from_polygon(&district.area.geometry, res)
            .map_err(|e| Error::Unprocessable(format!("district study area: {e}")))?;
        let area = Arc::new(area);
        let mut cache = lock(&self.study_areas);
        cache.retain(|(id, _), _| *id == key.0);
        cache.insert(key, area.clone());
        Ok(area)
    }
}
