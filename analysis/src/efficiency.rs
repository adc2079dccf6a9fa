//! Model 5 — closed-loop efficiency and trends.
//!
//! Pure functions over plain [`EventFacts`]. The server passes its in-memory event
//! records (or any filtered iterator over them, e.g. one area's events) plus the
//! window and the reference time `now`; nothing here reads a clock.
//!
//! # Definitions
//!
//! All figures of [`efficiency`] are over the events **accepted** in the window
//! `[from, to)`, as seen at `now` (so a past state can be replayed):
//!
//! * **closed**: `closed_at` is set and `≤ now`. **Closure rate** = closed / events.
//! * **Mediation** (disputes only, [`category::DISPUTE`]): a dispute is *mediated*
//!   when it is closed, `resolved_by_mediation` is set and it was not `diverted` to
//!   arbitration, review, ruling or litigation. Two rates are given, with explicit
//!   denominators:
//!   - [`EfficiencyReport::mediation_rate_of_disputes`] = mediated / all disputes
//!     accepted in the window. This is the seed's "63.69% of civil and commercial
//!     disputes settled by mediation".
//!   - [`EfficiencyReport::mediation_rate_of_closed`] = mediated / closed disputes:
//!     how often mediation succeeds among disputes that have finished.
//! * **Handling time**: `closed_at − accepted_at` of closed events, in hours; mean,
//!   median and 90th percentile, with percentiles linearly interpolated between
//!   order statistics (the default of numpy's `percentile`). Events closed before
//!   they were accepted are inconsistent: they are counted in
//!   [`EfficiencyReport::inconsistent`] and left out of handling times.
//! * **Overdue**: open at `now` with `deadline < now`, plus closed with
//!   `closed_at > deadline` (closed late). Both are reported separately too.
//! * **Workload** per worker: open and handled (closed) events of the window, and
//!   open overdue ones.
//!
//! # Calendar
//!
//! Month and week buckets use China Standard Time (UTC+8, no daylight saving), with
//! proleptic-Gregorian day arithmetic on unix seconds ([`cst_date`],
//! [`month_start`]); weeks start on Monday 00:00 CST ([`week_start`]).
//!
//! # Anomalous weeks
//!
//! [`anomalous_weeks`] tests each week's count *k* against a Poisson model whose rate
//! λ is the mean of the previous `baseline_weeks` weeks (8 by default), floored at
//! `min_rate` so that a quiet baseline of zeros does not make every single event
//! "infinitely" surprising. The one-sided p-value is `P(X ≥ k | λ)`, computed
//! exactly as the regularised lower incomplete gamma function `P(k, λ)`
//! ([`poisson_upper_tail`]). Weeks without a full baseline are not tested. The
//! p-values of all tested weeks form one family and are adjusted for multiple
//! testing — Benjamini–Hochberg by default (controls the false discovery rate,
//! suitable for scanning a year of weeks), or Bonferroni (family-wise error rate,
//! stricter) — and a week is flagged when its adjusted p-value is `≤ alpha`.
//! The baseline is a plain trailing mean: a flagged surge is not removed from the
//! baselines of the following weeks, which makes a lasting level shift stop being
//! flagged after a few weeks — intended, since it is then the new normal.

use crate::population::YearMonth;

/// Event categories as used by [`EventFacts::category`].
pub mod category {
    /// 矛盾纠纷 — civil and commercial disputes.
    pub const DISPUTE: u8 = 0;
    /// 信访事项 — petition matters.
    pub const PETITION: u8 = 1;
    /// 咨询服务 — consultation service.
    pub const CONSULTATION: u8 = 2;
    /// Public-safety hazard.
    pub const SAFETY_HAZARD: u8 = 3;
    /// Any other service request.
    pub const OTHER_SERVICE: u8 = 4;
}

/// Intake sources as used by [`EventFacts::source`].
pub mod source {
    pub const HIGHER_LEVEL: u8 = 0;
    pub const TOWNSHIP: u8 = 1;
    pub const DEPARTMENT: u8 = 2;
    pub const GRID_WORKER: u8 = 3;
    pub const VISITOR: u8 = 4;
}

/// What the model needs to know about one event. Times are unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts {
    pub category: u8,
    pub source: u8,
    pub accepted_at: i64,
    pub closed_at: Option<i64>,
    /// Settled by one of the mediation organisations.
    pub resolved_by_mediation: bool,
    /// Diverted by law to arbitration, administrative review, ruling or litigation.
    pub diverted: bool,
    pub deadline: i64,
    pub worker: Option<u32>,
    /// The server's area id (grid, community, …); not interpreted here.
    pub area: u32,
}

