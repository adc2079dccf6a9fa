//! Point aggregation for low zooms.
//!
//! At low zooms a tile covers tens of thousands of points; sending them all is slow to
//! encode and useless to draw. Points are therefore binned on a grid of square cells of
//! `cell_size` tile units (a power of two, e.g. 64 → 64×64 cells per tile), and each
//! non-empty cell becomes one feature placed at the **mean position of its points**
//! (the count-weighted centroid, which keeps clusters where the points are instead of on
//! an artificial lattice), carrying `count` and the sum of every numeric weight.
//!
//! [`AggregatePyramid`] precomputes those cells for every zoom once, so a low-zoom tile is
//! a range lookup instead of a scan over all points, and keeps them current with
//! [`AggregatePyramid::add`] / [`AggregatePyramid::remove`] as events arrive. Cells are
//! kept in a `BTreeMap` whose key orders them tile by tile, so one tile's cells are one
//! contiguous key range. Positions are summed as fixed-point integers, so adding and
//! removing a point restores the centroid exactly; weights are summed in `f64`, and a cell
//! whose count reaches zero is deleted, which also discards any rounding residue.
//! Memory is proportional to the number of non-empty cells, at most one per point per zoom.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use crate::projection::{lonlat_to_world, world_to_lonlat};
use crate::tile::{EXTENT, TileId, round_half_away};

/// Highest zoom a pyramid can hold (cell keys must fit in 64 bits).
pub const MAX_PYRAMID_ZOOM: u8 = 20;

/// Why an aggregation call was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AggregateError {
    /// Cell size must be a power of two between 1 and the extent.
    #[error("cell size {0} is not a power of two in 1..=4096")]
    BadCellSize(u32),
    /// Zoom range outside `0..=MAX_PYRAMID_ZOOM` or empty.
    #[error("zoom range {0}..={1} is empty or above {MAX_PYRAMID_ZOOM}")]
    BadZoomRange(u8, u8),
    /// A point had a different number of weights than configured.
    #[error("expected {expected} weights, got {got}")]
    WeightCount {
        /// Configured number of weights.
        expected: usize,
        /// Number given.
        got: usize,
    },
    /// NaN or infinite coordinate.
    #[error("coordinate is not finite")]
    NonFinite,
    /// `remove` of a point that is not in the pyramid (nothing was changed).
    #[error("no aggregated point at this position to remove")]
    NotPresent,
    /// A tile at a zoom the pyramid does not hold.
    #[error("zoom {0} is not in the pyramid")]
    ZoomNotInPyramid(u8),
}

/// One aggregated cell, positioned in the tile it was queried for.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateCell<'a> {
    /// Tile-local x of the centroid (may lie in the buffer).
    pub x: i32,
    /// Tile-local y of the centroid.
    pub y: i32,
    /// Number of points.
    pub count: u64,
    /// Sum of each weight over the points.
    pub weights: &'a [f64],
    /// Centroid in world units (0..1, Web Mercator; see [`Self::lon_lat`]).
    pub world: (f64, f64),
}

impl AggregateCell<'_> {
    /// The centroid's longitude and latitude (computed on demand: a tile's encoder needs
    /// only the tile-local position, and the inverse projection is most of a cell's cost).
    pub fn lon_lat(&self) -> (f64, f64) {
        world_to_lonlat(self.world.0, self.world.1)
    }
}

/// One cluster produced by [`grid_cluster`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Tile-local x of the centroid.
    pub x: i32,
    /// Tile-local y of the centroid.
    pub y: i32,
    /// Number of points.
    pub count: u64,
    /// Sum of each weight.
    pub weights: Vec<f64>,
}

/// Clusters points already in tile-local coordinates on a grid of `cell_size` units
/// (cells aligned to the tile origin). Points whose weight slice is shorter than
/// `n_weights` count missing weights as 0; extra weights are ignored. Output is ordered
/// by cell (row-major). A `cell_size` of 0 is treated as 1.
pub fn grid_cluster<'a, I>(points: I, cell_size: u32, n_weights: usize) -> Vec<Cluster>
where
    I: IntoIterator<Item = (i32, i32, &'a [f64])>,
{
    let cell = i64::from(cell_size.max(1));
    struct Acc {
        n: u64,
        sx: i64,
        sy: i64,
        w: Vec<f64>,
    }
    let mut cells: HashMap<(i64, i64), Acc> = HashMap::new();
    for (x, y, w) in points {
        let key = (i64::from(y).div_euclid(cell), i64::from(x).div_euclid(cell));
        let acc = cells.entry(key).or_insert_with(|| Acc {
            n: 0,
            sx: 0,
            sy: 0,
            w: vec![0.0; n_weights],
        });
        acc.n += 1;
        acc.sx += i64::from(x);
        acc.sy += i64::from(y);
        for (a, v) in acc.w.iter_mut().zip(w) {
            *a += v;
        }
    }
    let mut out: Vec<((i64, i64), Cluster)> = cells
        .into_iter()
        .map(|(k, a)| {
            let n = a.n as f64;
            let c = Cluster {
                x: (a.sx as f64 / n).round() as i32,
                y: (a.sy as f64 / n).round() as i32,
                count: a.n,
                weights: a.w,
            };
            (k, c)
        })
        .collect();
    out.sort_unstable_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, c)| c).collect()
}

