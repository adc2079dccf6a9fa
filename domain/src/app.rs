//! [`App`]: the one shared state every entry point works on — the HTTP handlers, Open311,
//! the replica follower, the CLI and the benchmarks. It owns the store, the in-memory
//! index, the change bus and the services subscribed to it.

use crate::error::{Error, Result};
use crate::index::{EventIndex, Index};
use crate::store::Store;
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::sync::Arc;

/// A change to derived state, published after the store committed it. Tile caches,
/// model caches and the live feed subscribe to these.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An event was created or changed; `before` is its point before the change, if it
    /// existed.
    Event {
        code: String,
        lon: f64,
        lat: f64,
        before: Option<(f64, f64)>,
    },
}

/// Shared state of the whole application. Cloning is cheap (reference counts).
#[derive(Clone)]
pub struct App {
    pub store: Store,
    index: Arc<RwLock<Option<Arc<Index>>>>,
    events: Arc<RwLock<EventIndex>>,
    changes: tokio::sync::broadcast::Sender<Change>,
    /// Vector and heat-map tiles with their cache (subscribed to `changes`).
    pub tiles: Arc<crate::tiles_service::TileService>,
    /// The analysis models' caches (see `crate::analysis`).
    pub analysis: Arc<crate::analysis::Analysis>,
    /// Handling deadlines per category and risk tier (configuration; defaults = generator's).
    pub deadlines: Arc<crate::events::Deadlines>,
    auth: Arc<crate::auth::AuthState>,
    /// The clock every "now" of this state reads (a fixed one in tests).
    pub clock: crate::time::Clock,
    /// Serialises review relinks (each copies the current index and swaps it in).
    relink: Arc<Mutex<()>>,
    /// The configured outside basemap and its checked origins (none by default).
    pub outside_basemap: Option<Arc<(crate::config::OutsideBasemap, Vec<String>)>>,
}

impl App {
    /// A state whose index is still loading ([`Self::index`] is [`Error::Loading`] until
    /// [`Self::set_index`]).
    pub fn new(store: Store) -> Self {
        let changes = tokio::sync::broadcast::channel(4096).0;
        let clock = crate::time::Clock::system();
        Self {
            store,
            index: Arc::new(RwLock::new(None)),
            events: Arc::new(RwLock::new(EventIndex::default())),
            tiles: Arc::new(crate::tiles_service::TileService::new(changes.subscribe())),
            analysis: Arc::new(crate::analysis::Analysis::new(
                changes.subscribe(),
                clock.clone(),
            )),
            changes,
            deadlines: Arc::new(crate::events::Deadlines::default()),
            auth: Arc::new(crate::auth::AuthState::new(clock.clone())),
            clock,
            relink: Arc::new(Mutex::new(())),
            outside_basemap: None,
        }
    }

    /// Draw a configured outside basemap under the views' own layers (checked here: a
    /// bad tile URL is refused at start).
    pub fn with_outside_basemap(
        mut self,
        basemap: Option<crate::config::OutsideBasemap>,
    ) -> anyhow::Result<Self> {
        self.outside_basemap = match basemap {
            Some(b) => {
                let origins = b.origins()?;
                Some(Arc::new((b, origins)))
            }
            None => None,
        };
        Ok(self)
    }

    /// Use configured deadlines instead of the defaults.
    pub fn with_deadlines(mut self, deadlines: crate::events::Deadlines) -> Self {
        self.deadlines = Arc::new(deadlines);
        self
    }

    /// Use configured risk weights, references and tier thresholds (see
    /// [`crate::analysis::RiskSettings::resolve`]) instead of the defaults.
    pub fn with_risk(
        mut self,
        grid: minqing_analysis::risk::RiskConfig,
        building: minqing_analysis::risk::RiskConfig,
    ) -> Self {
        self.analysis = Arc::new(
            crate::analysis::Analysis::new(self.changes.subscribe(), self.clock.clone())
                .with_risk(grid, building),
        );
        self
    }

    pub fn set_index(&self, (index, events): (Index, EventIndex)) {
        publish_index_gauges(&index, events.len());
        let index = Arc::new(index);
        self.tiles.load(index.clone(), &events);
        *self.events.write() = events;
        *self.index.write() = Some(index);
    }

    /// Apply a committed change of one record's link to the in-memory state at once: a
    /// copy of the index with the counts moved, the tiles' counting structures, and the
    /// analysis caches. Blocking work (copies the index): call from a blocking thread.
    pub fn relink(&self, change: &crate::index::Relink) {
        let _serial = self.relink.lock();
        let Ok(current) = self.index() else {
            // Still loading: the load reads the store, which has the change.
            return;
        };
        let next = Arc::new(current.relinked(change));
        {
            let events = self.events();
            publish_index_gauges(&next, events.len());
            self.tiles.relink(next.clone(), &events);
        }
        *self.index.write() = Some(next);
        self.analysis.invalidate();
    }

    /// Put a new address register in the index (the alias table changed): a copy of the
    /// index sharing everything else, swapped in under the relink lock so neither edit
    /// loses the other. Nothing derived from the index depends on the register's alias
    /// table, so the tiles and analysis caches stay.
    pub fn set_register(&self, register: Arc<minqing_address::Register>) {
        let _serial = self.relink.lock();
        let Ok(current) = self.index() else {
            // Still loading: the load reads the store, which has the table.
            return;
        };
        let mut next = (*current).clone();
        next.register = register;
        *self.index.write() = Some(Arc::new(next));
    }

    /// The loaded register index, or [`Error::Loading`].
    pub fn index(&self) -> Result<Arc<Index>> {
        self.index.read().clone().ok_or(Error::Loading)
    }

    /// Read the events (a short lock: never hold it across an await).
    pub fn events(&self) -> RwLockReadGuard<'_, EventIndex> {
        self.events.read()
    }

    /// The event lock itself, for services that take their own short read locks.
    pub fn events_lock(&self) -> &RwLock<EventIndex> {
        &self.events
    }

    /// Write the events, after the store committed the change.
    pub fn events_mut(&self) -> RwLockWriteGuard<'_, EventIndex> {
        self.events.write()
    }

    /// Publish a committed change to every subscriber.
    pub fn publish(&self, change: Change) {
        // No subscriber is fine: nothing derived needs refreshing.
        let _ = self.changes.send(change);
    }

    /// Publish the register's size to the metrics facade again (after an exporter was
    /// installed); nothing while loading.
    pub fn publish_gauges(&self) {
        if let Ok(ix) = self.index() {
            publish_index_gauges(&ix, self.events().len());
        }
    }

    /// Sessions, the failed-login limiter and the session settings of this state.
    pub fn auth(&self) -> &crate::auth::AuthState {
        &self.auth
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

/// The register's size on `/metrics` (through the `metrics` facade; the HTTP crate
/// installs the exporter).
fn publish_index_gauges(ix: &Index, events: usize) {
    metrics::gauge!("minqing_building_addresses").set(ix.buildings.len() as f64);
    metrics::gauge!("minqing_unit_addresses").set(ix.unit_count as f64);
    metrics::gauge!("minqing_residents").set(ix.people.len() as f64);
    metrics::gauge!("minqing_enterprises").set(ix.enterprises.len() as f64);
    metrics::gauge!("minqing_events").set(events as f64);
}