impl EventFacts {
    /// Closed at or before `now`.
    pub fn is_closed_at(&self, now: i64) -> bool {
        self.closed_at.is_some_and(|c| c <= now)
    }
}

/// A half-open time interval `[from, to)` in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    pub const fn new(from: i64, to: i64) -> Self {
        Self { from, to }
    }

    pub fn contains(&self, t: i64) -> bool {
        self.from <= t && t < self.to
    }

    /// The calendar month `ym` in CST.
    pub fn month(ym: YearMonth) -> Self {
        Self::new(month_start(ym), month_start(add_months(ym, 1)))
    }

    /// The calendar year in CST.
    pub fn year(year: u16) -> Self {
        Self::new(
            month_start(YearMonth::new(year, 1)),
            month_start(YearMonth::new(year.saturating_add(1), 1)),
        )
    }

    /// The same window shifted back by one calendar year when it is a whole number
    /// of CST months; otherwise shifted by 365 days.
    pub fn year_before(&self) -> Self {
        match (month_of_start(self.from), month_of_start(self.to)) {
            (Some(a), Some(b)) => Self::new(
                month_start(add_months(a, -12)),
                month_start(add_months(b, -12)),
            ),
            _ => Self::new(
                self.from.saturating_sub(365 * DAY),
                self.to.saturating_sub(365 * DAY),
            ),
        }
    }
}

const DAY: i64 = 86_400;
/// Offset of China Standard Time from UTC.
pub const CST_OFFSET_SECONDS: i64 = 8 * 3600;

/// Days since 1970-01-01 of a proleptic-Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The CST calendar date `(year, month, day)` of a unix time.
pub fn cst_date(t: i64) -> (i64, u32, u32) {
    civil_from_days((t.saturating_add(CST_OFFSET_SECONDS)).div_euclid(DAY))
}

/// The CST year-month of a unix time (years outside `u16` are clamped).
pub fn cst_year_month(t: i64) -> YearMonth {
    let (y, m, _) = cst_date(t);
    YearMonth::new(y.clamp(0, i64::from(u16::MAX)) as u16, m as u8)
}

/// Unix time of 00:00 CST on the first day of `ym`. A month outside 1..=12 is
/// clamped into range.
pub fn month_start(ym: YearMonth) -> i64 {
    let m = u32::from(ym.month.clamp(1, 12));
    days_from_civil(i64::from(ym.year), m, 1) * DAY - CST_OFFSET_SECONDS
}

/// `ym` moved by `months` (negative = back), saturating at year 0 and 65535.
pub fn add_months(ym: YearMonth, months: i32) -> YearMonth {
    let index = i64::from(ym.year) * 12 + i64::from(ym.month.clamp(1, 12)) - 1 + i64::from(months);
    let index = index.clamp(0, i64::from(u16::MAX) * 12 + 11);
    YearMonth::new((index / 12) as u16, (index % 12 + 1) as u8)
}

/// `Some(ym)` when `t` is exactly the start of a CST month.
fn month_of_start(t: i64) -> Option<YearMonth> {
    let ym = cst_year_month(t);
    (month_start(ym) == t).then_some(ym)
}

/// Unix time of the Monday 00:00 CST starting the week that contains `t`.
pub fn week_start(t: i64) -> i64 {
    let day = t.saturating_add(CST_OFFSET_SECONDS).div_euclid(DAY);
    // 1970-01-01 was a Thursday: Monday-based weekday index is (day + 3) mod 7.
    let monday = day - (day + 3).rem_euclid(7);
    monday
        .saturating_mul(DAY)
        .saturating_sub(CST_OFFSET_SECONDS)
}

/// Events and closures of one category in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryCounts {
    pub category: u8,
    pub events: u32,
    pub closed: u32,
}

/// Handling-time statistics, in hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandlingTime {
    /// Closed events measured.
    pub count: u32,
    pub mean_hours: f64,
    pub median_hours: f64,
    pub p90_hours: f64,
}

/// One worker's load in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLoad {
    pub worker: u32,
    pub open: u32,
    pub handled: u32,
    pub overdue_open: u32,
}

