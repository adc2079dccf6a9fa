//! Model 3b: kernel density heat map with the quartic (biweight) kernel.
//!
//! # Formula and units
//!
//! As ArcGIS's *Kernel Density* tool documents it for points:
//!
//! ```text
//! density(x) = 1/r² · Σ_{i : dᵢ < r} (3/π) · wᵢ · (1 − (dᵢ/r)²)²
//! ```
//!
//! with `r` the search radius (bandwidth), `dᵢ` the planar distance from `x`
//! to point `i` and `wᵢ` its weight (1 for a plain count). The kernel
//! integrates to 1 over the disc, so the density integrates to `Σ wᵢ` and its
//! unit is **weight per square unit of the input coordinates**. The server
//! works in Web Mercator metres, so values are events per m² *of Mercator
//! plane*; multiply by 10⁶ for per-km² and by `cos²(latitude)` to convert to
//! per ground km² (Mercator scale at 31° N is ≈ 1.17, i.e. areas ×1.37).
//! Points at exactly `d = r` contribute 0, so `<` and `≤` agree.
//!
//! # Bandwidth
//!
//! [`default_bandwidth`] implements ArcGIS's default search radius, a spatial
//! variant of Silverman's rule of thumb that is robust to spatial outliers:
//! `r = 0.9 · min(SD, √(1/ln 2) · Dm) · n^(−0.2)`, where `SD` is the
//! (weighted) standard distance, `Dm` the (weighted) median distance to the
//! (weighted) mean centre, and `n` the number of points (sum of weights when
//! weighted).
//!
//! # Speed
//!
//! [`KernelDensity`] buckets the points into a uniform grid whose bucket side is
//! the radius, so a query visits at most 3×3 buckets. [`KernelDensity::grid`]
//! instead scatters each point near the raster onto the pixels of its disc
//! (row by row, with the column span from the circle equation), so the cost
//! is proportional to the number of (point, pixel) pairs within `r` — the
//! minimum any exact evaluation needs — and nothing is spent on empty space.

use std::f64::consts::PI;

/// Errors of the kernel density functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KdeError {
    /// The radius is not a positive finite number.
    #[error("bandwidth must be positive and finite, got {0}")]
    BadRadius(f64),
    /// Weights were given but not one per point.
    #[error("expected {expected} weights, got {got}")]
    WeightCount {
        /// Number of points.
        expected: usize,
        /// Number of weights.
        got: usize,
    },
    /// The raster has a non-positive or non-finite pixel size or origin.
    #[error("invalid raster specification")]
    BadGrid,
}

/// Quartic kernel value `(3/π)·(1 − u²)²/r²` for squared distance `d2`.
#[inline]
fn kernel(d2: f64, r2: f64) -> f64 {
    if d2 >= r2 {
        return 0.0;
    }
    let t = 1.0 - d2 / r2;
    3.0 / PI * t * t / r2
}

/// A north-up raster: pixel (row, col) has its centre at
/// `(origin_x + (col + 0.5)·pixel_size, origin_y − (row + 0.5)·pixel_size)`,
/// i.e. `origin` is the top-left corner, rows go south (map-tile order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridSpec {
    /// X of the top-left corner.
    pub origin_x: f64,
    /// Y of the top-left corner.
    pub origin_y: f64,
    /// Pixel side length, same units as the points.
    pub pixel_size: f64,
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
}

/// Points indexed for repeated quartic-kernel density evaluation.
#[derive(Debug, Clone)]
pub struct KernelDensity {
    radius: f64,
    /// Bucket side (≥ radius).
    side: f64,
    min_x: f64,
    min_y: f64,
    nx: usize,
    ny: usize,
    /// Bucket start offsets into `pts`, `nx*ny + 1` entries.
    starts: Vec<u32>,
    /// (x, y, w) sorted by bucket.
    pts: Vec<[f64; 3]>,
    /// Points skipped because a coordinate or weight was not finite.
    pub skipped: usize,
}

/// Upper bound on buckets, so a tiny radius over a huge extent stays bounded in memory.
const MAX_BUCKETS: usize = 1 << 22;

