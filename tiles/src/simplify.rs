//! Zoom-dependent generalisation that keeps shared area boundaries identical.
//!
//! The district's township, community and grid polygons tile the plane. Simplifying each
//! polygon on its own would move a shared boundary differently on its two sides and open
//! slivers and gaps. Instead [`Topology::build`] decomposes all rings, once, into
//! **arcs**: maximal runs of boundary between *nodes*. A vertex is a node when its number
//! of distinct neighbouring vertices is not two (three or more polygons meet, or a
//! boundary ends), or when the set of rings using the edge before it differs from the set
//! using the edge after it (the neighbour changes). Every arc is stored **once**, in a
//! canonical direction; each ring is a list of references `(arc, reversed)`.
//!
//! [`Topology::generalize`] then, per zoom, quantises every vertex to that zoom's global
//! integer grid ([`crate::tile::world_to_grid`]), simplifies each arc once with
//! Douglas–Peucker (end points fixed, tolerance in tile units) and reassembles rings from
//! the simplified arcs. Two polygons that share a boundary reference the same arc, so
//! their simplified boundaries are the same vertex sequence *by construction* — not by a
//! property of the simplifier — and the partition stays gap- and overlap-free along shared
//! arcs. Nodes never move except by grid quantisation, which is a pure function of the
//! vertex.
//!
//! Vertices are identified by exact equality of their input coordinates. Data whose
//! neighbours share vertices only approximately are not topologically clean and need
//! snapping before they are given to this module. Douglas–Peucker may still create
//! self-intersections on a single ring at coarse tolerances; rings that collapse to fewer
//! than three distinct points or zero area are dropped (a polygon whose exterior
//! collapses disappears at that zoom, together with any hole that shares its arc).

use std::collections::HashMap;

use geo_types::{Coord, LineString, MultiPolygon, Polygon};

use crate::clip::{ClipBox, clip_ring, ring_area2};
use crate::projection::lonlat_to_world;
use crate::tile::{EXTENT, TileId, world_to_grid};

type P = (i64, i64);

/// Removes consecutive repeated points (typically created by quantisation).
pub fn dedup_consecutive<T: PartialEq + Copy>(points: &mut Vec<T>) {
    points.dedup();
}

/// Douglas–Peucker on an integer polyline; end points are always kept. `tolerance` is a
/// distance in the polyline's units (tile units); `≤ 0` only removes repeated points.
pub fn simplify_line(points: &[Coord<i64>], tolerance: f64) -> Vec<Coord<i64>> {
    let mut pts: Vec<P> = points.iter().map(|c| (c.x, c.y)).collect();
    pts.dedup();
    douglas_peucker(&pts, tolerance)
        .into_iter()
        .map(|(x, y)| Coord { x, y })
        .collect()
}

fn seg_dist2(p: P, a: P, b: P) -> f64 {
    let (px, py) = (p.0 as f64, p.1 as f64);
    let (ax, ay) = (a.0 as f64, a.1 as f64);
    let (dx, dy) = (b.0 as f64 - ax, b.1 as f64 - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (ax + t * dx - px, ay + t * dy - py);
    ex * ex + ey * ey
}

/// Douglas–Peucker keeping both ends. When the ends coincide (closed arcs) the farthest
/// vertex becomes an extra anchor, so a loop never collapses for lack of a baseline.
fn douglas_peucker(pts: &[P], tolerance: f64) -> Vec<P> {
    let n = pts.len();
    if n <= 2 || tolerance.is_nan() || tolerance <= 0.0 {
        return pts.to_vec();
    }
    let tol2 = tolerance * tolerance;
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let mut stack = Vec::new();
    if pts[0] == pts[n - 1] {
        let far = (1..n - 1)
            .max_by(|&i, &j| {
                seg_dist2(pts[i], pts[0], pts[0]).total_cmp(&seg_dist2(pts[j], pts[0], pts[0]))
            })
            .unwrap_or(0);
        keep[far] = true;
        stack.push((0, far));
        stack.push((far, n - 1));
    } else {
        stack.push((0, n - 1));
    }
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let mut best = (0.0f64, a);
        for (i, &p) in pts.iter().enumerate().take(b).skip(a + 1) {
            let d = seg_dist2(p, pts[a], pts[b]);
            if d > best.0 {
                best = (d, i);
            }
        }
        if best.0 > tol2 {
            keep[best.1] = true;
            stack.push((a, best.1));
            stack.push((best.1, b));
        }
    }
    pts.iter()
        .zip(keep)
        .filter_map(|(&p, k)| k.then_some(p))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ArcRef {
    arc: u32,
    reversed: bool,
}

/// Counters describing what [`Topology::build`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopologyStats {
    /// Input features (multipolygons).
    pub features: usize,
    /// Rings kept.
    pub rings: usize,
    /// Distinct vertices.
    pub vertices: usize,
    /// Distinct arcs.
    pub arcs: usize,
    /// Arcs referenced by two or more rings (shared boundaries).
    pub shared_arcs: usize,
    /// Rings dropped because they had fewer than three distinct vertices.
    pub degenerate_rings: usize,
    /// Coordinates dropped because they were NaN or infinite.
    pub non_finite_coords: usize,
}

