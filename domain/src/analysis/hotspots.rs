//! Model 3: Getis-Ord Gi* hot spots and emerging (space-time) hot spots.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HotspotQuery {
    pub resolution: u8,
    pub window: Option<Window>,
    pub category: Option<u8>,
    pub source: Option<u8>,
}

impl Default for HotspotQuery {
    fn default() -> Self {
        Self {
            resolution: DEFAULT_RESOLUTION,
            window: None,
            category: None,
            source: None,
        }
    }
}

pub(crate) fn event_matches(
    f: &EventFacts,
    window: Option<Window>,
    category: Option<u8>,
    source: Option<u8>,
) -> bool {
    window.is_none_or(|w| w.contains(f.accepted_at))
        && category.is_none_or(|c| c == f.category)
        && source.is_none_or(|s| s == f.source)
}

pub struct HotspotResult {
    pub area: Arc<StudyArea>,
    pub report: HotspotReport,
    pub events: usize,
    pub outside: usize,
    /// ArcGIS default search radius of the quartic KDE for these events, metres of
    /// Web Mercator.
    pub kde_bandwidth_m: Option<f64>,
}

/// Web Mercator metres of a lon/lat point.
pub fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    let x = R * lon.to_radians();
    let y = R
        * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln();
    (x, y)
}

/// Gi* over the filtered events, uncached (the cached entry point is [`hotspots`]).
pub fn compute_hotspots(
    area: Arc<StudyArea>,
    events: &EventModels,
    q: HotspotQuery,
) -> Result<HotspotResult, Error> {
    let selected: Vec<(f64, f64)> = events
        .facts
        .iter()
        .zip(&events.points)
        .filter(|(f, _)| event_matches(f, q.window, q.category, q.source))
        .map(|(_, p)| *p)
        .collect();
    let counts = area.count_points(selected.iter().copied());
    let report = minqing_analysis::hotspot::gi_star(&area, &counts.counts)
        .map_err(|e| Error::Unprocessable(format!("hot spot analysis: {e}")))?;
    let projected: Vec<(f64, f64)> = selected.iter().map(|&(x, y)| mercator(x, y)).collect();
    let kde_bandwidth_m = minqing_analysis::kde::default_bandwidth(&projected, None);
    Ok(HotspotResult {
        area,
        report,
        events: selected.len(),
        outside: counts.outside + counts.invalid,
        kde_bandwidth_m,
    })
}

/// Gi* over the filtered events (cached per query, dropped when events change).
pub fn hotspots(state: &App, q: HotspotQuery) -> Result<Arc<HotspotResult>, Error> {
    hotspots_with(state, q, Priority::Request)
}

/// [`hotspots`], waiting for a computation with `priority`.
pub fn hotspots_with(
    state: &App,
    q: HotspotQuery,
    priority: Priority,
) -> Result<Arc<HotspotResult>, Error> {
    let ix = state.index()?;
    let an = &state.analysis;
    an.cached(
        |c| &mut c.hotspots,
        q,
        priority,
        || {
            let area = an.study_area(&ix, q.resolution)?;
            let events = an.events(state, &ix);
            Ok((events.generation(), compute_hotspots(area, &events, q)?))
        },
    )
}

/// One hexagon of the `hotspots` tile layer.
#[derive(Debug, Clone)]
pub struct HotspotCellFeature {
    pub cell: String,
    /// Closed ring of lon/lat vertices.
    pub boundary: Vec<(f64, f64)>,
    pub count: f64,
    pub gi_z: f64,
    /// Two-sided p-value of `gi_z` (before the FDR correction that decides `class`).
    pub p: f64,
    pub class: &'static str,
}