impl KernelDensity {
    /// Indexes `points` (planar x, y) with optional per-point `weights` for radius `radius`.
    ///
    /// # Errors
    /// [`KdeError::BadRadius`] or [`KdeError::WeightCount`].
    pub fn new(
        points: &[(f64, f64)],
        weights: Option<&[f64]>,
        radius: f64,
    ) -> Result<Self, KdeError> {
        if !(radius.is_finite() && radius > 0.0) {
            return Err(KdeError::BadRadius(radius));
        }
        if let Some(w) = weights
            && w.len() != points.len()
        {
            return Err(KdeError::WeightCount {
                expected: points.len(),
                got: w.len(),
            });
        }
        let mut good: Vec<[f64; 3]> = Vec::with_capacity(points.len());
        for (i, &(x, y)) in points.iter().enumerate() {
            let w = weights.map_or(1.0, |w| w[i]);
            if x.is_finite() && y.is_finite() && w.is_finite() {
                good.push([x, y, w]);
            }
        }
        let skipped = points.len() - good.len();
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (0.0, 0.0, 0.0, 0.0);
        if let Some(p) = good.first() {
            (min_x, min_y, max_x, max_y) = (p[0], p[1], p[0], p[1]);
        }
        for p in &good {
            min_x = f64::min(min_x, p[0]);
            min_y = f64::min(min_y, p[1]);
            max_x = f64::max(max_x, p[0]);
            max_y = f64::max(max_y, p[1]);
        }
        // Buckets are at least `radius` wide so a disc touches at most 3×3 of them;
        // enlarge them when the extent would need too many.
        let mut side = radius;
        let count = |side: f64| {
            let nx = ((max_x - min_x) / side).floor() as usize + 1;
            let ny = ((max_y - min_y) / side).floor() as usize + 1;
            (nx, ny)
        };
        let (mut nx, mut ny) = count(side);
        while nx.saturating_mul(ny) > MAX_BUCKETS {
            side *= 2.0;
            (nx, ny) = count(side);
        }
        let bucket = |p: &[f64; 3]| {
            let bx = (((p[0] - min_x) / side) as usize).min(nx - 1);
            let by = (((p[1] - min_y) / side) as usize).min(ny - 1);
            by * nx + bx
        };
        let mut starts = vec![0u32; nx * ny + 1];
        for p in &good {
            starts[bucket(p) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut fill = starts.clone();
        let mut pts = vec![[0.0; 3]; good.len()];
        for p in &good {
            let b = bucket(p);
            pts[fill[b] as usize] = *p;
            fill[b] += 1;
        }
        Ok(Self {
            radius,
            side,
            min_x,
            min_y,
            nx,
            ny,
            starts,
            pts,
            skipped,
        })
    }
}

impl KernelDensity {
    /// The search radius.
    #[must_use]
    pub fn radius(&self) -> f64 {
        self.radius
    }

    /// Number of points indexed (after skipping non-finite ones).
    #[must_use]
    pub fn len(&self) -> usize {
        self.pts.len()
    }

    /// True when no point was indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pts.is_empty()
    }

    /// Bucket range (inclusive) covering `[lo, hi]` on one axis, or `None` if disjoint.
    fn bucket_span(&self, lo: f64, hi: f64, min: f64, n: usize) -> Option<(usize, usize)> {
        let a = ((lo - min) / self.side).floor();
        let b = ((hi - min) / self.side).floor();
        if !(a.is_finite() && b.is_finite()) || b < 0.0 || a > (n - 1) as f64 {
            return None;
        }
        Some((a.max(0.0) as usize, b.min((n - 1) as f64) as usize))
    }

    fn for_each_near(&self, x0: f64, y0: f64, x1: f64, y1: f64, mut f: impl FnMut(&[f64; 3])) {
        if self.pts.is_empty() {
            return;
        }
        let r = self.radius;
        let (Some((bx0, bx1)), Some((by0, by1))) = (
            self.bucket_span(x0 - r, x1 + r, self.min_x, self.nx),
            self.bucket_span(y0 - r, y1 + r, self.min_y, self.ny),
        ) else {
            return;
        };
        for by in by0..=by1 {
            let a = self.starts[by * self.nx + bx0] as usize;
            let b = self.starts[by * self.nx + bx1 + 1] as usize;
            self.pts[a..b].iter().for_each(&mut f);
        }
    }

    /// Density at one location.
    #[must_use]
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let r2 = self.radius * self.radius;
        let mut sum = 0.0;
        self.for_each_near(x, y, x, y, |p| {
            let dx = p[0] - x;
            let dy = p[1] - y;
            sum += p[2] * kernel(dx * dx + dy * dy, r2);
        });
        sum
    }

    /// Density at many locations.
    #[must_use]
    pub fn at_many(&self, locations: &[(f64, f64)]) -> Vec<f64> {
        locations.iter().map(|&(x, y)| self.at(x, y)).collect()
    }