/// The figures of model 5 for one window. See the module docs for definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct EfficiencyReport {
    pub window: Window,
    pub now: i64,
    pub events: u32,
    pub closed: u32,
    pub open: u32,
    pub closure_rate: Option<f64>,
    /// Sorted by category.
    pub by_category: Vec<CategoryCounts>,
    pub disputes: u32,
    pub disputes_closed: u32,
    pub disputes_mediated: u32,
    pub disputes_diverted: u32,
    /// Mediated / all disputes accepted in the window (the seed's 63.69%).
    pub mediation_rate_of_disputes: Option<f64>,
    /// Mediated / closed disputes.
    pub mediation_rate_of_closed: Option<f64>,
    pub handling: Option<HandlingTime>,
    pub overdue_open: u32,
    pub closed_late: u32,
    /// `overdue_open + closed_late`.
    pub overdue: u32,
    /// Sorted by worker id.
    pub workload: Vec<WorkerLoad>,
    /// Events in the window without a worker.
    pub unassigned: u32,
    /// Events closed before they were accepted (excluded from handling times).
    pub inconsistent: u32,
}

/// Model 5 figures over the events accepted in `window`, as of `now`.
pub fn efficiency<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    window: Window,
    now: i64,
) -> EfficiencyReport {
    let mut r = EfficiencyReport {
        window,
        now,
        events: 0,
        closed: 0,
        open: 0,
        closure_rate: None,
        by_category: Vec::new(),
        disputes: 0,
        disputes_closed: 0,
        disputes_mediated: 0,
        disputes_diverted: 0,
        mediation_rate_of_disputes: None,
        mediation_rate_of_closed: None,
        handling: None,
        overdue_open: 0,
        closed_late: 0,
        overdue: 0,
        workload: Vec::new(),
        unassigned: 0,
        inconsistent: 0,
    };
    let mut per_category = [(0u32, 0u32); 256];
    let mut hours = Vec::new();
    let mut loads: Vec<WorkerLoad> = Vec::new();

    for e in events {
        if !window.contains(e.accepted_at) {
            continue;
        }
        inc(&mut r.events);
        let closed = e.is_closed_at(now);
        let cat = &mut per_category[usize::from(e.category)];
        inc(&mut cat.0);
        let overdue_open = !closed && e.deadline < now;
        if closed {
            inc(&mut r.closed);
            inc(&mut cat.1);
            let c = e.closed_at.unwrap_or(e.accepted_at);
            if c > e.deadline {
                inc(&mut r.closed_late);
            }
            if c >= e.accepted_at {
                hours.push(c.saturating_sub(e.accepted_at) as f64 / 3600.0);
            } else {
                inc(&mut r.inconsistent);
            }
        } else {
            inc(&mut r.open);
            if overdue_open {
                inc(&mut r.overdue_open);
            }
        }
        if e.category == category::DISPUTE {
            inc(&mut r.disputes);
            if e.diverted {
                inc(&mut r.disputes_diverted);
            }
            if closed {
                inc(&mut r.disputes_closed);
                if e.resolved_by_mediation && !e.diverted {
                    inc(&mut r.disputes_mediated);
                }
            }
        }
        match e.worker {
            Some(w) => loads.push(WorkerLoad {
                worker: w,
                open: u32::from(!closed),
                handled: u32::from(closed),
                overdue_open: u32::from(overdue_open),
            }),
            None => inc(&mut r.unassigned),
        }
    }

    r.closure_rate = ratio(r.closed, r.events);
    r.mediation_rate_of_disputes = ratio(r.disputes_mediated, r.disputes);
    r.mediation_rate_of_closed = ratio(r.disputes_mediated, r.disputes_closed);
    r.overdue = r.overdue_open.saturating_add(r.closed_late);
    r.by_category = per_category
        .iter()
        .enumerate()
        .filter(|(_, c)| c.0 > 0)
        .map(|(i, &(events, closed))| CategoryCounts {
            category: i as u8,
            events,
            closed,
        })
        .collect();
    r.handling = handling_time(&mut hours);
    r.workload = fold_loads(loads);
    r
}

/// Sorts per-event loads by worker and sums runs: simpler and, for tens of
/// thousands of events, as fast as a hash map.
fn fold_loads(mut loads: Vec<WorkerLoad>) -> Vec<WorkerLoad> {
    loads.sort_unstable_by_key(|l| l.worker);
    let mut out: Vec<WorkerLoad> = Vec::new();
    for l in loads {
        match out.last_mut() {
            Some(last) if last.worker == l.worker => {
                last.open = last.open.saturating_add(l.open);
                last.handled = last.handled.saturating_add(l.handled);
                last.overdue_open = last.overdue_open.saturating_add(l.overdue_open);
            }
            _ => out.push(l),
        }
    }
    out
}

fn handling_time(hours: &mut [f64]) -> Option<HandlingTime> {
    if hours.is_empty() {
        return None;
    }
    hours.sort_unstable_by(f64::total_cmp);
    Some(HandlingTime {
        count: u32::try_from(hours.len()).unwrap_or(u32::MAX),
        mean_hours: hours.iter().sum::<f64>() / hours.len() as f64,
        median_hours: percentile_sorted(hours, 0.5),
        p90_hours: percentile_sorted(hours, 0.9),
    })
}