/// Shared-boundary decomposition of a set of lon/lat multipolygons; build once at load.
#[derive(Debug, Clone)]
pub struct Topology {
    /// World units of each distinct vertex.
    vertices: Vec<(f64, f64)>,
    /// Vertex-id sequences, canonical direction.
    arcs: Vec<Vec<u32>>,
    /// feature → polygon part → ring (exterior first) → arc references.
    features: Vec<Vec<Vec<Vec<ArcRef>>>>,
    stats: TopologyStats,
}

impl Topology {
    /// Decomposes the features (lon/lat degrees) into shared arcs. Never fails: bad
    /// coordinates and degenerate rings are skipped and counted in [`Topology::stats`].
    pub fn build(features: &[MultiPolygon<f64>]) -> Topology {
        let mut stats = TopologyStats {
            features: features.len(),
            ..TopologyStats::default()
        };
        let mut ids: HashMap<(u64, u64), u32> = HashMap::new();
        let mut vertices: Vec<(f64, f64)> = Vec::new();
        // feature → part → ring → vertex ids (open ring).
        let mut rings_by_feature: Vec<Vec<Vec<Vec<u32>>>> = Vec::with_capacity(features.len());
        for mp in features {
            let mut parts = Vec::with_capacity(mp.0.len());
            for poly in &mp.0 {
                let mut rings = Vec::new();
                for (k, ring) in std::iter::once(poly.exterior())
                    .chain(poly.interiors())
                    .enumerate()
                {
                    let mut r: Vec<u32> = Vec::with_capacity(ring.0.len());
                    for c in &ring.0 {
                        if !c.x.is_finite() || !c.y.is_finite() {
                            stats.non_finite_coords += 1;
                            continue;
                        }
                        // -0.0 and 0.0 are the same place.
                        let key = ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits());
                        let id = *ids.entry(key).or_insert_with(|| {
                            vertices.push(lonlat_to_world(c.x, c.y));
                            (vertices.len() - 1) as u32
                        });
                        r.push(id);
                    }
                    r.dedup();
                    while r.len() > 1 && r.first() == r.last() {
                        r.pop();
                    }
                    if r.len() < 3 {
                        stats.degenerate_rings += 1;
                        if k == 0 {
                            // Without an exterior the holes mean nothing.
                            break;
                        }
                        continue;
                    }
                    rings.push(r);
                }
                if !rings.is_empty() {
                    parts.push(rings);
                }
            }
            rings_by_feature.push(parts);
        }

