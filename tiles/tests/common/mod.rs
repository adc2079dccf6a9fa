//! Synthetic, deterministic test data shared by the integration tests and the benchmark.
#![allow(dead_code)]

use geo_types::{Coord, LineString, MultiPolygon, Polygon};

/// xorshift64* — tiny, deterministic, good enough for test geometry.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// The outline of the synthetic district: (west, south, east, north).
pub const FRAME: (f64, f64, f64, f64) = (104.30, 31.05, 104.50, 31.20);

/// A `g × g` partition of [`FRAME`] into cells whose shared edges are jagged polylines
/// with `k` intermediate vertices, each generated once and used by both neighbours.
/// Frame edges are straight (noise only along the edge). Cell (1, 1) has a hole that is
/// exactly filled by an extra "island" feature (the last feature).
/// All rings are counter-clockwise in lon/lat except the hole.
pub fn tessellation(g: usize, k: usize, seed: u64) -> Vec<MultiPolygon<f64>> {
    let mut rng = Rng::new(seed);
    let (w, s, e, n) = FRAME;
    let dx = (e - w) / g as f64;
    let dy = (n - s) / g as f64;
    // Lattice nodes, jittered inside.
    let mut node = vec![vec![(0.0, 0.0); g + 1]; g + 1];
    for (i, col) in node.iter_mut().enumerate() {
        for (j, p) in col.iter_mut().enumerate() {
            let (mut x, mut y) = (w + i as f64 * dx, s + j as f64 * dy);
            if i > 0 && i < g {
                x += (rng.unit() - 0.5) * dx * 0.3;
            }
            if j > 0 && j < g {
                y += (rng.unit() - 0.5) * dy * 0.3;
            }
            *p = (x, y);
        }
    }
    let mut edge = |a: (f64, f64), b: (f64, f64), on_frame: bool, amp: f64| -> Vec<(f64, f64)> {
        let mut pts = vec![a];
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        let len = (ex * ex + ey * ey).sqrt();
        let (nx, ny) = (-ey / len, ex / len);
        for t in 1..=k {
            let f = t as f64 / (k + 1) as f64 + (rng.unit() - 0.5) * 0.4 / (k + 1) as f64;
            let off = if on_frame { 0.0 } else { rng.normal() * amp };
            pts.push((a.0 + ex * f + nx * off, a.1 + ey * f + ny * off));
        }
        pts.push(b);
        pts
    };
    let amp = dx.min(dy) * 0.02;
    // horizontal[i][j]: node(i,j) → node(i+1,j); vertical[i][j]: node(i,j) → node(i,j+1).
    let horizontal: Vec<Vec<Vec<(f64, f64)>>> = (0..g)
        .map(|i| {
            (0..=g)
                .map(|j| edge(node[i][j], node[i + 1][j], j == 0 || j == g, amp))
                .collect()
        })
        .collect();
    let vertical: Vec<Vec<Vec<(f64, f64)>>> = (0..=g)
        .map(|i| {
            (0..g)
                .map(|j| edge(node[i][j], node[i][j + 1], i == 0 || i == g, amp))
                .collect()
        })
        .collect();
    let to_ls = |pts: Vec<(f64, f64)>| {
        LineString::new(pts.into_iter().map(|(x, y)| Coord { x, y }).collect())
    };
    let island: Vec<(f64, f64)> = {
        let (cx, cy) = (w + 1.5 * dx, s + 1.5 * dy);
        (0..24)
            .map(|t| {
                let a = t as f64 / 24.0 * std::f64::consts::TAU;
                let r = 0.12 * dx * (1.0 + 0.2 * (3.0 * a).sin());
                (cx + r * a.cos(), cy + r * a.sin())
            })
            .collect()
    };
    let mut out = Vec::new();
    for i in 0..g {
        for j in 0..g {
            let mut ring: Vec<(f64, f64)> = Vec::new();
            ring.extend(&horizontal[i][j][..horizontal[i][j].len() - 1]);
            ring.extend(&vertical[i + 1][j][..vertical[i + 1][j].len() - 1]);
            let top: Vec<_> = horizontal[i][j + 1].iter().rev().copied().collect();
            ring.extend(&top[..top.len() - 1]);
            let left: Vec<_> = vertical[i][j].iter().rev().copied().collect();
            ring.extend(&left[..left.len() - 1]);
            ring.push(ring[0]);
            let holes = if i == 1 && j == 1 && g > 2 {
                let mut h: Vec<_> = island.iter().rev().copied().collect();
                h.push(h[0]);
                vec![to_ls(h)]
            } else {
                vec![]
            };
            out.push(MultiPolygon::new(vec![Polygon::new(to_ls(ring), holes)]));
        }
    }
    if g > 2 {
        let mut isl = island.clone();
        isl.push(isl[0]);
        out.push(MultiPolygon::new(vec![Polygon::new(to_ls(isl), vec![])]));
    }
    out
}

/// City-core-like points around 104.397E 31.127N: a few Gaussian clusters plus a diffuse
/// background, each with three numeric weights.
pub fn city_points(n: usize, spread_deg: f64, seed: u64) -> Vec<(f64, f64, [f64; 3])> {
    let mut rng = Rng::new(seed);
    let centres = [
        (104.397, 31.127),
        (104.392, 31.130),
        (104.401, 31.124),
        (104.395, 31.122),
    ];
    (0..n)
        .map(|i| {
            let (lon, lat) = if i % 5 == 4 {
                (
                    104.397 + (rng.unit() - 0.5) * spread_deg * 4.0,
                    31.127 + (rng.unit() - 0.5) * spread_deg * 4.0,
                )
            } else {
                let c = centres[i % centres.len()];
                (
                    c.0 + rng.normal() * spread_deg,
                    c.1 + rng.normal() * spread_deg,
                )
            };
            let w = [1.0, (rng.unit() * 10.0).floor(), rng.unit()];
            (lon, lat, w)
        })
        .collect()
}