/// Percentile `q` (0..=1) of sorted, non-empty `xs`, linearly interpolated between
/// order statistics (numpy's default). Returns NaN for empty input.
pub fn percentile_sorted(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let h = (xs.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

/// A count now and in a comparison period, with the relative change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub current: u32,
    pub previous: u32,
    /// `(current − previous) / previous`, e.g. −0.18 for "18% fewer"; `None` when
    /// `previous` is 0.
    pub relative: Option<f64>,
}

impl Change {
    pub fn new(current: u32, previous: u32) -> Self {
        Self {
            current,
            previous,
            relative: (previous > 0)
                .then(|| (f64::from(current) - f64::from(previous)) / f64::from(previous)),
        }
    }
}

/// Change of one category's event count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CategoryChange {
    pub category: u8,
    pub change: Change,
}

/// Event counts of two windows, in total and per category.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub current: Window,
    pub previous: Window,
    pub total: Change,
    /// Every category present in either window, sorted.
    pub by_category: Vec<CategoryChange>,
}

/// Counts events accepted in `current` and in `previous`, per category. For
/// year-on-year pass `w` and `w.year_before()`; for month-on-month the month and
/// the one before ([`month_on_month`]).
pub fn compare<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    current: Window,
    previous: Window,
) -> Comparison {
    let mut cur = [0u32; 256];
    let mut prev = [0u32; 256];
    for e in events {
        if current.contains(e.accepted_at) {
            inc(&mut cur[usize::from(e.category)]);
        }
        if previous.contains(e.accepted_at) {
            inc(&mut prev[usize::from(e.category)]);
        }
    }
    let sum = |a: &[u32; 256]| a.iter().fold(0u32, |s, &x| s.saturating_add(x));
    Comparison {
        current,
        previous,
        total: Change::new(sum(&cur), sum(&prev)),
        by_category: (0..256)
            .filter(|&i| cur[i] > 0 || prev[i] > 0)
            .map(|i| CategoryChange {
                category: i as u8,
                change: Change::new(cur[i], prev[i]),
            })
            .collect(),
    }
}

/// Month `ym` against the same month a year earlier.
pub fn year_on_year<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    ym: YearMonth,
) -> Comparison {
    compare(
        events,
        Window::month(ym),
        Window::month(add_months(ym, -12)),
    )
}

/// Month `ym` against the month before.
pub fn month_on_month<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    ym: YearMonth,
) -> Comparison {
    compare(events, Window::month(ym), Window::month(add_months(ym, -1)))
}

/// Calendar year `year` against the year before (the seed's "−18% disputes").
pub fn annual_change<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    year: u16,
) -> Comparison {
    compare(
        events,
        Window::year(year),
        Window::year(year.saturating_sub(1)),
    )
}

/// Longest series [`monthly_counts`] and [`weekly_counts`] build (a century):
/// longer requests are cut, so a bad argument cannot exhaust memory.
pub const MAX_SERIES_YEARS: usize = 100;

/// Events accepted per CST month, for `months` months from `first` (at most
/// 12 · [`MAX_SERIES_YEARS`]).
pub fn monthly_counts<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    first: YearMonth,
    months: usize,
) -> Vec<u32> {
    let months = months.min(12 * MAX_SERIES_YEARS);
    let mut counts = vec![0u32; months];
    let starts: Vec<i64> = (0..=months)
        .map(|i| month_start(add_months(first, i32::try_from(i).unwrap_or(i32::MAX))))
        .collect();
    for e in events {
        // Months differ in length, so locate the bucket by binary search.
        let i = starts.partition_point(|&s| s <= e.accepted_at);
        if i >= 1 && i <= months {
            inc(&mut counts[i - 1]);
        }
    }
    counts
}

/// Events accepted per week for `weeks` weeks from `first_week` (a unix time,
/// normally a [`week_start`]); the buckets are `[first_week + 7d·i, … + 7d)`
/// (at most 53 · [`MAX_SERIES_YEARS`] weeks).
pub fn weekly_counts<'a>(
    events: impl IntoIterator<Item = &'a EventFacts>,
    first_week: i64,
    weeks: usize,
) -> Vec<u32> {
    let weeks = weeks.min(53 * MAX_SERIES_YEARS);
    let mut counts = vec![0u32; weeks];
    for e in events {
        let offset = e.accepted_at.saturating_sub(first_week);
        if offset >= 0 {
            let i = (offset / (7 * DAY)) as usize;
            if let Some(c) = counts.get_mut(i) {
                inc(c);
            }
        }
    }
    counts
}

