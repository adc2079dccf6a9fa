//! Vector tiles and heat-map tiles served from the in-memory index (never SQL per request).
//!
//! - [`layers`]: the registry (`areas`, `roads`, `buildings`, `enterprises`, `events`,
//!   `hotspots`, `risk`),
//!   what each carries at which zoom, and how aggregation takes over: point layers send
//!   individual points from z14 ([`prepared::POINT_MIN_ZOOM`]) and 128-unit cells from
//!   aggregation pyramids below; at point zooms a layer whose buffered tile holds more
//!   points than its share of the 20,000-feature budget (or its own cap, which keeps
//!   tiles under 500 KB) is clustered on the fly into 64-unit cells; and a tile that
//!   still encodes above 500 KB is rendered again with every point layer aggregated.
//! - [`prepared`]: load-time structures and the live event aggregates.
//! - [`basemap`]: the basemap's layers (`landuse`, `water`, `pois`) under the others.
//! - [`analysis_layers`]: the `hotspots` and `risk` layers, drawn from the analysis
//!   results (refreshed, and their cached tiles dropped, when the events changed).
//! - [`heat`]: kernel-density PNG tiles.
//! - [`cache`]: the tile cache and its precise invalidation.
//! - the endpoints are the HTTP crate's (`minqing-server`, `http::tiles`).
//!
//! Changes arrive on the state's change bus. The service drains its receiver at the
//! start of every tile request (so a request after `publish` always sees the change,
//! with no background task to race against); a lagging receiver rebuilds the event
//! aggregates and empties the cache.

pub mod analysis_layers;
pub mod basemap;
pub mod cache;
pub mod filters;
pub mod heat;

pub mod layers;
pub mod prepared;

use crate::Change;
use crate::index::{EventIndex, Index};
use cache::{CacheKey, Cached, TileCache};
use filters::{EventAudience, EventFilter};
use layers::{LayerSpec, MAX_FEATURES_PER_TILE, RenderCtx};
use minqing_tiles::{EncodeOptions, TileBuilder, TileId};
use parking_lot::{Mutex, RwLock};
use prepared::{LiveEvents, Prepared, Touched};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Largest tile we send.
pub const MAX_TILE_BYTES: usize = 500 * 1024;

struct Loaded {
    prepared: Arc<Prepared>,
    index: Arc<Index>,
}

pub struct TileService {
    loaded: RwLock<Option<Loaded>>,
    live: RwLock<Option<LiveEvents>>,
    changes: Mutex<broadcast::Receiver<Change>>,
    pub(crate) cache: TileCache,
}

/// A rendered tile: bytes (empty for an empty tile) and the layers that went in.
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub features: usize,
}

impl TileService {
    /// `cache_enabled` is false when `MINQING_TILE_CACHE=off` (the benchmark's uncached path).
    pub fn new(changes: broadcast::Receiver<Change>) -> TileService {
        let cache_enabled = !std::env::var("MINQING_TILE_CACHE")
            .is_ok_and(|v| v.eq_ignore_ascii_case("off") || v == "0");
        TileService {
            loaded: RwLock::new(None),
            live: RwLock::new(None),
            changes: Mutex::new(changes),
            cache: TileCache::new(cache_enabled),
        }
    }

