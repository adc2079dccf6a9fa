//! Model 3c: emerging (space-time) hot spots, after ArcGIS Pro's
//! *Emerging Hot Spot Analysis*.
//!
//! # Method
//!
//! 1. **Cube.** The caller supplies one value per (time step, cell) — e.g.
//!    weekly or monthly event counts — for the cells of a [`StudyArea`].
//!    Every cell of the study area is analysed (ArcGIS's behaviour with a
//!    polygon analysis mask), including cells that never had an event.
//! 2. **Space-time Gi\*.** Each bin's neighbourhood is the cell's H3
//!    `grid_disk(1)` (itself included, restricted to the area) in the same
//!    time step and in the previous `time_step_interval` steps (ArcGIS's
//!    *Neighborhood Time Step*, default 1); bins in later steps are never
//!    neighbours. Early steps simply have fewer neighbours. Mean and variance
//!    are taken over the **entire cube** (ArcGIS's default global window),
//!    and the z-score is the same analytical Gi* as [`crate::hotspot`].
//! 3. **FDR.** Two-sided p-values are Benjamini–Hochberg adjusted across all
//!    bins of the cube (one family, consistent with the entire-cube global
//!    window). A bin is a significant hot (cold) spot when its adjusted p is
//!    below `bin_alpha` (default 0.10, i.e. ArcGIS's lowest 90 % confidence
//!    class) and z > 0 (< 0).
//! 4. **Trend.** Mann–Kendall ([`crate::trend::mann_kendall`]) on each
//!    cell's series of bin z-scores, significant at `trend_alpha`
//!    (default 0.05; ArcGIS's documentation does not publish the level it uses,
//!    so this is our choice and is a parameter).
//! 5. **Patterns**, with `n` time steps and "hot" meaning a significant hot
//!    bin (cold patterns mirror them with hot ↔ cold, increasing ↔ decreasing):
//!    * *new*: hot in the final step and never before;
//!    * *consecutive*: the final steps form a single uninterrupted run of at
//!      least two hot bins, no hot bin before the run, and < 90 % of all bins hot;
//!    * *intensifying*: hot in ≥ 90 % of steps including the final one, and a
//!      significant increasing trend in z;
//!    * *diminishing*: the same with a significant decreasing trend;
//!    * *persistent*: hot in ≥ 90 % of steps including the final one, no
//!      significant trend;
//!    * *oscillating*: hot in the final step, < 90 % of steps hot, and at
//!      least one earlier significant cold bin;
//!    * *sporadic*: hot in the final step, < 90 % of steps hot, never cold
//!      (and neither new nor consecutive);
//!    * *historical*: the final step is not hot but ≥ 90 % of steps were;
//!    * otherwise *no pattern detected*.
//!
//!    Where ArcGIS's wording leaves overlaps, we resolve them so that every
//!    location gets exactly one pattern: the final step's state decides the
//!    family (hot, cold, or neither → historical / none); *new* and
//!    *consecutive* are tested before *oscillating* (so an earlier cold bin
//!    does not stop a location being a new hot spot, as the definition only
//!    forbids earlier *hot* bins); *persistent* also requires the final step
//!    (otherwise the location is *historical*, which ArcGIS defines by the
//!    final step not being hot).

use crate::hotspot::{GiMoments, HotspotClass, StudyArea, fdr_bh, two_sided_p};
use crate::trend::{MannKendall, Trend, mann_kendall};

/// Errors of [`analyse`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmergingError {
    /// No time steps were given.
    #[error("the space-time cube has no time steps")]
    EmptyCube,
    /// A time step does not have one value per study-area cell.
    #[error("time step {step}: expected {expected} values, got {got}")]
    RowLength {
        /// Time step index.
        step: usize,
        /// Number of cells.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("time step {step}, cell {cell}: value is not finite")]
    NonFinite {
        /// Time step index.
        step: usize,
        /// Cell position.
        cell: usize,
    },
    /// An alpha outside (0, 1).
    #[error("significance levels must lie in (0, 1)")]
    BadAlpha,
}