        // Edge → rings using it, and vertex degree (distinct neighbours).
        let mut edge_users: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        let mut ring_no = 0u32;
        for parts in &rings_by_feature {
            for rings in parts {
                for r in rings {
                    for i in 0..r.len() {
                        let (a, b) = (r[i], r[(i + 1) % r.len()]);
                        let users = edge_users.entry((a.min(b), a.max(b))).or_default();
                        if users.last() != Some(&ring_no) {
                            users.push(ring_no);
                        }
                    }
                    ring_no += 1;
                }
            }
        }
        for users in edge_users.values_mut() {
            users.sort_unstable();
            users.dedup();
        }
        let mut degree = vec![0u32; vertices.len()];
        for &(a, b) in edge_users.keys() {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        let users_of = |a: u32, b: u32| edge_users.get(&(a.min(b), a.max(b)));

        let mut arc_ids: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut arcs: Vec<Vec<u32>> = Vec::new();
        let mut use_count: Vec<u32> = Vec::new();
        let mut intern = |seq: Vec<u32>| -> ArcRef {
            let rev: Vec<u32> = seq.iter().rev().copied().collect();
            let (key, reversed) = if rev < seq { (rev, true) } else { (seq, false) };
            let next = arcs.len() as u32;
            let arc = *arc_ids.entry(key.clone()).or_insert_with(|| {
                arcs.push(key);
                use_count.push(0);
                next
            });
            use_count[arc as usize] += 1;
            ArcRef { arc, reversed }
        };

        let mut out_features = Vec::with_capacity(rings_by_feature.len());
        for parts in rings_by_feature {
            let mut out_parts = Vec::with_capacity(parts.len());
            for rings in parts {
                let mut out_rings = Vec::with_capacity(rings.len());
                for r in rings {
                    stats.rings += 1;
                    let n = r.len();
                    let is_node = |i: usize| {
                        let v = r[i];
                        let prev = r[(i + n - 1) % n];
                        let next = r[(i + 1) % n];
                        degree[v as usize] != 2 || users_of(prev, v) != users_of(v, next)
                    };
                    let nodes: Vec<usize> = (0..n).filter(|&i| is_node(i)).collect();
                    let mut refs = Vec::new();
                    if nodes.is_empty() {
                        // A ring without nodes (an island, or the hole around one) is a
                        // closed arc; starting at its smallest vertex id makes both users
                        // produce the same sequence up to direction, and `intern` picks the direction.
                        let start = (0..n).min_by_key(|&i| r[i]).unwrap_or(0);
                        let seq: Vec<u32> = (0..=n).map(|k| r[(start + k) % n]).collect();
                        refs.push(intern(seq));
                    } else {
                        for (j, &s) in nodes.iter().enumerate() {
                            let e = nodes[(j + 1) % nodes.len()];
                            let len = if e > s { e - s } else { e + n - s };
                            let seq: Vec<u32> = (0..=len).map(|k| r[(s + k) % n]).collect();
                            refs.push(intern(seq));
                        }
                    }
                    out_rings.push(refs);
                }
                out_parts.push(out_rings);
            }
            out_features.push(out_parts);
        }
        stats.vertices = vertices.len();
        stats.arcs = arcs.len();
        stats.shared_arcs = use_count.iter().filter(|&&c| c >= 2).count();
        Topology {
            vertices,
            arcs,
            features: out_features,
            stats,
        }
    }

    /// What the build saw.
    pub fn stats(&self) -> TopologyStats {
        self.stats
    }

    /// Number of input features (same order as given to [`Topology::build`]).
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Quantises to zoom `z`'s global grid and simplifies every arc once with
    /// `tolerance` tile units (e.g. 1.0; `0.0` keeps every vertex that survives
    /// quantisation). The server builds this once per zoom and caches it.
    pub fn generalize(&self, z: u8, tolerance: f64) -> Generalized {
        let grid: Vec<P> = self
            .vertices
            .iter()
            // Vertices come from finite lon/lat, so world_to_grid cannot fail.
            .map(|&(u, v)| world_to_grid(u, v, z).unwrap_or((0, 0)))
            .collect();
        let arcs: Vec<Vec<P>> = self
            .arcs
            .iter()
            .map(|ids| {
                let mut pts: Vec<P> = ids.iter().map(|&i| grid[i as usize]).collect();
                pts.dedup();
                douglas_peucker(&pts, tolerance)
            })
            .collect();
        let mut features = Vec::with_capacity(self.features.len());
        let mut vertex_count = 0usize;
        for parts in &self.features {
            let mut polys = Vec::new();
            for rings in parts {
                let mut out: Vec<Vec<P>> = Vec::new();
                for (k, refs) in rings.iter().enumerate() {
                    let mut ring: Vec<P> = Vec::new();
                    for r in refs {
                        let arc = &arcs[r.arc as usize];
                        if r.reversed {
                            ring.extend(arc.iter().rev());
                        } else {
                            ring.extend(arc.iter());
                        }
                    }
                    ring.dedup();
                    while ring.len() > 1 && ring.first() == ring.last() {
                        ring.pop();
                    }
                    let cs: Vec<Coord<i64>> = ring.iter().map(|&(x, y)| Coord { x, y }).collect();
                    if cs.len() < 3 || ring_area2(&cs) == 0 {
                        if k == 0 {
                            break;
                        }
                        continue;
                    }
                    out.push(ring);
                }
                if out.is_empty() {
                    continue;
                }
                vertex_count += out.iter().map(Vec::len).sum::<usize>();
                polys.push(out);
            }
            let bbox = polys.iter().flat_map(|p| p[0].iter()).fold(
                None,
                |acc: Option<(P, P)>, &(x, y)| {
                    Some(match acc {
                        None => ((x, y), (x, y)),
                        Some((lo, hi)) => ((lo.0.min(x), lo.1.min(y)), (hi.0.max(x), hi.1.max(y))),
                    })
                },
            );
            features.push(GenFeature { polys, bbox });
        }
        Generalized {
            z,
            features,
            vertex_count,
        }
    }
}