    /// Density at every pixel centre of `spec`, row-major (`row * width + col`).
    ///
    /// # Errors
    /// [`KdeError::BadGrid`] for a non-finite origin, a non-positive pixel
    /// size, or more than 2²⁶ pixels.
    pub fn grid(&self, spec: &GridSpec) -> Result<Vec<f64>, KdeError> {
        let GridSpec {
            origin_x: ox,
            origin_y: oy,
            pixel_size: ps,
            width,
            height,
        } = *spec;
        if !(ox.is_finite() && oy.is_finite() && ps.is_finite() && ps > 0.0)
            || width.saturating_mul(height) > 1 << 26
        {
            return Err(KdeError::BadGrid);
        }
        let mut out = vec![0.0; width * height];
        if width == 0 || height == 0 {
            return Ok(out);
        }
        let r = self.radius;
        let r2 = r * r;
        let inv_r2 = 1.0 / r2;
        let norm = 3.0 / PI / r2;
        let (w_max, h_max) = ((width - 1) as f64, (height - 1) as f64);
        let x1 = ox + width as f64 * ps;
        let y0 = oy - height as f64 * ps;
        self.for_each_near(ox, y0, x1, oy, |p| {
            let (px, py, pw) = (p[0], p[1], p[2]);
            // Rows whose centre lies within r of the point, clamped to the raster.
            let rlo = ((oy - py - r) / ps - 0.5).ceil().max(0.0);
            let rhi = ((oy - py + r) / ps - 0.5).floor().min(h_max);
            if rlo > rhi {
                return;
            }
            for row in rlo as usize..=rhi as usize {
                let dy = oy - (row as f64 + 0.5) * ps - py;
                let rem = r2 - dy * dy;
                if rem <= 0.0 {
                    continue;
                }
                let half = rem.sqrt();
                let clo = ((px - half - ox) / ps - 0.5).ceil().max(0.0);
                let chi = ((px + half - ox) / ps - 0.5).floor().min(w_max);
                if clo > chi {
                    continue;
                }
                // The same kernel as `kernel`, rearranged so the inner loop has no
                // branch or division and vectorises: t = (1 − dy²/r²) − dx²/r².
                // Clamping at 0 only matters for rounding at the span's ends.
                let a = 1.0 - dy * dy * inv_r2;
                let scale = pw * norm;
                let (clo, chi) = (clo as usize, chi as usize);
                let x0 = ox + (clo as f64 + 0.5) * ps - px;
                // An i32 counter converts to f64 in SIMD lanes (u64 does not on x86-64).
                let span = &mut out[row * width + clo..=row * width + chi];
                for (k, v) in (0i32..).zip(span.iter_mut()) {
                    let dx = x0 + f64::from(k) * ps;
                    let t = (a - dx * dx * inv_r2).max(0.0);
                    *v += scale * t * t;
                }
            }
        });
        Ok(out)
    }
}

/// Quartic density at `locations` for `points` (planar) with optional weights.
///
/// # Errors
/// As [`KernelDensity::new`].
pub fn quartic_at(
    points: &[(f64, f64)],
    weights: Option<&[f64]>,
    radius: f64,
    locations: &[(f64, f64)],
) -> Result<Vec<f64>, KdeError> {
    Ok(KernelDensity::new(points, weights, radius)?.at_many(locations))
}

/// Quartic density on a raster (see [`GridSpec`] for pixel placement).
///
/// # Errors
/// As [`KernelDensity::new`] and [`KernelDensity::grid`].
pub fn quartic_grid(
    points: &[(f64, f64)],
    weights: Option<&[f64]>,
    radius: f64,
    spec: &GridSpec,
) -> Result<Vec<f64>, KdeError> {
    KernelDensity::new(points, weights, radius)?.grid(spec)
}

/// ArcGIS's default search radius (see module docs) for planar points.
///
/// Unweighted: `Dm` is the ordinary median (mean of the two middle values
/// for an even count) and `n` the number of points. Weighted: `Dm` is the
/// lower weighted median (first distance at which the cumulative weight
/// reaches half the total) and `n = Σ w`. Non-finite points, and points with
/// non-positive or non-finite weight, are ignored. When more than half of
/// the weight sits exactly on the mean centre (`Dm = 0`), `SD` alone is used.
/// Returns `None` when fewer than two usable points remain or all coincide.
#[must_use]
pub fn default_bandwidth(points: &[(f64, f64)], weights: Option<&[f64]>) -> Option<f64> {
    let pts: Vec<(f64, f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            (
                x,
                y,
                weights.map_or(1.0, |w| w.get(i).copied().unwrap_or(f64::NAN)),
            )
        })
        .filter(|&(x, y, w)| x.is_finite() && y.is_finite() && w.is_finite() && w > 0.0)
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let total: f64 = pts.iter().map(|p| p.2).sum();
    let mx = pts.iter().map(|p| p.0 * p.2).sum::<f64>() / total;
    let my = pts.iter().map(|p| p.1 * p.2).sum::<f64>() / total;
    let var = pts
        .iter()
        .map(|p| p.2 * ((p.0 - mx).powi(2) + (p.1 - my).powi(2)))
        .sum::<f64>()
        / total;
    let sd = var.sqrt();
    let mut d: Vec<(f64, f64)> = pts
        .iter()
        .map(|p| ((p.0 - mx).hypot(p.1 - my), p.2))
        .collect();
    d.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let dm = if weights.is_none() {
        let m = d.len() / 2;
        if d.len() % 2 == 1 {
            d[m].0
        } else {
            (d[m - 1].0 + d[m].0) / 2.0
        }
    } else {
        let mut acc = 0.0;
        let mut med = d[d.len() - 1].0;
        for &(dist, w) in &d {
            acc += w;
            if acc >= total / 2.0 {
                med = dist;
                break;
            }
        }
        med
    };
    let n = if weights.is_none() {
        pts.len() as f64
    } else {
        total
    };
    let robust = (1.0 / std::f64::consts::LN_2).sqrt() * dm;
    let spread = if dm > 0.0 { sd.min(robust) } else { sd };
    let r = 0.9 * spread * n.powf(-0.2);
    (r.is_finite() && r > 0.0).then_some(r)
}
