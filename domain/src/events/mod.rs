//! The closed loop of PRODUCT.md: the event state machine, who may take which step,
//! deadlines and overdue, and the store writes (one transaction per change, see
//! [`write`]), the write path ([`service`]), the list ([`query`]) and the replica
//! follower ([`replica`]).

pub mod query;
pub mod replica;
pub mod service;
pub mod write;

use crate::model::{Event, is_closed_status};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The four ways out of mediation into the formal channels (诉调对接).
pub const DIVERSIONS: [&str; 4] = [
    "arbitration",
    "administrative_review",
    "administrative_ruling",
    "litigation",
];

/// The district's mediation organisations: the 13 on site and the district mediation
/// association (PRODUCT.md), whose names an `assign_mediation` step must use.
pub const MEDIATION_ORGS: [&str; 14] = [
    "旌阳区矛盾纠纷多元化解协会",
    "旌阳区医疗纠纷人民调解委员会",
    "旌阳区道路交通事故纠纷人民调解委员会",
    "旌阳区劳动人事争议调解中心",
    "旌阳区物业纠纷人民调解委员会",
    "旌阳区婚姻家庭纠纷人民调解委员会",
    "旌阳区消费纠纷调解委员会",
    "旌阳区征地拆迁纠纷人民调解委员会",
    "旌阳区知识产权纠纷调解委员会",
    "旌阳区金融纠纷调解中心",
    "旌阳区商会人民调解委员会",
    "旌阳区律师调解工作室",
    "旌阳区行政争议调解中心",
    "旌阳区土地承包经营纠纷调解委员会",
];

/// The default handling deadline in days by category and risk tier (the generator
/// uses the same, so the demo's events keep them).
pub fn deadline_days(category: &str, tier: &str) -> i64 {
    let base = match category {
        "dispute" => 15,
        "petition" => 60,
        "consultation" => 5,
        "public_safety" => 3,
        _ => 10,
    };
    match tier {
        "large" => base * 4,
        "medium" => base * 2,
        _ => base,
    }
}

pub const RISK_TIERS: [&str; 3] = ["small", "medium", "large"];

pub use crate::auth::Role;

/// One row of the transition table: `action` taken in one of `from` leads to `to`
/// (`None`: the status stays, e.g. escalation), by one of `roles`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub action: &'static str,
    pub from: &'static [&'static str],
    pub to: Option<&'static str>,
    pub roles: &'static [Role],
}

use Role::{GridWorker, Leader, Mediator};

/// The whole state machine. Administrators manage accounts and configuration, not
/// cases: they take no step (and lack `Permission::EventsWrite`). accepted → mediating → resolved | diverted → closed →
/// followed_up (repeatable visits); simple matters are resolved without mediation;
/// escalation and the risk tier change no status.
pub const TRANSITIONS: &[Rule] = &[
    Rule {
        action: "assign_mediation",
        from: &["accepted"],
        to: Some("mediating"),
        roles: &[Leader],
    },
    // A grid worker settles a simple matter on the spot.
    Rule {
        action: "resolve",
        from: &["accepted"],
        to: Some("resolved"),
        roles: &[GridWorker, Leader],
    },
    Rule {
        action: "resolve",
        from: &["mediating"],
        to: Some("resolved"),
        roles: &[Mediator, Leader],
    },
    Rule {
        action: "divert",
        from: &["mediating"],
        to: Some("diverted"),
        roles: &[Mediator, Leader],
    },
    Rule {
        action: "divert",
        from: &["accepted"],
        to: Some("diverted"),
        roles: &[Leader],
    },
    Rule {
        action: "close",
        from: &["resolved", "diverted"],
        to: Some("closed"),
        roles: &[Leader],
    },
    Rule {
        action: "follow_up",
        from: &["closed", "followed_up"],
        to: Some("followed_up"),
        roles: &[GridWorker, Mediator, Leader],
    },
    // Only once per event (see `allowed_actions`).
    Rule {
        action: "escalate",
        from: &["accepted", "mediating", "diverted"],
        to: None,
        roles: &[GridWorker, Mediator, Leader],
    },
    Rule {
        action: "set_risk_tier",
        from: &["accepted", "mediating", "resolved", "diverted"],
        to: None,
        roles: &[Leader],
    },
];

/// Every action name of the table.
pub fn actions() -> Vec<&'static str> {
    let mut v: Vec<_> = TRANSITIONS.iter().map(|r| r.action).collect();
    v.dedup();
    v.sort_unstable();
    v.dedup();
    v
}

/// The rule that lets `role` take `action` from status `from`, if any.
pub fn allowed(role: Role, from: &str, action: &str) -> Option<&'static Rule> {
    TRANSITIONS
        .iter()
        .find(|r| r.action == action && r.from.contains(&from) && r.roles.contains(&role))
}

/// The actions `role` may take on `event` now (the table plus the once-only escalation).
pub fn allowed_actions(role: Role, event: &Event) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TRANSITIONS
        .iter()
        .filter(|r| r.from.contains(&event.status.as_str()) && r.roles.contains(&role))
        .filter(|r| !(r.action == "escalate" && event.escalated))
        .map(|r| r.action)
        .collect();
    v.dedup();
    v
}

/// Handling deadlines in days per category, multiplied per risk tier. Defaults are the
/// generator's ([`deadline_days`]); a `[deadlines]` table in
/// the configuration file overrides them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Deadlines {
    /// Days per category for a small matter.
    pub days: BTreeMap<String, i64>,
    /// Multiplier per risk tier.
    pub tier_factor: BTreeMap<String, i64>,
}

impl Default for Deadlines {
    fn default() -> Self {
        let days = crate::model::CATEGORIES
            .iter()
            .map(|c| (c.to_string(), deadline_days(c, "small")))
            .collect();
        let tier_factor = RISK_TIERS
            .iter()
            .map(|t| {
                (
                    t.to_string(),
                    deadline_days("dispute", t) / deadline_days("dispute", "small"),
                )
            })
            .collect();
        Deadlines { days, tier_factor }
    }
}

impl Deadlines {
    pub fn days(&self, category: &str, tier: &str) -> i64 {
        let base = self.days.get(category).copied().unwrap_or(10);
        base * self.tier_factor.get(tier).copied().unwrap_or(1)
    }

    /// The deadline (unix seconds) of a matter reported at `reported_at`.
    pub fn deadline(&self, category: &str, tier: &str, reported_at: i64) -> i64 {
        reported_at + self.days(category, tier) * 86_400
    }
}

/// Overdue: still open (not closed or followed up) after its deadline.
pub fn is_overdue(event: &Event, now: i64) -> bool {
    !is_closed_status(&event.status) && now > event.deadline
}

/// Metres between two WGS-84 points (equirectangular; exact enough within a district).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.1 + b.1) / 2.0).to_radians();
    let dx = (b.0 - a.0).to_radians() * lat.cos();
    let dy = (b.1 - a.1).to_radians();
    6_371_008.8 * (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_generator() {
        let d = Deadlines::default();
        for c in crate::model::CATEGORIES {
            for t in RISK_TIERS {
                assert_eq!(d.days(c, t), deadline_days(c, t));
            }
        }
    }

    #[test]
    fn screen_takes_no_step() {
        for s in crate::model::STATUSES {
            for a in actions() {
                assert!(allowed(Role::Screen, s, a).is_none());
            }
        }
    }
}