/// The `hotspots` tile layer: every cell of the default query (all events,
/// resolution 9) with its boundary, z and class.
pub fn hotspot_layer(state: &App) -> Result<Vec<HotspotCellFeature>, Error> {
    let r = hotspots_with(state, HotspotQuery::default(), Priority::TileFeed)?;
    Ok(r.report
        .cells
        .iter()
        .filter_map(|c| {
            let cell = h3o::CellIndex::try_from(c.cell).ok()?;
            let mut boundary: Vec<(f64, f64)> =
                cell.boundary().iter().map(|v| (v.lng(), v.lat())).collect();
            if let Some(&first) = boundary.first() {
                boundary.push(first);
            }
            Some(HotspotCellFeature {
                cell: cell.to_string(),
                boundary,
                count: c.count,
                gi_z: c.gi_z,
                p: c.p,
                class: c.class.as_str(),
            })
        })
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmergingQuery {
    pub step: Step,
    pub resolution: u8,
    pub window: Option<Window>,
    pub category: Option<u8>,
    pub source: Option<u8>,
}

pub struct EmergingResult {
    pub report: minqing_analysis::emerging::EmergingReport,
    /// Start of each step (unix seconds).
    pub step_starts: Vec<i64>,
    pub end: i64,
    pub events: usize,
}

/// Emerging hot spots, uncached (the cached entry point is [`emerging`]).
pub fn compute_emerging(
    area: &StudyArea,
    events: &EventModels,
    q: EmergingQuery,
) -> Result<EmergingResult, Error> {
    use minqing_analysis::efficiency::{add_months, cst_year_month, month_start, week_start};
    let (Some(first), Some(last)) = (events.first_at, events.last_at) else {
        return Err(Error::Unprocessable(
            "there are no events to analyse".into(),
        ));
    };
    let from = q.window.map_or(first, |w| w.from.max(first.min(w.to)));
    let to = q
        .window
        .map_or(last + 1, |w| w.to.min(last + 1).max(w.from + 1));
    let mut step_starts = Vec::new();
    match q.step {
        Step::Month => {
            let mut ym = cst_year_month(from);
            while month_start(ym) < to && step_starts.len() <= MAX_STEPS {
                step_starts.push(month_start(ym));
                ym = add_months(ym, 1);
            }
            step_starts.push(month_start(ym));
        }
        Step::Week => {
            let mut w = week_start(from);
            while w < to && step_starts.len() <= MAX_STEPS {
                step_starts.push(w);
                w += 7 * DAY;
            }
            step_starts.push(w);
        }
    }
    let end = step_starts.pop().unwrap_or(to);
    if step_starts.len() > MAX_STEPS {
        return Err(Error::Invalid(format!(
            "the window has more than {MAX_STEPS} steps; choose a shorter window or monthly steps"
        )));
    }
    if step_starts.len() < 2 {
        return Err(Error::Invalid(
            "the window must span at least two steps".into(),
        ));
    }
    let window = Window::new(from, to);
    let mut cube = vec![vec![0.0; area.len()]; step_starts.len()];
    let mut counted = 0;
    for (f, &(lon, lat)) in events.facts.iter().zip(&events.points) {
        if !event_matches(f, Some(window), q.category, q.source) {
            continue;
        }
        let t = step_starts.partition_point(|&s| s <= f.accepted_at);
        if t == 0 || f.accepted_at >= end {
            continue;
        }
        if let Some(c) = area.locate(lon, lat) {
            cube[t - 1][c] += 1.0;
            counted += 1;
        }
    }
    let report = minqing_analysis::emerging::analyse(area, &cube, &Default::default())
        .map_err(|e| Error::Unprocessable(format!("emerging hot spot analysis: {e}")))?;
    Ok(EmergingResult {
        report,
        step_starts,
        end,
        events: counted,
    })
}

/// Emerging hot spots over weekly or monthly steps (cached, dropped when events change).
pub fn emerging(state: &App, q: EmergingQuery) -> Result<Arc<EmergingResult>, Error> {
    let ix = state.index()?;
    let an = &state.analysis;
    an.cached(
        |c| &mut c.emerging,
        q,
        Priority::Request,
        || {
            let area = an.study_area(&ix, q.resolution)?;
            let events = an.events(state, &ix);
            Ok((events.generation(), compute_emerging(&area, &events, q)?))
        },
    )
}

/// Class name as the API spells it.
pub fn class_name(c: HotspotClass) -> &'static str {
    c.as_str()
}
