//! `[analysis]` of the configuration file: the risk model's weights, references and
//! tiers, checked at start.

use super::*;

/// `[analysis]` of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisSettings {
    pub risk: RiskSettings,
}

/// `[analysis.risk]`: the risk model's weights, tier thresholds and reference values.
///
/// ```toml
/// [analysis.risk.weights]     # relative; normalised to sum to 1
/// key_group_density = 0.25
/// repeat_disputes = 0.20
/// overdue_events = 0.15
/// unresolved_events = 0.15
/// petitions = 0.15
/// overcrowding = 0.10
///
/// [analysis.risk.tiers]       # absolute thresholds on the 0–100 score
/// medium = 40.0
/// large = 70.0
///
/// # Optional, per level: `weights` and `tiers` overriding the above, each factor's
/// # reference value (where it counts half) and the density denominator floor.
/// [analysis.risk.grid.references]
/// repeat_disputes = 3.0
/// [analysis.risk.building]
/// density_min_residents = 200
/// [analysis.risk.building.references]
/// petitions = 1.0
/// ```
///
/// Defaults are [`RiskConfig::grid`] and [`RiskConfig::building`]. A level's value
/// comes from its own table, else from `[analysis.risk]`, else the default.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskSettings {
    pub weights: FactorValues,
    pub tiers: TierValues,
    pub grid: RiskLevelSettings,
    pub building: RiskLevelSettings,
}

/// `[analysis.risk.grid]` or `[analysis.risk.building]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskLevelSettings {
    pub weights: FactorValues,
    pub tiers: TierValues,
    pub references: FactorValues,
    pub density_min_residents: Option<u32>,
}

/// One optional number per risk factor, by the factor's wire name.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactorValues {
    pub key_group_density: Option<f64>,
    pub repeat_disputes: Option<f64>,
    pub overdue_events: Option<f64>,
    pub unresolved_events: Option<f64>,
    pub petitions: Option<f64>,
    pub overcrowding: Option<f64>,
}

impl FactorValues {
    pub(crate) fn get(&self, f: minqing_analysis::risk::Factor) -> Option<f64> {
        use minqing_analysis::risk::Factor;
        match f {
            Factor::KeyGroupDensity => self.key_group_density,
            Factor::RepeatDisputes => self.repeat_disputes,
            Factor::OverdueEvents => self.overdue_events,
            Factor::UnresolvedEvents => self.unresolved_events,
            Factor::Petitions => self.petitions,
            Factor::Overcrowding => self.overcrowding,
        }
    }
}

/// Optional tier thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierValues {
    pub medium: Option<f64>,
    pub large: Option<f64>,
}

impl RiskSettings {
    /// The grid and the building configuration, or an error naming every bad value.
    pub fn resolve(&self) -> anyhow::Result<(RiskConfig, RiskConfig)> {
        use minqing_analysis::risk::{Factor, RiskConfigError};
        let mut problems = Vec::new();
        let mut level = |name: &str, mut c: RiskConfig, own: &RiskLevelSettings| {
            for f in Factor::ALL {
                let fc = c.factor_mut(f);
                if let Some(w) = own.weights.get(f).or(self.weights.get(f)) {
                    fc.weight = w;
                }
                if let Some(r) = own.references.get(f) {
                    fc.reference = r;
                }
            }
            if let Some(m) = own.tiers.medium.or(self.tiers.medium) {
                c.tiers.medium = m;
            }
            if let Some(l) = own.tiers.large.or(self.tiers.large) {
                c.tiers.large = l;
            }
            if let Some(d) = own.density_min_residents {
                c.density_min_residents = d;
            }
            for e in c.validate() {
                let got = match e {
                    RiskConfigError::Weight(f) => format!(" (got {})", c.factor(f).weight),
                    RiskConfigError::Reference(f) => format!(" (got {})", c.factor(f).reference),
                    RiskConfigError::NoWeight => String::new(),
                    RiskConfigError::Thresholds => {
                        format!(
                            " (got medium = {}, large = {})",
                            c.tiers.medium, c.tiers.large
                        )
                    }
                };
                problems.push(format!("{name}: {e}{got}"));
            }
            c
        };
        let grid = level("grid", RiskConfig::grid(), &self.grid);
        let building = level("building", RiskConfig::building(), &self.building);
        if !problems.is_empty() {
            anyhow::bail!("invalid [analysis.risk]: {}", problems.join("; "));
        }
        Ok((grid, building))
    }
}
