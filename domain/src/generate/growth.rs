//! Areas grown over the lattice from seed cells, the way boundaries settle on the
//! ground: each seed spreads outwards, slower across uneven country (smooth noise) and
//! far slower across a road or the river, and a cell belongs to whoever reaches it
//! first. Two fronts meeting near a road stop at it, so boundaries follow roads and the
//! river where one is near and wander where none is — never the straight cuts of a
//! nearest-seed partition. A grown area is connected by construction: every cell is
//! reached from a neighbour of the same owner.

use super::geography::Geography;
use rand::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The cost of one step between neighbouring cells on even ground.
pub const STEP: u64 = 1_000;

/// What it costs to cross each edge between neighbouring cells.
pub struct Barriers {
    nx: usize,
    /// Between cell `c` and `c + 1`.
    east: Vec<u64>,
    /// Between cell `c` and `c + nx`.
    north: Vec<u64>,
}

impl Barriers {
    pub fn new(geo: &Geography) -> Self {
        let (nx, ny) = geo.dims();
        Self {
            nx,
            east: vec![0; nx * ny],
            north: vec![0; nx * ny],
        }
    }

    /// Every edge the line `pts` (metres) crosses costs at least `penalty`.
    pub fn add_line(&mut self, geo: &Geography, pts: &[(f64, f64)], penalty: u64) {
        let nx = self.nx;
        let mut last: Option<usize> = None;
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 15.0).ceil().max(1.0) as usize;
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let Some(c) = geo.locate(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t) else {
                    last = None;
                    continue;
                };
                if let Some(p) = last.filter(|&p| p != c) {
                    let (pi, pj, ci, cj) = (p % nx, p / nx, c % nx, c / nx);
                    if pi.abs_diff(ci) + pj.abs_diff(cj) == 1 {
                        self.raise(p, c, penalty);
                    } else if pi.abs_diff(ci) == 1 && pj.abs_diff(cj) == 1 {
                        // Through a corner: both ways round it are crossed.
                        for corner in [pj * nx + ci, cj * nx + pi] {
                            self.raise(p, corner, penalty);
                            self.raise(corner, c, penalty);
                        }
                    }
                }
                last = Some(c);
            }
        }
    }

    fn raise(&mut self, a: usize, b: usize, penalty: u64) {
        let (lo, hi) = (a.min(b), a.max(b));
        let slot = if hi == lo + 1 {
            &mut self.east[lo]
        } else {
            &mut self.north[lo]
        };
        *slot = (*slot).max(penalty);
    }

    /// The cost of crossing between 4-neighbours `a` and `b`.
    pub fn between(&self, a: usize, b: usize) -> u64 {
        let (lo, hi) = (a.min(b), a.max(b));
        if hi == lo + 1 {
            self.east[lo]
        } else {
            debug_assert_eq!(hi, lo + self.nx);
            self.north[lo]
        }
    }
}

/// Smooth noise over the lattice: random values on a coarse lattice every `spacing`
/// cells, interpolated bilinearly, in `[lo, hi]`.
pub struct Terrain {
    nx: usize,
    coarse_w: usize,
    spacing: usize,
    values: Vec<f64>,
}

impl Terrain {
    pub fn new<R: Rng>(rng: &mut R, geo: &Geography, spacing: usize, lo: f64, hi: f64) -> Self {
        let (nx, ny) = geo.dims();
        let coarse_w = nx / spacing + 2;
        let coarse_h = ny / spacing + 2;
        let values = (0..coarse_w * coarse_h)
            .map(|_| rng.gen_range(lo..hi))
            .collect();
        Self {
            nx,
            coarse_w,
            spacing,
            values,
        }
    }

    /// The factor at a cell.
    pub fn at(&self, cell: usize) -> f64 {
        let (i, j) = (cell % self.nx, cell / self.nx);
        let (gi, gj) = (i / self.spacing, j / self.spacing);
        let (u, v) = (
            (i % self.spacing) as f64 / self.spacing as f64,
            (j % self.spacing) as f64 / self.spacing as f64,
        );
        let at = |a: usize, b: usize| self.values[b * self.coarse_w + a];
        at(gi, gj) * (1.0 - u) * (1.0 - v)
            + at(gi + 1, gj) * u * (1.0 - v)
            + at(gi + 1, gj + 1) * u * v
            + at(gi, gj + 1) * (1.0 - u) * v
    }
}

/// The ground areas grow over: its roughness and what crossing each edge costs.
#[derive(Clone, Copy)]
pub struct Ground<'a> {
    pub terrain: &'a Terrain,
    pub barriers: &'a Barriers,
}

/// One seed: its cell, its owner, and how fast it spreads (1.0 normally; less is faster).
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    pub cell: usize,
    pub owner: usize,
    pub pace: f64,
}

/// Grow `seeds` over the cells `allowed` admits. A step from `from` to `to` for `owner`
/// costs `STEP × terrain × pace`, plus the ground's barrier between them, plus `entry(owner, to)`;
/// steps whose cost reaches `budget` are not taken. Writes the owner of every cell
/// reached into `owners` (left as it is elsewhere); ties go to the lower cell, then owner.
pub fn grow(
    geo: &Geography,
    seeds: &[Seed],
    allowed: impl Fn(usize) -> bool,
    ground: Ground<'_>,
    entry: impl Fn(usize, usize) -> u64,
    budget: u64,
    owners: &mut [Option<usize>],
) {
    let (nx, ny) = geo.dims();
    let mut done = vec![false; nx * ny];
    let pace: Vec<f64> = {
        let mut p = vec![1.0; seeds.iter().map(|s| s.owner + 1).max().unwrap_or(0)];
        for s in seeds {
            p[s.owner] = s.pace;
        }
        p
    };
    let mut heap = BinaryHeap::new();
    for s in seeds {
        heap.push(Reverse((0u64, s.cell, s.owner)));
    }
    while let Some(Reverse((d, c, owner))) = heap.pop() {
        if done[c] {
            continue;
        }
        done[c] = true;
        owners[c] = Some(owner);
        for m in geo.neighbours4(c) {
            if done[m] || !allowed(m) {
                continue;
            }
            let step = (STEP as f64 * ground.terrain.at(m) * pace[owner]) as u64;
            let nd = d + step + ground.barriers.between(c, m) + entry(owner, m);
            if nd < budget {
                heap.push(Reverse((nd, m, owner)));
            }
        }
    }
}
