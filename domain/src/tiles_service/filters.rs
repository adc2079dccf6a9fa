//! Event filters of the `events` layer and the heat map: `category`, `status`, `from`, `to`.
//!
//! `category` and `status` take one value or a comma-separated list. `from` and `to` are
//! read by [`crate::time`] like every other time filter: a date `YYYY-MM-DD` is a whole
//! day in China Standard Time, both ends inclusive (or an RFC 3339 instant); `from`
//! after `to` is refused.

use crate::auth::{Access, Permission, Role};
use crate::model::Event;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Whose events a tile's `events` layer may show as individual points (with their
/// codes); everything else about events reaches a tile only as aggregated cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAudience {
    /// Aggregates only (anonymous, the large screen): cells at every zoom.
    Aggregates,
    /// Every event (leaders, administrators).
    All,
    /// The events of these grids (grid workers).
    Grids(Arc<BTreeSet<String>>),
    /// The events assigned to this mediation organisation (mediators).
    Org(String),
}

impl EventAudience {
    pub fn of(access: &Access) -> EventAudience {
        let Some(caller) = access.caller() else {
            return EventAudience::Aggregates;
        };
        if !caller.role.allows(Permission::EventsRead) {
            return EventAudience::Aggregates;
        }
        match caller.role {
            Role::GridWorker => EventAudience::Grids(caller.grids.clone()),
            Role::Mediator => caller
                .mediation_org
                .clone()
                .map_or(EventAudience::Aggregates, EventAudience::Org),
            _ => EventAudience::All,
        }
    }

    /// Whether `e` may be drawn as a point for this audience.
    pub fn sees(&self, e: &Event) -> bool {
        match self {
            EventAudience::Aggregates => false,
            EventAudience::All => true,
            EventAudience::Grids(g) => g.contains(&e.grid_code),
            EventAudience::Org(o) => {
                e.mediation_org.as_deref() == Some(o.as_str())
                    || (e.owner_unit_kind.as_deref() == Some("mediation_org")
                        && e.owner_unit.as_deref() == Some(o.as_str()))
            }
        }
    }

    /// Whether one building's detail (its risk score, whose inputs count the events and
    /// people of that building alone) may reach this audience: callers who read every
    /// event, and grid workers for the buildings of their grids. A mediator reads only
    /// the organisation's cases, anonymous callers and the large screen aggregates: they
    /// have the grid level.
    pub fn sees_building(&self, grid_code: Option<&str>) -> bool {
        match self {
            EventAudience::All => true,
            EventAudience::Grids(g) => grid_code.is_some_and(|c| g.contains(c)),
            EventAudience::Aggregates | EventAudience::Org(_) => false,
        }
    }

    /// Part of the tile cache key (tiles differ per audience).
    pub fn cache_key(&self) -> String {
        match self {
            EventAudience::Aggregates => "agg".into(),
            EventAudience::All => "all".into(),
            EventAudience::Grids(g) => {
                format!("grids:{}", g.iter().cloned().collect::<Vec<_>>().join(";"))
            }
            EventAudience::Org(o) => format!("org:{o}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub categories: Vec<String>,
    pub statuses: Vec<String>,
    /// Inclusive start (unix seconds).
    pub from: Option<i64>,
    /// Exclusive end (unix seconds).
    pub to: Option<i64>,
}

impl EventFilter {
    /// Parse the filter query parameters; any other parameter is ignored.
    pub fn parse(query: &HashMap<String, String>) -> Result<EventFilter, String> {
        let list = |key: &str| -> Result<Vec<String>, String> {
            let Some(v) = query.get(key) else {
                return Ok(Vec::new());
            };
            let mut out: Vec<String> = Vec::new();
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() || part.len() > 64 || part.chars().any(char::is_control) {
                    return Err(format!("{key} must be one or more comma-separated values"));
                }
                out.push(part.to_string());
            }
            out.sort();
            out.dedup();
            Ok(out)
        };
        let window = crate::time::parse_window(
            query.get("from").map(String::as_str),
            query.get("to").map(String::as_str),
        )
        .map_err(|e| e.to_string())?;
        let from = window.map(|w| w.from).filter(|f| *f > i64::MIN / 4);
        let to = window.map(|w| w.to).filter(|t| *t < i64::MAX / 4);
        Ok(EventFilter {
            categories: list("category")?,
            statuses: list("status")?,
            from,
            to,
        })
    }

    pub fn is_empty(&self) -> bool {
        self == &EventFilter::default()
    }

    pub fn matches(&self, e: &Event) -> bool {
        (self.categories.is_empty() || self.categories.contains(&e.category))
            && (self.statuses.is_empty() || self.statuses.contains(&e.status))
            && self.from.is_none_or(|f| e.reported_at >= f)
            && self.to.is_none_or(|t| e.reported_at < t)
    }

    /// A canonical form for cache keys: equal filters give equal strings.
    pub fn cache_key(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        format!(
            "c={}&s={}&f={}&t={}",
            self.categories.join(","),
            self.statuses.join(","),
            self.from.map_or(String::new(), |v| v.to_string()),
            self.to.map_or(String::new(), |v| v.to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dates_are_cst_days() {
        // 2024-01-01 00:00 CST = 2023-12-31 16:00 UTC = 1704038400.
        let f = EventFilter::parse(&q(&[("from", "2024-01-01"), ("to", "2024-01-01")])).unwrap();
        assert_eq!(f.from, Some(1_704_038_400));
        assert_eq!(
            f.to,
            Some(1_704_038_400 + 86_400),
            "exclusive end: the whole day"
        );
        // Unix seconds are not a calendar value (one calendar everywhere).
        assert!(EventFilter::parse(&q(&[("from", "1704038400")])).is_err());
    }

    #[test]
    fn bad_filters_are_errors() {
        for bad in [
            vec![("from", "2024-13-01")],
            vec![("from", "2023-02-29")],
            vec![("to", "yesterday")],
            vec![("from", "2024-02-01"), ("to", "2024-01-01")],
            vec![("category", "")],
            vec![("status", "a,,b")],
        ] {
            assert!(EventFilter::parse(&q(&bad)).is_err(), "{bad:?}");
        }
        assert!(
            EventFilter::parse(&q(&[("from", "2024-02-29")])).is_ok(),
            "leap day"
        );
    }

    #[test]
    fn cache_key_is_canonical() {
        let a = EventFilter::parse(&q(&[("category", "b,a")])).unwrap();
        let b = EventFilter::parse(&q(&[("category", "a,b,a")])).unwrap();
        assert_eq!(a.cache_key(), b.cache_key());
        assert_eq!(EventFilter::default().cache_key(), "");
    }
}
