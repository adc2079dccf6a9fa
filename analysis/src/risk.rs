//! Model 4 — risk assessment of a grid or a building.
//!
//! # Formula
//!
//! Six factors are measured for the unit (grid or building):
//!
//! | factor | raw value *xᵢ* |
//! |---|---|
//! | [`Factor::KeyGroupDensity`] | key-group persons per 1,000 residents (denominator at least `density_min_residents`); 0 when fewer than [`KEY_GROUP_MIN_COUNT`] persons |
//! | [`Factor::RepeatDisputes`] | addresses with ≥ 2 disputes in the window (see [`repeat_addresses`]) |
//! | [`Factor::OverdueEvents`] | events past their deadline (open, or closed late) |
//! | [`Factor::UnresolvedEvents`] | events still open |
//! | [`Factor::Petitions`] | petition matters in the window |
//! | [`Factor::Overcrowding`] | over-crowded (群租) units |
//!
//! Each raw value is mapped to 0..1 by the saturating function
//!
//! ```text
//! nᵢ = xᵢ / (xᵢ + rᵢ)
//! ```
//!
//! where *rᵢ* is the factor's **reference value** from [`RiskConfig`]: at *xᵢ = rᵢ*
//! the factor is half-way (0.5), at 3·*rᵢ* it is 0.75, and it approaches 1 without
//! ever letting one extreme factor dominate without bound. The reference value is
//! the "clearly worth attention" level for that factor at that level of unit, which
//! is why grids and buildings have different defaults ([`RiskConfig::grid`],
//! [`RiskConfig::building`]).
//!
//! Weights *wᵢ* ≥ 0 are normalised to sum to 1 (*ŵᵢ = wᵢ / Σw*), and
//!
//! ```text
//! contributionᵢ = 100 · ŵᵢ · nᵢ
//! score         = Σ contributionᵢ          (0..100)
//! ```
//!
//! **Small key-group counts.** A key-group count below [`KEY_GROUP_MIN_COUNT`] (5) is
//! suppressed in every aggregate output, so it must not move a score either: the
//! contribution is `100 · ŵ · x / (x + r)`, and with the weight and reference public a
//! caller could invert it (`x = r · n / (1 − n)`, then persons = x · residents / 1,000),
//! or take the score minus the other contributions. Below the threshold the factor is
//! therefore scored as **0** persons — exactly like a unit with nobody listed — so 0 and
//! 1–4 persons give identical scores, contributions and tiers.
//!
//! The score is *defined* as the sum of the reported contributions, so the
//! explanation adds up to the score exactly. The tier compares the score with
//! **absolute** thresholds from the config (not quantiles across units): a district
//! where every grid is calm has no "large" tier, and a grid's tier does not change
//! because a neighbour got worse.
//!
//! Invalid configuration values never panic: a negative, NaN or infinite weight
//! counts as 0, a non-positive or non-finite reference value as 1, and
//! [`RiskConfig::validate`] lists what was wrong so the server can refuse a bad
//! config at start-up. If all weights are 0 the score is 0.

use crate::population::KEY_GROUP_MIN_COUNT;
use std::fmt;

/// The factors of the risk score, in the order of [`RiskScore::factors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    KeyGroupDensity,
    RepeatDisputes,
    OverdueEvents,
    UnresolvedEvents,
    Petitions,
    Overcrowding,
}

impl Factor {
    pub const ALL: [Factor; 6] = [
        Self::KeyGroupDensity,
        Self::RepeatDisputes,
        Self::OverdueEvents,
        Self::UnresolvedEvents,
        Self::Petitions,
        Self::Overcrowding,
    ];

    /// Stable snake-case name, for the server's wire format and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::KeyGroupDensity => "key_group_density",
            Self::RepeatDisputes => "repeat_disputes",
            Self::OverdueEvents => "overdue_events",
            Self::UnresolvedEvents => "unresolved_events",
            Self::Petitions => "petitions",
            Self::Overcrowding => "overcrowding",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::KeyGroupDensity => 0,
            Self::RepeatDisputes => 1,
            Self::OverdueEvents => 2,
            Self::UnresolvedEvents => 3,
            Self::Petitions => 4,
            Self::Overcrowding => 5,
        }
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Risk tiers of the closed loop: small (handle at once), medium (joint
/// assessment), large (case package under a named leader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Small,
    Medium,
    Large,
}

