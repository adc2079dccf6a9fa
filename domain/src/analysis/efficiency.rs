//! Model 5: closed-loop efficiency and trends.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EfficiencyQuery {
    pub area: u32,
    pub window: Option<Window>,
}

pub(crate) fn category_name(c: u8) -> &'static str {
    CATEGORIES.get(usize::from(c)).copied().unwrap_or("unknown")
}

pub(crate) fn change_json(c: &minqing_analysis::efficiency::Change) -> serde_json::Value {
    serde_json::json!({
        "current": c.current,
        "previous": c.previous,
        "relative": json_opt_f(c.relative),
    })
}

pub(crate) fn comparison_json(c: &minqing_analysis::efficiency::Comparison) -> serde_json::Value {
    let by_category: serde_json::Map<String, serde_json::Value> = c
        .by_category
        .iter()
        .map(|cc| {
            (
                category_name(cc.category).to_string(),
                change_json(&cc.change),
            )
        })
        .collect();
    serde_json::json!({
        "current": {"from": crate::time::format_date(c.current.from), "to": crate::time::format_date(c.current.to - 1)},
        "previous": {"from": crate::time::format_date(c.previous.from), "to": crate::time::format_date(c.previous.to - 1)},
        "total": change_json(&c.total),
        "by_category": by_category,
    })
}

/// Model 5 for an area and window, as the API returns it (cached, dropped when
/// events change). The default window is the calendar year (CST) of the latest event;
/// when that is the current year, it ends with today, so the year-on-year change
/// compares the same days of the year before, not a part of a year with a whole one.
pub fn efficiency(state: &App, q: EfficiencyQuery) -> Result<Arc<serde_json::Value>, Error> {
    let ix = state.index()?;
    state.analysis.cached(
        |c| &mut c.efficiency,
        q,
        Priority::Request,
        || compute_efficiency(state, &ix, q),
    )
}

/// Model 5's answer, uncached, with the generation of the events it read.
pub(crate) fn compute_efficiency(
    state: &App,
    ix: &Arc<Index>,
    q: EfficiencyQuery,
) -> Result<(u64, serde_json::Value), Error> {
    use minqing_analysis::efficiency as eff;
    let an = &state.analysis;
    let events = an.events(state, ix);
    let now = state.clock.now();
    let window = q.window.unwrap_or_else(|| {
        let year = Window::year(eff::cst_year_month(events.last_at.unwrap_or(now)).year);
        let tomorrow = crate::time::local_date(now)
            .and_then(|d| d.tomorrow().ok())
            .and_then(crate::time::day_start);
        match tomorrow {
            Some(t) if year.contains(now) && t < year.to => Window::new(year.from, t),
            _ => year,
        }
    });
    let in_area: Vec<&EventFacts> = events
        .facts
        .iter()
        .zip(&events.grid)
        .filter(|(_, g)| g.is_some_and(|g| grid_in_area(ix, g, q.area)))
        .map(|(f, _)| f)
        .collect();
    let report = eff::efficiency(in_area.iter().copied(), window, now);
    let workload: Vec<serde_json::Value> = report
        .workload
        .iter()
        .map(|w| {
            serde_json::json!({
                "grid": ix.areas.get(w.worker as usize).map(|a| a.area.code.clone()),
                "open": w.open,
                "handled": w.handled,
                "overdue_open": w.overdue_open,
            })
        })
        .collect();
    let by_category: Vec<serde_json::Value> = report
        .by_category
        .iter()
        .map(|c| {
            serde_json::json!({
                "category": category_name(c.category),
                "events": c.events,
                "closed": c.closed,
            })
        })
        .collect();
    let yoy = eff::compare(in_area.iter().copied(), window, window.year_before());
    // Month-on-month for the last month of the window.
    let last_month = eff::cst_year_month(window.to.min(now).max(window.from + 1) - 1);
    let mom = eff::month_on_month(in_area.iter().copied(), last_month);
    // Children of the area, each with its own year-on-year and month-on-month change.
    let by_area: Vec<serde_json::Value> = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.parent == Some(q.area))
        .map(|(child, a)| {
            let child = child as u32;
            let evs: Vec<&EventFacts> = in_area
                .iter()
                .copied()
                .filter(|f| f.area != u32::MAX && grid_in_area(ix, f.area, child))
                .collect();
            serde_json::json!({
                "code": a.area.code,
                "name": a.area.name,
                "year_on_year": comparison_json(&eff::compare(evs.iter().copied(), window, window.year_before())),
                "month_on_month": comparison_json(&eff::month_on_month(evs.iter().copied(), last_month)),
            })
        })
        .collect();
    // Anomalous weeks: weekly counts from 8 weeks before the window (the baseline).
    let config = eff::AnomalyConfig::default();
    let first_week = eff::week_start(window.from.max(events.first_at.unwrap_or(window.from)))
        - 7 * DAY * config.baseline_weeks as i64;
    let end = window.to.min(now);
    let weeks = (((end - first_week).max(0) + 7 * DAY - 1) / (7 * DAY)) as usize;
    let counts = eff::weekly_counts(in_area.iter().copied(), first_week, weeks);
    let tests = eff::anomalous_weeks(&counts, &config);
    let anomalous: Vec<serde_json::Value> = tests
        .iter()
        .filter(|t| t.anomalous)
        .map(|t| {
            serde_json::json!({
                "week": crate::time::format_date(first_week + 7 * DAY * t.index as i64),
                "observed": t.observed,
                "baseline": t.baseline,
                "p": t.p_value,
                "p_adjusted": t.adjusted_p,
            })
        })
        .collect();
    let handling = report.handling.map(|h| {
        serde_json::json!({
            "count": h.count,
            "mean_hours": h.mean_hours,
            "median_hours": h.median_hours,
            "p90_hours": h.p90_hours,
        })
    });
    let area = &ix.areas[q.area as usize].area;
    let body = serde_json::json!({
        "area": {"code": area.code, "name": area.name, "level": area.level.as_str()},
        "window": {"from": crate::time::format_date(window.from), "to": crate::time::format_date(window.to - 1), "timezone": "UTC+8"},
        "now": now,
        "events": report.events,
        "closed": report.closed,
        "open": report.open,
        "closure_rate": json_opt_f(report.closure_rate),
        "by_category": by_category,
        "disputes": report.disputes,
        "disputes_closed": report.disputes_closed,
        "disputes_mediated": report.disputes_mediated,
        "disputes_diverted": report.disputes_diverted,
        "mediation_rate": json_opt_f(report.mediation_rate_of_disputes),
        "mediation_rate_of_closed": json_opt_f(report.mediation_rate_of_closed),
        "handling_time": handling,
        "overdue": {
            "total": report.overdue,
            "open_overdue": report.overdue_open,
            "closed_late": report.closed_late,
        },
        "workload": {
            "unit": "grid (the events carry no worker id; each grid's events are its worker's load)",
            "grids": workload,
            "unassigned": report.unassigned,
        },
        "year_on_year": comparison_json(&yoy),
        "month_on_month": comparison_json(&mom),
        "by_area": by_area,
        "anomalous_weeks": {
            "method": "Poisson upper tail against the mean of the previous 8 weeks (rate floored), Benjamini-Hochberg across the weeks tested, alpha 0.05",
            "tested": tests.len(),
            "weeks": anomalous,
        },
        "inconsistent": report.inconsistent,
    });
    Ok((events.generation(), body))
}
