//! The closed loop of PRODUCT.md: the event state machine, who may take which step,
//! deadlines and overdue, and the store writes (one transaction per change, see
//! [`write`]), the write path ([`service`]), the list ([`query`]) and the replica
//! follower ([`replica`]).

pub mod query;
pub mod replica;
pub mod service;
pub mod work;
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

use Role::{GridWorker, Leader, Mediator, Reception, RiskCentre};

/// The statuses of an open event (not closed or followed up).
pub const OPEN: &[&str] = &["accepted", "mediating", "resolved", "diverted"];

/// The owning unit of the reception window, the social-risk centre and the leaders'
/// department (a unit of their kind, see [`crate::model::UNIT_KINDS`]).
pub const RECEPTION_UNIT: &str = "区综合受理窗口";
pub const RISK_CENTRE_UNIT: &str = "区社会风险研判中心";
pub const LEADER_DEPARTMENT: &str = "区综治中心";

/// The whole state machine. Administrators manage accounts and configuration, not
/// cases: they take no step (and lack `Permission::EventsWrite`). accepted → mediating → resolved | diverted → closed →
/// followed_up (repeatable visits); simple matters are resolved without mediation;
/// escalation, the risk tier, assignment, the case-package leader, joint reviews and
/// supervision change no status; a duplicate is closed. Some rows hold only for some
/// events (see [`allowed_actions`]).
pub const TRANSITIONS: &[Rule] = &[
    Rule {
        action: "assign_mediation",
        from: &["accepted"],
        to: Some("mediating"),
        roles: &[Leader, Reception, RiskCentre],
    },
    // A grid worker settles a simple matter on the spot; the reception answers a
    // consultation at the window (consultations only, see `allowed_actions`).
    Rule {
        action: "resolve",
        from: &["accepted"],
        to: Some("resolved"),
        roles: &[GridWorker, Leader, Reception],
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
        roles: &[GridWorker, Mediator, Leader, RiskCentre],
    },
    Rule {
        action: "set_risk_tier",
        from: OPEN,
        to: None,
        roles: &[Leader, RiskCentre],
    },
    // A new owner and/or owning unit.
    Rule {
        action: "assign",
        from: OPEN,
        to: None,
        roles: &[Leader, Reception, RiskCentre],
    },
    // 包案领导: large-risk events only.
    Rule {
        action: "set_case_leader",
        from: OPEN,
        to: None,
        roles: &[Leader, RiskCentre],
    },
    // 会商: medium- and large-risk events only.
    Rule {
        action: "joint_review",
        from: OPEN,
        to: None,
        roles: &[RiskCentre],
    },
    // 督办: a note and a new deadline.
    Rule {
        action: "supervise",
        from: OPEN,
        to: None,
        roles: &[Leader],
    },
    Rule {
        action: "mark_duplicate",
        from: OPEN,
        to: Some("closed"),
        roles: &[Leader, Reception],
    },
];

/// Every action name of the table.
pub fn actions() -> Vec<&'static str> {
    let mut v: Vec<_> = TRANSITIONS.iter().map(|r| r.action).collect();
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

/// Whether a rule of `action` that holds for `role` and the event's status also holds
/// for this event: escalation once, a case-package leader for large risks, joint reviews
/// for medium and large ones, the reception resolves consultations only.
fn holds_for(action: &str, role: Role, event: &Event) -> bool {
    match action {
        "escalate" => !event.escalated,
        "set_case_leader" => event.risk_tier == "large",
        "joint_review" => matches!(event.risk_tier.as_str(), "medium" | "large"),
        "resolve" if role == Reception => event.category == "consultation",
        _ => true,
    }
}

/// The actions `role` may take on `event` now (the table and the rules that hold only
/// for some events, see [`holds_for`]).
pub fn allowed_actions(role: Role, event: &Event) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TRANSITIONS
        .iter()
        .filter(|r| r.from.contains(&event.status.as_str()) && r.roles.contains(&role))
        .filter(|r| holds_for(r.action, role, event))
        .map(|r| r.action)
        .collect();
    v.dedup();
    v
}

/// The owning unit of a role's account: (kind, unit) as stored on an event. A grid
/// worker's unit is the event's grid, a mediator's their organisation.
pub fn unit_of(
    role: Role,
    mediation_org: Option<&str>,
    grid_code: &str,
) -> Option<(&'static str, String)> {
    match role {
        Role::Reception => Some(("reception", RECEPTION_UNIT.to_string())),
        Role::RiskCentre => Some(("risk_centre", RISK_CENTRE_UNIT.to_string())),
        Role::Leader => Some(("department", LEADER_DEPARTMENT.to_string())),
        Role::GridWorker => Some(("grid", grid_code.to_string())),
        Role::Mediator => mediation_org.map(|o| ("mediation_org", o.to_string())),
        Role::Screen | Role::Admin => None,
    }
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
    fn screen_and_admin_take_no_step() {
        for s in crate::model::STATUSES {
            for a in actions() {
                assert!(allowed(Role::Screen, s, a).is_none());
                assert!(allowed(Role::Admin, s, a).is_none());
            }
        }
    }

    #[test]
    fn rules_that_hold_for_some_events() {
        let e = |tier: &str, category: &str| Event {
            status: "accepted".into(),
            risk_tier: tier.into(),
            category: category.into(),
            ..Default::default()
        };
        assert!(
            !allowed_actions(Role::RiskCentre, &e("small", "dispute")).contains(&"set_case_leader")
        );
        assert!(
            allowed_actions(Role::RiskCentre, &e("large", "dispute")).contains(&"set_case_leader")
        );
        assert!(
            !allowed_actions(Role::RiskCentre, &e("small", "dispute")).contains(&"joint_review")
        );
        assert!(
            allowed_actions(Role::RiskCentre, &e("medium", "dispute")).contains(&"joint_review")
        );
        assert!(!allowed_actions(Role::Reception, &e("small", "dispute")).contains(&"resolve"));
        assert!(allowed_actions(Role::Reception, &e("small", "consultation")).contains(&"resolve"));
        assert!(allowed_actions(Role::GridWorker, &e("small", "dispute")).contains(&"resolve"));
    }
}