/// `P(X ≥ k)` for `X ~ Poisson(lambda)`, via the regularised lower incomplete gamma
/// function `P(k, λ)` from `statrs` (a power series in the upper tail, so small
/// p-values keep their relative accuracy: the tests agree with scipy to 1e-12
/// down to 1e-31; values below about 1e-308 underflow to 0). `k = 0` gives 1; `λ ≤ 0` gives 0 for
/// `k > 0`; a NaN `λ` gives NaN.
pub fn poisson_upper_tail(k: u32, lambda: f64) -> f64 {
    if lambda.is_nan() {
        return f64::NAN;
    }
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda == f64::INFINITY {
        return 1.0;
    }
    statrs::function::gamma::checked_gamma_lr(f64::from(k), lambda).unwrap_or(f64::NAN)
}

/// Multiple-testing correction for [`anomalous_weeks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// Raw p-values (one test only, or exploratory use).
    None,
    /// `p · m`, capped at 1: family-wise error rate.
    Bonferroni,
    /// Benjamini–Hochberg step-up adjusted p-values: false discovery rate.
    BenjaminiHochberg,
}

/// Settings of [`anomalous_weeks`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyConfig {
    /// Trailing weeks averaged into the baseline rate.
    pub baseline_weeks: usize,
    /// Flag when the adjusted p-value is `≤ alpha`.
    pub alpha: f64,
    pub correction: Correction,
    /// Floor of the baseline rate (events per week).
    pub min_rate: f64,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            baseline_weeks: 8,
            alpha: 0.05,
            correction: Correction::BenjaminiHochberg,
            min_rate: 0.5,
        }
    }
}

/// The test of one week.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeekTest {
    /// Index into the `counts` passed in.
    pub index: usize,
    pub observed: u32,
    /// λ: the trailing mean, floored at `min_rate`.
    pub baseline: f64,
    /// `P(X ≥ observed | λ)`.
    pub p_value: f64,
    pub adjusted_p: f64,
    pub anomalous: bool,
}

/// Tests every week with a full trailing baseline (indexes `baseline_weeks..`) for
/// an unusually high count. See the module docs.
pub fn anomalous_weeks(counts: &[u32], config: &AnomalyConfig) -> Vec<WeekTest> {
    let b = config.baseline_weeks;
    if b == 0 || counts.len() <= b {
        return Vec::new();
    }
    let floor = if config.min_rate.is_finite() && config.min_rate > 0.0 {
        config.min_rate
    } else {
        0.0
    };
    let mut window_sum: u64 = counts[..b].iter().map(|&c| u64::from(c)).sum();
    let mut tests = Vec::with_capacity(counts.len() - b);
    for i in b..counts.len() {
        let baseline = (window_sum as f64 / b as f64).max(floor);
        let p = poisson_upper_tail(counts[i], baseline);
        tests.push(WeekTest {
            index: i,
            observed: counts[i],
            baseline,
            p_value: p,
            adjusted_p: p,
            anomalous: false,
        });
        window_sum = window_sum + u64::from(counts[i]) - u64::from(counts[i - b]);
    }
    let p: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
    let adjusted = adjust_p_values(&p, config.correction);
    for (t, a) in tests.iter_mut().zip(adjusted) {
        t.adjusted_p = a;
        t.anomalous = a <= config.alpha;
    }
    tests
}

/// Adjusted p-values under `correction`, in the input order. NaN p-values stay NaN
/// and never count as discoveries; they are still counted in the family size `m`.
pub fn adjust_p_values(p: &[f64], correction: Correction) -> Vec<f64> {
    let m = p.len() as f64;
    match correction {
        Correction::None => p.to_vec(),
        Correction::Bonferroni => p.iter().map(|&x| (x * m).min(1.0)).collect(),
        Correction::BenjaminiHochberg => {
            let mut order: Vec<usize> = (0..p.len()).collect();
            // NaN sorts last so it never lowers a smaller p-value's adjustment.
            let key = |i: usize| if p[i].is_nan() { f64::INFINITY } else { p[i] };
            order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
            let mut out = vec![f64::NAN; p.len()];
            let mut running = 1.0f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                if p[i].is_nan() {
                    continue;
                }
                let q = p[i] * m / (rank + 1) as f64;
                running = running.min(q);
                out[i] = running.min(1.0);
            }
            out
        }
    }
}

fn inc(x: &mut u32) {
    *x = x.saturating_add(1);
}

fn ratio(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}