/// Fixed-point world position: 2^32 steps per world side (≈ 1 cm at the equator).
const FIX_BITS: u32 = 32;

fn fixed(lon: f64, lat: f64) -> Option<(u64, u64)> {
    if !lon.is_finite() || !lat.is_finite() {
        return None;
    }
    let (u, v) = lonlat_to_world(lon.clamp(-180.0, 180.0), lat);
    let scale = (1u64 << FIX_BITS) as f64;
    let max = (1u64 << FIX_BITS) - 1;
    let f = |t: f64| ((t * scale).floor().max(0.0) as u64).min(max);
    Some((f(u), f(v)))
}

/// `sum as f64` from its two 64-bit halves: the same number while the sum fits in 64
/// bits (below 2^32 points of 32-bit coordinates in one cell), within an ulp beyond.
/// The software u128 conversion was 8 % of a low-zoom buildings tile (callgrind), and
/// LLVM folds a narrowing-then-converting fast path back into it.
#[inline]
fn sum_to_f64(sum: u128) -> f64 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    ((sum >> 64) as u64) as f64 * TWO_64 + (sum as u64) as f64
}

#[derive(Debug, Clone)]
struct Level {
    z: u8,
    /// Cells per tile side = 2^b.
    b: u32,
    cells: BTreeMap<u64, u32>,
    count: Vec<u64>,
    sum_x: Vec<u128>,
    sum_y: Vec<u128>,
    weights: Vec<f64>,
    free: Vec<u32>,
}

impl Level {
    fn key(&self, fx: u64, fy: u64) -> u64 {
        let bits = u32::from(self.z) + self.b;
        let (cx, cy) = (fx >> (FIX_BITS - bits), fy >> (FIX_BITS - bits));
        let mask = (1u64 << self.b) - 1;
        let (tx, ty) = (cx >> self.b, cy >> self.b);
        let tile = (ty << self.z) | tx;
        (tile << (2 * self.b)) | ((cy & mask) << self.b) | (cx & mask)
    }

    fn tile_base(&self, x: u32, y: u32) -> u64 {
        ((u64::from(y) << self.z) | u64::from(x)) << (2 * self.b)
    }
}

/// Counts and weight sums per grid cell for a range of zooms; see the module docs.
#[derive(Debug, Clone)]
pub struct AggregatePyramid {
    cell_size: u32,
    n_weights: usize,
    min_zoom: u8,
    levels: Vec<Level>,
}

/// What [`AggregatePyramid::build`] skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Points aggregated.
    pub accepted: usize,
    /// Points skipped for a non-finite coordinate.
    pub non_finite: usize,
    /// Points skipped for a wrong number of weights.
    pub wrong_weight_count: usize,
}

impl AggregatePyramid {
    /// An empty pyramid for `zooms` with cells of `cell_size` tile units and
    /// `n_weights` weights per point.
    pub fn new(
        zooms: RangeInclusive<u8>,
        cell_size: u32,
        n_weights: usize,
    ) -> Result<AggregatePyramid, AggregateError> {
        if !cell_size.is_power_of_two() || cell_size > EXTENT {
            return Err(AggregateError::BadCellSize(cell_size));
        }
        let (lo, hi) = (*zooms.start(), *zooms.end());
        if lo > hi || hi > MAX_PYRAMID_ZOOM {
            return Err(AggregateError::BadZoomRange(lo, hi));
        }
        let b = (EXTENT / cell_size).trailing_zeros();
        let levels = (lo..=hi)
            .map(|z| Level {
                z,
                b,
                cells: BTreeMap::new(),
                count: Vec::new(),
                sum_x: Vec::new(),
                sum_y: Vec::new(),
                weights: Vec::new(),
                free: Vec::new(),
            })
            .collect();
        Ok(AggregatePyramid {
            cell_size,
            n_weights,
            min_zoom: lo,
            levels,
        })
    }