/// Plain counts for one grid or building over the assessment window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskInputs {
    pub residents: u32,
    /// Persons in at least one key group. Fewer than [`KEY_GROUP_MIN_COUNT`] are scored
    /// as 0 (see the module docs).
    pub key_group_persons: u32,
    /// Addresses with two or more disputes in the window.
    pub repeat_dispute_addresses: u32,
    pub overdue_events: u32,
    pub unresolved_events: u32,
    pub petitions: u32,
    pub overcrowded_units: u32,
}

/// One factor's setting: its weight and its half-saturation reference value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorConfig {
    pub weight: f64,
    pub reference: f64,
}

/// Absolute score thresholds of the tiers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierThresholds {
    /// Scores at or above this are at least [`Tier::Medium`].
    pub medium: f64,
    /// Scores at or above this are [`Tier::Large`].
    pub large: f64,
}

/// Weights, reference values and tier thresholds. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskConfig {
    /// Indexed like [`Factor::ALL`].
    pub factors: [FactorConfig; 6],
    /// Key-group density uses `max(residents, density_min_residents)` as its
    /// denominator, so one listed person in a two-person building does not read
    /// as 500 per 1,000.
    pub density_min_residents: u32,
    pub tiers: TierThresholds,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self::grid()
    }
}

const DEFAULT_WEIGHTS: [f64; 6] = [0.25, 0.20, 0.15, 0.15, 0.15, 0.10];

impl RiskConfig {
    /// Defaults for a grid (about 1,900 residents and 1,000 units each in the
    /// seed district), over a one-year window. Reference values: 5 key-group
    /// persons per 1,000 residents, 3 repeat-dispute addresses, 3 overdue events,
    /// 5 unresolved events, 3 petitions, 5 over-crowded units.
    pub fn grid() -> Self {
        Self::with_references([5.0, 3.0, 3.0, 5.0, 3.0, 5.0], 0)
    }

    /// Defaults for a building (about 5 residents and 3 units each in the seed
    /// district, more in the urban core): 5 per 1,000 with a denominator of at
    /// least 200 residents, and 1 for each count.
    pub fn building() -> Self {
        Self::with_references([5.0, 1.0, 1.0, 1.0, 1.0, 1.0], 200)
    }

    fn with_references(refs: [f64; 6], density_min_residents: u32) -> Self {
        let mut factors = [FactorConfig {
            weight: 0.0,
            reference: 1.0,
        }; 6];
        for ((f, w), r) in factors.iter_mut().zip(DEFAULT_WEIGHTS).zip(refs) {
            *f = FactorConfig {
                weight: w,
                reference: r,
            };
        }
        Self {
            factors,
            density_min_residents,
            tiers: TierThresholds {
                medium: 40.0,
                large: 70.0,
            },
        }
    }

    /// The setting of one factor.
    pub fn factor(&self, f: Factor) -> FactorConfig {
        self.factors[f.index()]
    }

    /// Mutable access to one factor's setting.
    pub fn factor_mut(&mut self, f: Factor) -> &mut FactorConfig {
        &mut self.factors[f.index()]
    }

    /// Every problem with the configuration; empty when it is valid.
    pub fn validate(&self) -> Vec<RiskConfigError> {
        let mut errors = Vec::new();
        for f in Factor::ALL {
            let c = self.factor(f);
            if !(c.weight.is_finite() && c.weight >= 0.0) {
                errors.push(RiskConfigError::Weight(f));
            }
            if !(c.reference.is_finite() && c.reference > 0.0) {
                errors.push(RiskConfigError::Reference(f));
            }
        }
        if self
            .factors
            .iter()
            .map(|c| sane_weight(c.weight))
            .sum::<f64>()
            <= 0.0
        {
            errors.push(RiskConfigError::NoWeight);
        }
        let t = self.tiers;
        if !(t.medium.is_finite()
            && t.large.is_finite()
            && 0.0 <= t.medium
            && t.medium <= t.large
            && t.large <= 100.0)
        {
            errors.push(RiskConfigError::Thresholds);
        }
        errors
    }
}

/// A problem found by [`RiskConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RiskConfigError {
    #[error("weight of {0} must be a finite number ≥ 0")]
    Weight(Factor),
    #[error("reference value of {0} must be a finite number > 0")]
    Reference(Factor),
    #[error("at least one weight must be positive")]
    NoWeight,
    #[error("tier thresholds must be finite with 0 ≤ medium ≤ large ≤ 100")]
    Thresholds,
}

