//! Mann–Kendall monotonic trend test with tie correction.
//!
//! Matches `pymannkendall.original_test` (version 1.4.3) field for field:
//! `S = Σ_{i<j} sign(x_j − x_i)`; `var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18`
//! where `t` runs over the sizes of groups of exactly equal values;
//! `z = (S − 1)/√var(S)` for `S > 0`, `(S + 1)/√var(S)` for `S < 0`, 0 otherwise
//! (continuity correction); two-sided `p = 2·(1 − Φ(|z|))`; a trend is reported
//! when `p < alpha` (equivalent to pymannkendall's `|z| > Φ⁻¹(1 − α/2)`);
//! Kendall's `τ = S / (n(n−1)/2)`; Sen's slope = median of pairwise slopes
//! and the Conover intercept `median(x) − median(0..n)·slope`.
//!
//! The normal approximation is used for every `n`, as pymannkendall does; for
//! n < 10 the exact distribution would be more accurate, but matching the
//! reference implementation was preferred so results can be audited.
//! Non-finite values are dropped first (pymannkendall skips missing values
//! for S and var(S) the same way).

/// Direction of a significant trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trend {
    /// Significant increasing trend.
    Increasing,
    /// Significant decreasing trend.
    Decreasing,
    /// No significant trend.
    NoTrend,
}

impl Trend {
    /// Stable name as pymannkendall spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Increasing => "increasing",
            Self::Decreasing => "decreasing",
            Self::NoTrend => "no trend",
        }
    }
}

/// Result of [`mann_kendall`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Number of finite values used.
    pub n: usize,
    /// Mann–Kendall score S.
    pub s: f64,
    /// Tie-corrected variance of S.
    pub var_s: f64,
    /// Standardised statistic with continuity correction.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Kendall's tau.
    pub tau: f64,
    /// Significance decision at the given alpha.
    pub trend: Trend,
}

/// Result of [`sens_slope`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SenSlope {
    /// Theil–Sen slope (per step).
    pub slope: f64,
    /// Conover intercept of the Kendall–Theil line.
    pub intercept: f64,
}

/// Mann–Kendall test of `x` (ordered in time) at significance `alpha`.
/// Costs O(n²) comparisons and no allocation beyond one sorted copy; the
/// O(n² log n) Sen's slope is a separate call ([`sens_slope`]) so per-cell
/// tests over long series stay cheap.
///
/// Never panics: with fewer than two finite values, or all values tied,
/// returns `z = 0`, `p = 1`, no trend.
#[must_use]
pub fn mann_kendall(x: &[f64], alpha: f64) -> MannKendall {
    let vals: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    let n = vals.len();
    let mut s = 0i64;
    for i in 0..n {
        let xi = vals[i];
        for &xj in &vals[i + 1..] {
            s += sign(xj - xi);
        }
    }
    let nf = n as f64;
    let mut sorted = vals;
    sorted.sort_unstable_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut k = 0;
    while k < sorted.len() {
        let mut e = k + 1;
        while e < sorted.len() && sorted[e] == sorted[k] {
            e += 1;
        }
        let t = (e - k) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        k = e;
    }
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let sf = s as f64;
    let z = if s > 0 && var_s > 0.0 {
        (sf - 1.0) / var_s.sqrt()
    } else if s < 0 && var_s > 0.0 {
        (sf + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let p = crate::hotspot::two_sided_p(z);
    let trend = if p < alpha && z > 0.0 {
        Trend::Increasing
    } else if p < alpha && z < 0.0 {
        Trend::Decreasing
    } else {
        Trend::NoTrend
    };
    let tau = if n >= 2 {
        sf / (0.5 * nf * (nf - 1.0))
    } else {
        0.0
    };
    MannKendall {
        n,
        s: sf,
        var_s,
        z,
        p,
        tau,
        trend,
    }
}

/// Theil–Sen slope and Conover intercept of `x` against its positions
/// 0, 1, …; non-finite values are skipped (their positions still count as
/// time). Returns zeros when fewer than two finite values exist.
#[must_use]
pub fn sens_slope(x: &[f64]) -> SenSlope {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| (i as f64, v))
        .collect();
    let n = pts.len();
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            slopes.push((pts[j].1 - pts[i].1) / (pts[j].0 - pts[i].0));
        }
    }
    let slope = median(&mut slopes).unwrap_or(0.0);
    let mut vals: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let mut times: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let intercept = match (median(&mut vals), median(&mut times)) {
        (Some(mv), Some(mt)) => mv - mt * slope,
        _ => 0.0,
    };
    SenSlope { slope, intercept }
}

fn sign(d: f64) -> i64 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// Median as numpy computes it (mean of the two middle values for even length).
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}