#[derive(Debug, Clone)]
struct GenFeature {
    /// polygon → rings (exterior first), open rings on the global grid.
    polys: Vec<Vec<Vec<P>>>,
    bbox: Option<(P, P)>,
}

/// The features simplified for one zoom, on that zoom's global integer grid.
#[derive(Debug, Clone)]
pub struct Generalized {
    z: u8,
    features: Vec<GenFeature>,
    vertex_count: usize,
}

impl Generalized {
    /// Zoom this was built for.
    pub fn zoom(&self) -> u8 {
        self.z
    }

    /// Total vertices kept (for diagnostics: compare across tolerances).
    pub fn vertex_count(&self) -> usize {
        self.vertex_count
    }

    /// Feature `i` (input order) on the global grid of this zoom, rings closed.
    /// Empty when the feature vanished at this zoom or `i` is out of range.
    pub fn feature_grid(&self, i: usize) -> MultiPolygon<i64> {
        let Some(f) = self.features.get(i) else {
            return MultiPolygon::new(Vec::new());
        };
        MultiPolygon::new(
            f.polys
                .iter()
                .map(|rings| {
                    let mut ls = rings
                        .iter()
                        .map(|r| LineString::new(r.iter().map(|&(x, y)| Coord { x, y }).collect()));
                    let ext = ls.next().unwrap_or_else(|| LineString::new(Vec::new()));
                    Polygon::new(ext, ls.collect())
                })
                .collect(),
        )
    }

    /// The features touching `tile` (which must be at this zoom; other zooms give an
    /// empty result), translated to tile-local coordinates and clipped to the tile plus
    /// `buffer` units. Returns `(feature index, geometry)` in input order.
    pub fn tile_features(&self, tile: TileId, buffer: u32) -> Vec<(usize, MultiPolygon<i32>)> {
        if tile.z() != self.z {
            return Vec::new();
        }
        let ox = i64::from(tile.x()) * i64::from(EXTENT);
        let oy = i64::from(tile.y()) * i64::from(EXTENT);
        let b = ClipBox::new(buffer);
        let (lo, hi) = (ox + b.min(), ox + b.max());
        let (vlo, vhi) = (oy + b.min(), oy + b.max());
        let mut out = Vec::new();
        let mut tmp: Vec<Coord<i64>> = Vec::new();
        for (i, f) in self.features.iter().enumerate() {
            let Some((fmin, fmax)) = f.bbox else { continue };
            if fmax.0 < lo || fmin.0 > hi || fmax.1 < vlo || fmin.1 > vhi {
                continue;
            }
            let mut polys = Vec::new();
            for rings in &f.polys {
                let mut clipped = rings.iter().enumerate().filter_map(|(k, r)| {
                    tmp.clear();
                    tmp.extend(r.iter().map(|&(x, y)| Coord {
                        x: x - ox,
                        y: y - oy,
                    }));
                    clip_ring(&tmp, &b).map(|c| (k, LineString::new(c)))
                });
                // The exterior comes first; if it is clipped away the holes go too.
                let Some((0, ext)) = clipped.next() else {
                    continue;
                };
                let holes = clipped.map(|(_, h)| h).collect();
                polys.push(Polygon::new(ext, holes));
            }
            if !polys.is_empty() {
                out.push((i, MultiPolygon::new(polys)));
            }
        }
        out
    }
}