/// One factor's part of a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorContribution {
    pub factor: Factor,
    /// The measured value (a count, or per 1,000 residents for density).
    pub raw: f64,
    /// The reference value used.
    pub reference: f64,
    /// `raw / (raw + reference)`, in 0..1.
    pub normalised: f64,
    /// Normalised weight: the config weight divided by the sum of all weights.
    pub weight: f64,
    /// `100 · weight · normalised`; the contributions sum to the score.
    pub contribution: f64,
}

/// A score with its explanation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskScore {
    /// 0..100.
    pub score: f64,
    pub tier: Tier,
    /// One entry per factor, in the order of [`Factor::ALL`]. A fixed array rather
    /// than a `Vec` so that scoring 122,000 buildings allocates nothing.
    pub factors: [FactorContribution; 6],
}

impl RiskScore {
    /// The factor contributing most (first in [`Factor::ALL`] order on ties).
    pub fn main_factor(&self) -> Option<&FactorContribution> {
        self.factors.iter().reduce(|a, b| {
            if b.contribution > a.contribution {
                b
            } else {
                a
            }
        })
    }
}

fn sane_weight(w: f64) -> f64 {
    if w.is_finite() && w > 0.0 { w } else { 0.0 }
}

fn sane_reference(r: f64) -> f64 {
    if r.is_finite() && r > 0.0 { r } else { 1.0 }
}

/// Raw factor values of `inputs`, indexed like [`Factor::ALL`]. The key-group density
/// is 0 when fewer than [`KEY_GROUP_MIN_COUNT`] persons underlie it.
pub fn raw_values(inputs: &RiskInputs, config: &RiskConfig) -> [f64; 6] {
    let denominator = inputs.residents.max(config.density_min_residents);
    let persons = if inputs.key_group_persons < KEY_GROUP_MIN_COUNT {
        0
    } else {
        inputs.key_group_persons
    };
    let density = if denominator == 0 {
        0.0
    } else {
        f64::from(persons) * 1000.0 / f64::from(denominator)
    };
    [
        density,
        f64::from(inputs.repeat_dispute_addresses),
        f64::from(inputs.overdue_events),
        f64::from(inputs.unresolved_events),
        f64::from(inputs.petitions),
        f64::from(inputs.overcrowded_units),
    ]
}

/// Scores one grid or building. See the module docs for the formula.
pub fn score(inputs: &RiskInputs, config: &RiskConfig) -> RiskScore {
    let raw = raw_values(inputs, config);
    let weight_sum: f64 = config.factors.iter().map(|c| sane_weight(c.weight)).sum();
    let factors: [FactorContribution; 6] = std::array::from_fn(|i| {
        let factor = Factor::ALL[i];
        let c = config.factors[i];
        let raw = raw[i];
        let reference = sane_reference(c.reference);
        let normalised = raw / (raw + reference);
        let weight = if weight_sum > 0.0 {
            sane_weight(c.weight) / weight_sum
        } else {
            0.0
        };
        FactorContribution {
            factor,
            raw,
            reference,
            normalised,
            weight,
            contribution: 100.0 * weight * normalised,
        }
    });
    // The score is defined as this left-to-right sum, which is what makes the
    // explanation add up exactly.
    let total = factors.iter().fold(0.0, |acc, f| acc + f.contribution);
    RiskScore {
        score: total,
        tier: tier(total, &config.tiers),
        factors,
    }
}

/// The tier of `score` under absolute `thresholds`.
pub fn tier(score: f64, thresholds: &TierThresholds) -> Tier {
    if score >= thresholds.large {
        Tier::Large
    } else if score >= thresholds.medium {
        Tier::Medium
    } else {
        Tier::Small
    }
}

/// Number of distinct addresses that occur at least `min_repeats` times in
/// `dispute_addresses` (one entry per dispute, e.g. its unit address code).
/// With `min_repeats = 2` this is [`RiskInputs::repeat_dispute_addresses`].
pub fn repeat_addresses(dispute_addresses: &[u64], min_repeats: u32) -> u32 {
    let mut sorted = dispute_addresses.to_vec();
    sorted.sort_unstable();
    let mut repeated = 0u32;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if u32::try_from(j - i).unwrap_or(u32::MAX) >= min_repeats.max(1) {
            repeated += 1;
        }
        i = j;
    }
    repeated
}