    /// Build the derived structures for a freshly loaded index.
    pub fn load(&self, index: Arc<Index>, events: &EventIndex) {
        let started = std::time::Instant::now();
        let prepared = Arc::new(Prepared::build(&index, events));
        let live = LiveEvents::build(events, &prepared, &index);
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "tile structures built"
        );
        // Changes published before this load are already in `events`.
        {
            let mut rx = self.changes.lock();
            *rx = rx.resubscribe();
        }
        *self.live.write() = Some(live);
        *self.loaded.write() = Some(Loaded { prepared, index });
        self.cache.clear();
    }

    /// Take an index whose record links changed (a review resolution): the counting
    /// structures are rebuilt (the area polygons are shared with the current ones) and
    /// every cached tile is dropped, since any tile may show the moved counts.
    pub fn relink(&self, index: Arc<Index>, events: &EventIndex) {
        let Some((current, _)) = self.loaded() else {
            self.load(index, events);
            return;
        };
        let prepared = Arc::new(current.relinked(&index, events));
        let live = LiveEvents::build(events, &prepared, &index);
        {
            let mut rx = self.changes.lock();
            *rx = rx.resubscribe();
        }
        *self.live.write() = Some(live);
        *self.loaded.write() = Some(Loaded { prepared, index });
        self.cache.clear();
    }

    fn loaded(&self) -> Option<(Arc<Prepared>, Arc<Index>)> {
        self.loaded
            .read()
            .as_ref()
            .map(|l| (l.prepared.clone(), l.index.clone()))
    }

    /// Number of cached tiles (for tests and metrics).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    pub fn prepared(&self) -> Option<Arc<Prepared>> {
        self.loaded().map(|(p, _)| p)
    }

    /// Apply every pending change: update the event aggregates and drop exactly the
    /// cached tiles whose content changed.
    pub fn sync(&self, events: &RwLock<EventIndex>) {
        let mut rx = self.changes.lock();
        loop {
            match rx.try_recv() {
                Ok(Change::Event { code, .. }) => {
                    let Some((prepared, index)) = self.loaded() else {
                        continue;
                    };
                    let touched = {
                        let ev = events.read();
                        let mut live = self.live.write();
                        match live.as_mut() {
                            Some(l) => l.apply(&code, ev.get(&code), &prepared, &index),
                            None => Touched::default(),
                        }
                    };
                    self.cache.invalidate(&touched, &prepared);
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    // Too many changes to replay one by one: rebuild from the index.
                    if let Some((prepared, index)) = self.loaded() {
                        let ev = events.read();
                        *self.live.write() = Some(LiveEvents::build(&ev, &prepared, &index));
                    }
                    self.cache.clear();
                }
                Err(_) => break,
            }
        }
    }

    /// A vector tile of `layers` (already validated), from the cache or rendered.
    pub fn vector_tile(
        &self,
        layers: &[&'static LayerSpec],
        tile: TileId,
        filter: &EventFilter,
        audience: &EventAudience,
        events: &RwLock<EventIndex>,
    ) -> anyhow::Result<Arc<Cached>> {
        self.sync(events);
        let uses_events = layers.iter().any(|l| l.uses_events);
        let mut filter_key = if uses_events {
            filter.cache_key()
        } else {
            String::new()
        };
        // The patrols layer changes with logged patrols: key it on the forces' generation.
        if layers.iter().any(|l| l.id == "patrols")
            && let Some(l) = self.loaded.read().as_ref()
        {
            filter_key.push_str(&format!("|patrols{}", l.index.forces.read().generation));
        }
        // Only the events layer and the risk layer's building points differ per
        // audience: everyone shares the rest.
        let per_audience = |l: &&LayerSpec| {
            l.id == "events" || (l.id == "risk" && tile.z() >= analysis_layers::RISK_POINT_MIN_ZOOM)
        };
        if layers.iter().any(per_audience) {
            filter_key.push('|');
            filter_key.push_str(&audience.cache_key());
        }
        let key = CacheKey {
            kind: layers.iter().map(|l| l.id).collect::<Vec<_>>().join(","),
            tile,
            // Filters only matter to layers that read events: share the rest.
            filter: filter_key,
        };
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let rendered = self.render_vector(layers, tile, filter, audience, events)?;
        let entry = Arc::new(Cached::new(
            rendered.bytes,
            tile,
            uses_events,
            layers.iter().any(|l| l.id == "areas"),
            false,
        ));
        self.cache.insert(key, entry.clone(), generation);
        Ok(entry)
    }

    /// Render without the cache.
    pub fn render_vector(
        &self,
        layers: &[&'static LayerSpec],
        tile: TileId,
        filter: &EventFilter,
        audience: &EventAudience,
        events: &RwLock<EventIndex>,
    ) -> anyhow::Result<Rendered> {
        let (prepared, index) = self
            .loaded()
            .ok_or_else(|| anyhow::anyhow!("tiles requested before the index loaded"))?;
        let ev = events.read();
        let live_guard = self.live.read();
        let live = live_guard
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("event aggregates missing"))?;
        let share = MAX_FEATURES_PER_TILE / layers.len().max(1);
        let mut force_aggregate = false;
        loop {
            let mut builder = TileBuilder::new(
                tile,
                EncodeOptions {
                    buffer: layers::BUFFER,
                    max_features_per_layer: share,
                },
            );
            for spec in layers {
                if tile.z() < spec.minzoom || tile.z() > spec.maxzoom {
                    continue;
                }
                let ctx = RenderCtx {
                    tile,
                    index: &index,
                    prepared: &prepared,
                    live,
                    events: &ev,
                    filter,
                    audience,
                    budget: share.min(spec.max_points),
                    force_aggregate,
                };
                (spec.render)(&ctx, builder.layer(spec.id))?;
            }
            let encoded = builder.finish()?;
            if encoded.bytes.len() > MAX_TILE_BYTES && !force_aggregate {
                force_aggregate = true;
                continue;
            }
            return Ok(Rendered {
                features: encoded.feature_count(),
                bytes: encoded.bytes,
            });
        }
    }

    /// A heat-map tile, from the cache or rendered.
    pub fn heatmap_tile(
        &self,
        tile: TileId,
        filter: &EventFilter,
        events: &RwLock<EventIndex>,
    ) -> anyhow::Result<Arc<Cached>> {
        self.sync(events);
        let key = CacheKey {
            kind: "heatmap".into(),
            tile,
            filter: filter.cache_key(),
        };
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let prepared = self
            .prepared()
            .ok_or_else(|| anyhow::anyhow!("tiles requested before the index loaded"))?;
        let png = {
            let ev = events.read();
            heat::render(tile, &ev, filter, &prepared.heat)?
        };
        let entry = Arc::new(Cached::new(png, tile, true, false, true));
        self.cache.insert(key, entry.clone(), generation);
        Ok(entry)
    }
}