    /// Builds from `(lon, lat, weights)`; bad points are skipped and reported.
    pub fn build<'a, I>(
        points: I,
        zooms: RangeInclusive<u8>,
        cell_size: u32,
        n_weights: usize,
    ) -> Result<(AggregatePyramid, BuildReport), AggregateError>
    where
        I: IntoIterator<Item = (f64, f64, &'a [f64])>,
    {
        let mut p = AggregatePyramid::new(zooms, cell_size, n_weights)?;
        let mut report = BuildReport::default();
        for (lon, lat, w) in points {
            match p.add(lon, lat, w) {
                Ok(()) => report.accepted += 1,
                Err(AggregateError::NonFinite) => report.non_finite += 1,
                Err(_) => report.wrong_weight_count += 1,
            }
        }
        Ok((p, report))
    }

    /// Cell size in tile units.
    pub fn cell_size(&self) -> u32 {
        self.cell_size
    }

    /// Weights per point.
    pub fn n_weights(&self) -> usize {
        self.n_weights
    }

    /// Zooms held.
    pub fn zooms(&self) -> RangeInclusive<u8> {
        self.min_zoom..=self.min_zoom + (self.levels.len() as u8 - 1)
    }

    /// Non-empty cells at zoom `z` (0 if not held).
    pub fn cell_count(&self, z: u8) -> usize {
        self.level(z).map_or(0, |l| l.cells.len())
    }

    /// Rough heap use in bytes (B-tree nodes estimated at 2× their payload).
    pub fn approx_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| {
                l.cells.len() * 2 * 12
                    + l.count.capacity() * 8
                    + (l.sum_x.capacity() + l.sum_y.capacity()) * 16
                    + l.weights.capacity() * 8
                    + l.free.capacity() * 4
            })
            .sum()
    }

    fn level(&self, z: u8) -> Option<&Level> {
        z.checked_sub(self.min_zoom)
            .and_then(|i| self.levels.get(usize::from(i)))
    }

    fn validate(&self, lon: f64, lat: f64, w: &[f64]) -> Result<(u64, u64), AggregateError> {
        if w.len() != self.n_weights {
            return Err(AggregateError::WeightCount {
                expected: self.n_weights,
                got: w.len(),
            });
        }
        fixed(lon, lat).ok_or(AggregateError::NonFinite)
    }

    /// Adds one point at every zoom.
    pub fn add(&mut self, lon: f64, lat: f64, w: &[f64]) -> Result<(), AggregateError> {
        let (fx, fy) = self.validate(lon, lat, w)?;
        let n = self.n_weights;
        for l in &mut self.levels {
            let key = l.key(fx, fy);
            let slot = match l.cells.get(&key) {
                Some(&s) => s as usize,
                None => {
                    let s = match l.free.pop() {
                        Some(s) => s as usize,
                        None => {
                            l.count.push(0);
                            l.sum_x.push(0);
                            l.sum_y.push(0);
                            l.weights.extend(std::iter::repeat_n(0.0, n));
                            l.count.len() - 1
                        }
                    };
                    l.cells.insert(key, s as u32);
                    s
                }
            };
            l.count[slot] += 1;
            l.sum_x[slot] += u128::from(fx);
            l.sum_y[slot] += u128::from(fy);
            for (a, v) in l.weights[slot * n..(slot + 1) * n].iter_mut().zip(w) {
                *a += v;
            }
        }
        Ok(())
    }

    /// Removes a point previously added with the same arguments. Nothing changes when
    /// it is not present.
    pub fn remove(&mut self, lon: f64, lat: f64, w: &[f64]) -> Result<(), AggregateError> {
        let (fx, fy) = self.validate(lon, lat, w)?;
        let present = self.levels.iter().all(|l| {
            l.cells.get(&l.key(fx, fy)).is_some_and(|&s| {
                let s = s as usize;
                l.count[s] >= 1 && l.sum_x[s] >= u128::from(fx) && l.sum_y[s] >= u128::from(fy)
            })
        });
        if !present {
            return Err(AggregateError::NotPresent);
        }
        let n = self.n_weights;
        for l in &mut self.levels {
            let key = l.key(fx, fy);
            let Some(&s) = l.cells.get(&key) else {
                continue;
            };
            let slot = s as usize;
            l.count[slot] -= 1;
            l.sum_x[slot] -= u128::from(fx);
            l.sum_y[slot] -= u128::from(fy);
            let ws = &mut l.weights[slot * n..(slot + 1) * n];
            if l.count[slot] == 0 {
                ws.fill(0.0);
                l.sum_x[slot] = 0;
                l.sum_y[slot] = 0;
                l.cells.remove(&key);
                l.free.push(s);
            } else {
                for (a, v) in ws.iter_mut().zip(w) {
                    *a -= v;
                }
            }
        }
        Ok(())
    }

    /// Total points whose cell lies in `tile` (no buffer) — for deciding between raw
    /// points and aggregates.
    pub fn count_in_tile(&self, tile: TileId) -> Result<u64, AggregateError> {
        let l = self
            .level(tile.z())
            .ok_or(AggregateError::ZoomNotInPyramid(tile.z()))?;
        let base = l.tile_base(tile.x(), tile.y());
        Ok(l.cells
            .range(base..base + (1u64 << (2 * l.b)))
            .map(|(_, &s)| l.count[s as usize])
            .sum())
    }

    /// The cells whose centroid falls in `tile` grown by `buffer` tile units (cells of
    /// neighbouring tiles appear in the buffer, so symbols are not cut at tile edges).
    /// Ordered by tile, then row-major within the tile.
    pub fn query(
        &self,
        tile: TileId,
        buffer: u32,
    ) -> Result<Vec<AggregateCell<'_>>, AggregateError> {
        let l = self
            .level(tile.z())
            .ok_or(AggregateError::ZoomNotInPyramid(tile.z()))?;
        let n = self.n_weights;
        let per_tile = 1i64 << l.b;
        let cell = i64::from(self.cell_size);
        let buffer = i64::from(buffer.min(EXTENT));
        let (lo, hi) = (-buffer, i64::from(EXTENT) + buffer);
        let limit = 1i64 << tile.z();
        let scale = (1u64 << FIX_BITS) as f64;
        let tile_units = (1u128 << (FIX_BITS - u32::from(tile.z()))) as f64 / f64::from(EXTENT);
        let mut out = Vec::new();
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                if buffer == 0 && (dx != 0 || dy != 0) {
                    continue;
                }
                let (nx, ny) = (i64::from(tile.x()) + dx, i64::from(tile.y()) + dy);
                if nx < 0 || ny < 0 || nx >= limit || ny >= limit {
                    continue;
                }
                // Rows of the neighbour that can reach into the buffered square.
                let row_top = dy * i64::from(EXTENT);
                let first_row = ((lo - row_top).div_euclid(cell)).clamp(0, per_tile - 1);
                let last_row = ((hi - row_top).div_euclid(cell)).clamp(0, per_tile - 1);
                let base = l.tile_base(nx as u32, ny as u32);
                let start = base + ((first_row as u64) << l.b);
                let end = base + (((last_row + 1) as u64) << l.b);
                for (_, &s) in l.cells.range(start..end) {
                    let s = s as usize;
                    let c = l.count[s] as f64;
                    let (fx, fy) = (sum_to_f64(l.sum_x[s]) / c, sum_to_f64(l.sum_y[s]) / c);
                    // Tile-local position from the fixed-point centroid.
                    let ox = fx / tile_units - f64::from(tile.x()) * f64::from(EXTENT);
                    let oy = fy / tile_units - f64::from(tile.y()) * f64::from(EXTENT);
                    let (x, y) = (round_half_away(ox) as i64, round_half_away(oy) as i64);
                    if x < lo || x > hi || y < lo || y > hi {
                        continue;
                    }
                    out.push(AggregateCell {
                        x: x as i32,
                        y: y as i32,
                        count: l.count[s],
                        weights: &l.weights[s * n..(s + 1) * n],
                        world: (fx / scale, fy / scale),
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::sum_to_f64;

    #[test]
    fn sum_to_f64_is_exact_below_two_to_the_64_and_within_an_ulp_above() {
        let below = [
            0u128,
            1,
            3,
            (1 << 53) + 1,
            (1 << 63) + 12_345,
            u128::from(u64::MAX),
        ];
        for s in below {
            assert_eq!(sum_to_f64(s), s as f64, "{s}");
        }
        for s in [
            1u128 << 64,
            (1 << 64) + 1,
            (7 << 70) + (1 << 63) + 1,
            u128::MAX,
        ] {
            let (got, exact) = (sum_to_f64(s), s as f64);
            assert!(
                (got - exact).abs() <= exact * f64::EPSILON,
                "{s}: {got} vs {exact}"
            );
        }
    }
}
