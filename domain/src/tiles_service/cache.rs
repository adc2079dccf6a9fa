//! The tile cache: rendered bytes keyed by (layers, z, x, y, filters), with a strong
//! content-hash ETag and a gzip copy made on first demand.
//!
//! Invalidation is precise: a changed event drops exactly the cached tiles whose content
//! can depend on its old or new position — at every zoom, vector tiles whose square grown
//! by the buffer plus one aggregation cell contains the point (a cell's centroid can sit
//! in the buffer while the point itself lies one cell further out), heat-map tiles whose
//! square grown by that zoom's kernel radius contains it — and, when an area's event
//! count changed, the `areas` tiles that draw that area at their zoom. A generation
//! counter stops a render that raced with an invalidation from caching stale bytes.
//! Above [`MAX_CACHE_BYTES`] the cache is emptied (simple and bounded; tiles are cheap
//! to render again).

use super::layers::BUFFER;
use super::prepared::{AGG_CELL, Prepared, Touched, area_level_for_zoom};
use bytes::Bytes;
use minqing_tiles::{EXTENT, TileId};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub const MAX_CACHE_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// Canonical layer list, or `heatmap`.
    pub kind: String,
    pub tile: TileId,
    pub filter: String,
}

pub struct Cached {
    /// Shared with every response that sends it (a clone is a reference count, not a
    /// copy of the tile).
    pub bytes: Bytes,
    /// The strong ETag of the uncompressed bytes, quoted (ASCII hex digits and a dash,
    /// so always a valid header value; shared, so sending it copies nothing).
    pub etag: Bytes,
    /// The same tag for the gzip variant (`…-gz`).
    pub etag_gzip: Bytes,
    gzip: OnceLock<Bytes>,
    tile: TileId,
    uses_events: bool,
    has_areas: bool,
    heatmap: bool,
}

impl Cached {
    pub fn new(
        bytes: Vec<u8>,
        tile: TileId,
        uses_events: bool,
        has_areas: bool,
        heatmap: bool,
    ) -> Cached {
        let tag = format!("{:016x}-{:x}", content_hash(&bytes), bytes.len());
        let header = |t: String| Bytes::from(t.into_bytes());
        Cached {
            bytes: Bytes::from(bytes),
            etag: header(format!("\"{tag}\"")),
            etag_gzip: header(format!("\"{tag}-gz\"")),
            gzip: OnceLock::new(),
            tile,
            uses_events,
            has_areas,
            heatmap,
        }
    }

    /// The gzip-compressed bytes (compressed once).
    pub fn gzipped(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(self.bytes.len() / 2 + 64),
                flate2::Compression::fast(),
            );
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(&self.bytes);
            Bytes::from(enc.finish().unwrap_or_default())
        })
    }

    fn size(&self) -> usize {
        self.bytes.len() + self.gzip.get().map_or(0, Bytes::len) + 128
    }

    /// Whether a change at these world points (or in these areas) can alter this tile.
    fn affected_by(&self, touched: &Touched, prepared: &Prepared) -> bool {
        let (u0, v0, u1, v1) = self.tile.bounds_world();
        let z = self.tile.z();
        if self.uses_events {
            let reach = if self.heatmap {
                prepared.heat.reach_world(z)
            } else {
                f64::from(BUFFER + AGG_CELL) / f64::from(EXTENT) / (1u64 << z) as f64
            };
            let hit = touched.points.iter().any(|&(u, v)| {
                u >= u0 - reach && u <= u1 + reach && v >= v0 - reach && v <= v1 + reach
            });
            if hit {
                return true;
            }
        }
        if self.has_areas && !touched.areas.is_empty() {
            let level = area_level_for_zoom(z);
            return touched.areas.iter().any(|&a| {
                let (a0, b0, a1, b1) = prepared.area_world_bbox[a as usize];
                prepared
                    .area_level(level)
                    .is_some_and(|l| l.area_ids.contains(&a))
                    && a1 >= u0
                    && a0 <= u1
                    && b1 >= v0
                    && b0 <= v1
            });
        }
        false
    }
}

/// A fast 64-bit content hash for the ETag (8 bytes per step; SipHash cost about 3% of
/// the uncached tile path). Not cryptographic: an ETag only has to change with the bytes.
fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut w = [0u8; 8];
    w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

pub struct TileCache {
    enabled: bool,
    map: RwLock<HashMap<CacheKey, Arc<Cached>>>,
    bytes: AtomicUsize,
    generation: AtomicU64,
}

impl TileCache {
    pub fn new(enabled: bool) -> TileCache {
        TileCache {
            enabled,
            map: RwLock::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Cached>> {
        if !self.enabled {
            return None;
        }
        self.map.read().get(key).cloned()
    }

    pub fn insert(&self, key: CacheKey, entry: Arc<Cached>, generation: u64) {
        if !self.enabled {
            return;
        }
        let mut map = self.map.write();
        // A change was applied while this tile rendered: it may be stale, do not keep it.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if self.bytes.load(Ordering::Relaxed) + entry.size() > MAX_CACHE_BYTES {
            map.clear();
            self.bytes.store(0, Ordering::Relaxed);
        }
        self.bytes.fetch_add(entry.size(), Ordering::Relaxed);
        map.insert(key, entry);
    }

    pub fn clear(&self) {
        let mut map = self.map.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// Drop every tile that includes one of `layers` (the analysis layers, whose content
    /// is global); returns how many were dropped.
    pub fn drop_layers(&self, layers: &[&str]) -> usize {
        let mut map = self.map.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        let before = map.len();
        let mut freed = 0;
        map.retain(|k, c| {
            let drop = k.kind.split(',').any(|l| layers.contains(&l));
            if drop {
                freed += c.size();
            }
            !drop
        });
        self.bytes.fetch_sub(
            freed.min(self.bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        before - map.len()
    }

    /// Drop the tiles a change touched; returns how many were dropped.
    pub fn invalidate(&self, touched: &Touched, prepared: &Prepared) -> usize {
        if touched.points.is_empty() && touched.areas.is_empty() {
            return 0;
        }
        let mut map = self.map.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        let before = map.len();
        let mut freed = 0;
        map.retain(|_, c| {
            let drop = c.affected_by(touched, prepared);
            if drop {
                freed += c.size();
            }
            !drop
        });
        self.bytes.fetch_sub(
            freed.min(self.bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        before - map.len()
    }
}
