//! Model 5: closed-loop efficiency and trends.

use super::*;
use minqing_analysis::efficiency::Comparison;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EfficiencyQuery {
    pub area: u32,
    pub window: Option<Window>,
}

/// A category's key (`dispute`, …) from its index.
pub fn category_name(c: u8) -> &'static str {
    CATEGORIES.get(usize::from(c)).copied().unwrap_or("unknown")
}

/// Model 5's answer for an area and window: the domain's figures, which the HTTP crate
/// renders (this crate keeps no wire form of them).
#[derive(Debug, Clone)]
pub struct Efficiency {
    pub area: AreaSummary,
    /// The window asked for (or the default year) and the instant "now" it was read at.
    pub window: Window,
    pub now: i64,
    /// Model 5's figures over the area's events in the window. Its `workload` names
    /// grids by index; [`Efficiency::workload`] has them by code.
    pub report: minqing_analysis::efficiency::EfficiencyReport,
    /// The load of each grid (the events carry no worker id: each grid's events are its
    /// worker's load), sorted by grid index.
    pub workload: Vec<GridLoad>,
    /// The window against the same window a year before.
    pub year_on_year: Comparison,
    /// The last month of the window against the month before.
    pub month_on_month: Comparison,
    /// The area's children, each with its own changes.
    pub by_area: Vec<ChildChanges>,
    /// Weeks tested for anomalies, and those found anomalous.
    pub weeks_tested: usize,
    pub anomalous_weeks: Vec<AnomalousWeek>,
}

/// An area's code, name and level.
#[derive(Debug, Clone)]
pub struct AreaSummary {
    pub code: String,
    pub name: String,
    pub level: AreaLevel,
}

/// One grid's load in the window.
#[derive(Debug, Clone)]
pub struct GridLoad {
    /// The grid's code (`None` if the index has no such area).
    pub grid: Option<String>,
    pub open: u32,
    pub handled: u32,
    pub overdue_open: u32,
}

/// A child area's year-on-year and month-on-month changes.
#[derive(Debug, Clone)]
pub struct ChildChanges {
    pub code: String,
    pub name: String,
    pub year_on_year: Comparison,
    pub month_on_month: Comparison,
}

/// A week with significantly more events than its baseline.
#[derive(Debug, Clone)]
pub struct AnomalousWeek {
    /// Start of the week (Monday 00:00 UTC+8), Unix seconds.
    pub start: i64,
    pub observed: u32,
    pub baseline: f64,
    pub p: f64,
    pub p_adjusted: f64,
}

/// Model 5 for an area and window (cached, dropped when events change). The default
/// window is the calendar year (CST) of the latest event; when that is the current year,
/// it ends with today, so the year-on-year change compares the same days of the year
/// before, not a part of a year with a whole one.
pub fn efficiency(state: &App, q: EfficiencyQuery) -> Result<Arc<Efficiency>, Error> {
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
) -> Result<(u64, Efficiency), Error> {
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
    let workload: Vec<GridLoad> = report
        .workload
        .iter()
        .map(|w| GridLoad {
            grid: ix.areas.get(w.worker as usize).map(|a| a.area.code.clone()),
            open: w.open,
            handled: w.handled,
            overdue_open: w.overdue_open,
        })
        .collect();
    let yoy = eff::compare(in_area.iter().copied(), window, window.year_before());
    // Month-on-month for the last month of the window.
    let last_month = eff::cst_year_month(window.to.min(now).max(window.from + 1) - 1);
    let mom = eff::month_on_month(in_area.iter().copied(), last_month);
    // Children of the area, each with its own year-on-year and month-on-month change.
    let by_area: Vec<ChildChanges> = ix
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
            ChildChanges {
                code: a.area.code.clone(),
                name: a.area.name.clone(),
                year_on_year: eff::compare(evs.iter().copied(), window, window.year_before()),
                month_on_month: eff::month_on_month(evs.iter().copied(), last_month),
            }
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
    let anomalous_weeks: Vec<AnomalousWeek> = tests
        .iter()
        .filter(|t| t.anomalous)
        .map(|t| AnomalousWeek {
            start: first_week + 7 * DAY * t.index as i64,
            observed: t.observed,
            baseline: t.baseline,
            p: t.p_value,
            p_adjusted: t.adjusted_p,
        })
        .collect();
    let area = &ix.areas[q.area as usize].area;
    let result = Efficiency {
        area: AreaSummary {
            code: area.code.clone(),
            name: area.name.clone(),
            level: area.level,
        },
        window,
        now,
        report,
        workload,
        year_on_year: yoy,
        month_on_month: mom,
        by_area,
        weeks_tested: tests.len(),
        anomalous_weeks,
    };
    Ok((events.generation(), result))
}