/// Parameters of [`analyse`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmergingParams {
    /// Number of previous time steps in each bin's neighbourhood (ArcGIS default 1).
    pub time_step_interval: usize,
    /// Adjusted-p threshold for a significant hot/cold bin (default 0.10).
    pub bin_alpha: f64,
    /// Mann–Kendall significance level for intensifying/diminishing (default 0.05).
    pub trend_alpha: f64,
}

impl Default for EmergingParams {
    fn default() -> Self {
        Self {
            time_step_interval: 1,
            bin_alpha: 0.10,
            trend_alpha: 0.05,
        }
    }
}

/// ArcGIS's emerging hot spot categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Pattern {
    NoPattern,
    NewHot,
    ConsecutiveHot,
    IntensifyingHot,
    PersistentHot,
    DiminishingHot,
    SporadicHot,
    OscillatingHot,
    HistoricalHot,
    NewCold,
    ConsecutiveCold,
    IntensifyingCold,
    PersistentCold,
    DiminishingCold,
    SporadicCold,
    OscillatingCold,
    HistoricalCold,
}

impl Pattern {
    /// Stable snake-case name, e.g. `new_hot_spot`, `no_pattern`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPattern => "no_pattern",
            Self::NewHot => "new_hot_spot",
            Self::ConsecutiveHot => "consecutive_hot_spot",
            Self::IntensifyingHot => "intensifying_hot_spot",
            Self::PersistentHot => "persistent_hot_spot",
            Self::DiminishingHot => "diminishing_hot_spot",
            Self::SporadicHot => "sporadic_hot_spot",
            Self::OscillatingHot => "oscillating_hot_spot",
            Self::HistoricalHot => "historical_hot_spot",
            Self::NewCold => "new_cold_spot",
            Self::ConsecutiveCold => "consecutive_cold_spot",
            Self::IntensifyingCold => "intensifying_cold_spot",
            Self::PersistentCold => "persistent_cold_spot",
            Self::DiminishingCold => "diminishing_cold_spot",
            Self::SporadicCold => "sporadic_cold_spot",
            Self::OscillatingCold => "oscillating_cold_spot",
            Self::HistoricalCold => "historical_cold_spot",
        }
    }
}

/// Per-location result.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergingCell {
    /// H3 cell index.
    pub cell: u64,
    /// The emerging hot spot category.
    pub pattern: Pattern,
    /// Mann–Kendall test of the z-score series.
    pub trend: MannKendall,
    /// Number of significant hot bins.
    pub hot_steps: usize,
    /// Number of significant cold bins.
    pub cold_steps: usize,
    /// Gi* z per time step (0 where undefined).
    pub z: Vec<f64>,
    /// Confidence class per time step (from the FDR-adjusted p, 99/95/90 %).
    pub classes: Vec<HotspotClass>,
}

/// Result of [`analyse`].
#[derive(Debug, Clone, PartialEq)]
pub struct EmergingReport {
    /// One entry per study-area cell, in [`StudyArea::cells`] order.
    pub cells: Vec<EmergingCell>,
    /// Number of time steps.
    pub steps: usize,
    /// Number of bins (= FDR family size).
    pub bins: usize,
    /// Bins whose z was undefined (zero variance in the cube).
    pub undefined_bins: usize,
}

