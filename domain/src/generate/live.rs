//! A living demo: `minqing demo` keeps its district moving — a new matter reported every
//! so often somewhere in the district, and open matters moved one step along the closed
//! loop — so the large screen's feed, the alerts and the workbench have something
//! happening on first start. Every change goes through the real write path
//! ([`crate::events::service`]) as the demo's leader account: nothing here is a shortcut
//! around validation, history, the outbox or the live feed.
//!
//! Never used by `minqing serve`: a real deployment's events come from people.

use crate::App;
use crate::auth::Caller;
use crate::events::service::{self, IntakeRequest, TransitionRequest};
use crate::model::{CATEGORIES, Event};
use rand::Rng;
use rand::seq::SliceRandom;

/// What one tick did (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    Reported(String),
    Moved { code: String, action: &'static str },
    Nothing,
}

/// A plausible new report at a random building of the district.
pub fn next_report<R: Rng>(rng: &mut R, app: &App) -> Option<IntakeRequest> {
    let ix = app.index().ok()?;
    let building = ix.buildings.choose(rng)?;
    let weights = [52u32, 9, 17, 12, 10];
    let mut pick = rng.gen_range(0..weights.iter().sum::<u32>());
    let mut category = CATEGORIES[0];
    for (c, w) in CATEGORIES.iter().zip(weights) {
        if pick < w {
            category = c;
            break;
        }
        pick -= w;
    }
    let title = super::events::titles(category).choose(rng)?;
    let source = [
        "grid_worker",
        "visitor",
        "township",
        "department",
        "higher_level",
    ]
    .choose(rng)
    .copied()
    .unwrap_or("grid_worker");
    Some(IntakeRequest {
        category: category.to_string(),
        source: source.to_string(),
        title: (*title).to_string(),
        description: format!("{}（演示数据，{}）", title, building.label),
        lon: None,
        lat: None,
        address_code: Some(building.code.clone()),
        address: None,
        risk_tier: None,
    })
}

/// The next step a leader would take on `e`, if any: mediation first, then
/// resolution (or diversion, one in five), closure, and a follow-up visit.
fn next_step<R: Rng>(rng: &mut R, e: &Event) -> Option<TransitionRequest> {
    let step = |action: &str| TransitionRequest {
        action: action.to_string(),
        note: String::new(),
        version: e.version,
        ..TransitionRequest::default()
    };
    match e.status.as_str() {
        "accepted" if e.category == "consultation" => Some(step("resolve")),
        "accepted" => Some(TransitionRequest {
            org: crate::events::MEDIATION_ORGS
                .choose(rng)
                .map(|o| o.to_string()),
            note: "分派调解".into(),
            ..step("assign_mediation")
        }),
        "mediating" if rng.gen_bool(0.2) => Some(TransitionRequest {
            kind: Some("litigation".into()),
            note: "调解不成，引导诉讼".into(),
            ..step("divert")
        }),
        "mediating" => Some(TransitionRequest {
            note: "调解成功".into(),
            ..step("resolve")
        }),
        "resolved" | "diverted" => Some(TransitionRequest {
            note: "办结".into(),
            satisfaction: [
                "satisfied",
                "satisfied",
                "basically_satisfied",
                "dissatisfied",
            ]
            .choose(rng)
            .map(|s| s.to_string()),
            ..step("close")
        }),
        "closed" => Some(TransitionRequest {
            note: "回访：当事人表示满意".into(),
            visit_kind: Some("routine".into()),
            outcome: Some("矛盾已化解，当事人表示满意".into()),
            ..step("follow_up")
        }),
        _ => None,
    }
}

/// One tick: report a new matter (two ticks in five) or move one of the newest open
/// matters a step along.
pub async fn tick<R: Rng + Send>(rng: &mut R, app: &App, caller: &Caller) -> Tick {
    if rng.gen_bool(0.4) {
        let Some(req) = next_report(rng, app) else {
            return Tick::Nothing;
        };
        let render = |e: &Event, _: &[service::Duplicate]| e.code.clone();
        return match service::intake(app, &req, None, caller, &render).await {
            Ok(service::Intake::Created { event, .. }) => Tick::Reported(event.code.clone()),
            Ok(service::Intake::Replayed { .. }) => Tick::Nothing,
            Err(e) => {
                tracing::warn!(error = %e, "living demo: a report was refused");
                Tick::Nothing
            }
        };
    }
    // Among the newest events that are not followed up yet, so the movement shows.
    let candidate = {
        let events = app.events();
        let mut open: Vec<&Event> = events
            .events
            .iter()
            .filter(|e| e.status != "followed_up")
            .collect();
        open.sort_by_key(|e| std::cmp::Reverse(e.reported_at));
        open.truncate(50);
        open.choose(rng).map(|e| (*e).clone())
    };
    let Some(event) = candidate else {
        return Tick::Nothing;
    };
    let Some(req) = next_step(rng, &event) else {
        return Tick::Nothing;
    };
    let action = match req.action.as_str() {
        "assign_mediation" => "assign_mediation",
        "divert" => "divert",
        "resolve" => "resolve",
        "close" => "close",
        _ => "follow_up",
    };
    match service::transition(app, caller, &event.code, &req).await {
        Ok(_) => Tick::Moved {
            code: event.code,
            action,
        },
        Err(e) => {
            // A person moved it meanwhile (stale version) or the rules changed: skip.
            tracing::debug!(error = %e, code = %event.code, "living demo: step skipped");
            Tick::Nothing
        }
    }
}

/// Run the living demo for as long as the process runs: a tick every `every`.
pub async fn run(app: App, caller: Caller, every: std::time::Duration) {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::from_entropy();
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        if app.index().is_err() {
            continue;
        }
        match tick(&mut rng, &app, &caller).await {
            Tick::Reported(code) => tracing::info!(%code, "living demo: new report"),
            Tick::Moved { code, action } => tracing::info!(%code, action, "living demo: step"),
            Tick::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn event(status: &str, category: &str) -> Event {
        Event {
            code: "5106032024000001".into(),
            category: category.into(),
            source: "visitor".into(),
            status: status.into(),
            risk_tier: "small".into(),
            title: "t".into(),
            description: String::new(),
            lon: 104.4,
            lat: 31.1,
            address_code: None,
            grid_code: "510603001001001".into(),
            reported_at: 0,
            deadline: 0,
            mediation_org: None,
            diversion: None,
            resolved_by_mediation: false,
            escalated: false,
            closed_at: None,
            version: 3,
            updated_at: 0,
            ..Event::default()
        }
    }

    /// Each status gets the step the closed loop allows next, at the event's version.
    #[test]
    fn steps_follow_the_loop() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let action = |rng: &mut rand_chacha::ChaCha8Rng, s: &str, c: &str| {
            next_step(rng, &event(s, c)).map(|r| (r.action, r.version))
        };
        assert_eq!(
            action(&mut rng, "accepted", "dispute").unwrap(),
            ("assign_mediation".to_string(), 3)
        );
        assert_eq!(
            action(&mut rng, "accepted", "consultation").unwrap().0,
            "resolve"
        );
        for _ in 0..20 {
            let a = action(&mut rng, "mediating", "dispute").unwrap().0;
            assert!(a == "resolve" || a == "divert", "{a}");
        }
        assert_eq!(action(&mut rng, "resolved", "dispute").unwrap().0, "close");
        assert_eq!(action(&mut rng, "diverted", "dispute").unwrap().0, "close");
        assert_eq!(
            action(&mut rng, "closed", "dispute").unwrap().0,
            "follow_up"
        );
        assert!(action(&mut rng, "followed_up", "dispute").is_none());
    }
}