/// Runs emerging hot spot analysis; `cube[t][c]` is the value of cell `c`
/// (position in [`StudyArea::cells`]) in time step `t`, oldest step first.
///
/// # Errors
/// See [`EmergingError`].
pub fn analyse(
    area: &StudyArea,
    cube: &[Vec<f64>],
    params: &EmergingParams,
) -> Result<EmergingReport, EmergingError> {
    let steps = cube.len();
    let ncell = area.len();
    if steps == 0 {
        return Err(EmergingError::EmptyCube);
    }
    let ok_alpha = |a: f64| a > 0.0 && a < 1.0;
    if !ok_alpha(params.bin_alpha) || !ok_alpha(params.trend_alpha) {
        return Err(EmergingError::BadAlpha);
    }
    for (t, row) in cube.iter().enumerate() {
        if row.len() != ncell {
            return Err(EmergingError::RowLength {
                step: t,
                expected: ncell,
                got: row.len(),
            });
        }
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            return Err(EmergingError::NonFinite { step: t, cell: c });
        }
    }
    let flat: Vec<f64> = cube.iter().flatten().copied().collect();
    let moments = GiMoments::new(&flat);

    // Spatial lag per (step, cell), then a sliding window over time.
    let mut spatial = vec![0.0; steps * ncell];
    for (t, row) in cube.iter().enumerate() {
        let out = &mut spatial[t * ncell..(t + 1) * ncell];
        for (c, o) in out.iter_mut().enumerate() {
            *o = area.neighbours(c).iter().map(|&j| row[j as usize]).sum();
        }
    }
    let k = params.time_step_interval;
    let mut z = vec![0.0; steps * ncell];
    let mut undefined_bins = 0;
    for c in 0..ncell {
        let ks = area.neighbours(c).len() as f64;
        for t in 0..steps {
            let first = t.saturating_sub(k);
            let lag: f64 = (first..=t).map(|s| spatial[s * ncell + c]).sum();
            let card = ks * (t - first + 1) as f64;
            z[t * ncell + c] = match moments.z(lag, card) {
                Some(v) => v,
                None => {
                    undefined_bins += 1;
                    0.0
                }
            };
        }
    }
    let p: Vec<f64> = z.iter().map(|&v| two_sided_p(v)).collect();
    let adj = fdr_bh(&p);

    let mut cells = Vec::with_capacity(ncell);
    let mut states = vec![0i8; steps];
    for c in 0..ncell {
        let zs: Vec<f64> = (0..steps).map(|t| z[t * ncell + c]).collect();
        let mut classes = Vec::with_capacity(steps);
        for (t, state) in states.iter_mut().enumerate() {
            let i = t * ncell + c;
            classes.push(HotspotClass::from_z_p(z[i], adj[i]));
            *state = if adj[i] < params.bin_alpha {
                sign(z[i])
            } else {
                0
            };
        }
        let trend = mann_kendall(&zs, params.trend_alpha);
        cells.push(EmergingCell {
            cell: area.cells()[c],
            pattern: classify_series(&states, trend.trend),
            trend,
            hot_steps: states.iter().filter(|&&s| s > 0).count(),
            cold_steps: states.iter().filter(|&&s| s < 0).count(),
            z: zs,
            classes,
        });
    }
    Ok(EmergingReport {
        cells,
        steps,
        bins: steps * ncell,
        undefined_bins,
    })
}

fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// Pattern of one location from its per-step significance states
/// (`1` significant hot, `-1` significant cold, `0` neither; oldest first)
/// and the Mann–Kendall decision on its z-score series. See module docs.
#[must_use]
pub fn classify_series(states: &[i8], trend: Trend) -> Pattern {
    let n = states.len();
    let Some(&last) = states.last() else {
        return Pattern::NoPattern;
    };
    let count = |s: i8| states.iter().filter(|&&v| v == s).count();
    // "At least 90 % of the steps", in integers to avoid rounding at the boundary.
    let most = |m: usize| m * 10 >= n * 9;
    if last != 0 {
        let same = count(last);
        let run = states.iter().rev().take_while(|&&v| v == last).count();
        let hot = last > 0;
        let pick = |h: Pattern, c: Pattern| if hot { h } else { c };
        if same == 1 {
            return pick(Pattern::NewHot, Pattern::NewCold);
        }
        if run >= 2 && same == run && !most(same) {
            return pick(Pattern::ConsecutiveHot, Pattern::ConsecutiveCold);
        }
        if most(same) {
            let stronger = if hot {
                Trend::Increasing
            } else {
                Trend::Decreasing
            };
            return if trend == stronger {
                pick(Pattern::IntensifyingHot, Pattern::IntensifyingCold)
            } else if trend == Trend::NoTrend {
                pick(Pattern::PersistentHot, Pattern::PersistentCold)
            } else {
                pick(Pattern::DiminishingHot, Pattern::DiminishingCold)
            };
        }
        if count(-last) > 0 {
            return pick(Pattern::OscillatingHot, Pattern::OscillatingCold);
        }
        return pick(Pattern::SporadicHot, Pattern::SporadicCold);
    }
    if most(count(1)) {
        Pattern::HistoricalHot
    } else if most(count(-1)) {
        Pattern::HistoricalCold
    } else {
        Pattern::NoPattern
    }
}
