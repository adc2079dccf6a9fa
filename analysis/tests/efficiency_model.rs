//! Model 5: closure, mediation, handling time, overdue, workload, changes,
//! calendar buckets and the Poisson anomaly test.

use minqing_analysis::efficiency::{
    AnomalyConfig, Correction, EventFacts, Window, add_months, adjust_p_values, annual_change,
    anomalous_weeks, category, compare, cst_date, efficiency, month_on_month, month_start,
    monthly_counts, percentile_sorted, poisson_upper_tail, week_start, weekly_counts, year_on_year,
};
use minqing_analysis::population::YearMonth;

const H: i64 = 3600;
const D: i64 = 86_400;

/// 2024-01-01 00:00 CST = 2023-12-31 16:00 UTC.
const JAN_2024_CST: i64 = 1_704_038_400;

fn ev(category: u8, accepted_at: i64) -> EventFacts {
    EventFacts {
        category,
        source: 0,
        accepted_at,
        closed_at: None,
        resolved_by_mediation: false,
        diverted: false,
        deadline: accepted_at + 10 * D,
        worker: None,
        area: 0,
    }
}

fn closed(mut e: EventFacts, after_hours: i64) -> EventFacts {
    e.closed_at = Some(e.accepted_at + after_hours * H);
    e
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    if a == b {
        return true;
    }
    ((a - b) / b).abs() <= tol
}

#[test]
fn poisson_tail_matches_scipy() {
    // Generated with:
    //   from scipy.stats import poisson
    //   for k, l in cases: print((k, l, poisson.sf(k - 1, l)))   # P(X >= k)
    // (scipy 1.x, Python 3.11)
    let cases: &[(u32, f64, f64)] = &[
        (1, 0.5, 0.3934693402873665),
        (3, 0.5, 0.014387677966970684),
        (5, 1.0, 0.003659846827343713),
        (10, 2.0, 4.649807501726386e-05),
        (20, 5.0, 3.452135820914455e-07),
        (30, 10.0, 2.509951201527959e-07),
        (50, 10.0, 1.8547268838698457e-19),
        (100, 40.0, 1.2062542053086358e-15),
        (7, 7.0, 0.5502889441513008),
        (3, 10.0, 0.9972306042844884),
        (12, 12.5, 0.5942393111885174),
        (200, 100.0, 9.343150072988544e-19),
        (40, 3.0, 8.003095092522039e-31),
        (1, 0.001, 0.0009995001666250082),
        (60, 20.0, 4.2332846947129256e-13),
    ];
    for &(k, lambda, expected) in cases {
        let got = poisson_upper_tail(k, lambda);
        assert!(
            rel_close(got, expected, 1e-12),
            "P(X >= {k} | {lambda}) = {got:e}, scipy says {expected:e}"
        );
    }
}

#[test]
fn poisson_tail_edges() {
    let check = |k: u32, lambda: f64, expected: f64| {
        let got = poisson_upper_tail(k, lambda);
        assert_eq!(got, expected, "k={k} lambda={lambda}");
    };
    check(0, 3.0, 1.0);
    check(0, 0.0, 1.0);
    check(1, 0.0, 0.0);
    check(4, -1.0, 0.0);
    check(4, f64::INFINITY, 1.0);
    assert!(poisson_upper_tail(4, f64::NAN).is_nan());
    // k = 1 has the closed form 1 - e^-λ.
    for lambda in [0.1f64, 1.0, 3.5, 20.0] {
        let exact = 1.0 - (-lambda).exp();
        assert!(rel_close(poisson_upper_tail(1, lambda), exact, 1e-13));
    }
}

#[test]
fn calendar_is_china_standard_time() {
    // (unix seconds, CST date) checked with Python's
    // `datetime.fromtimestamp(t, timezone(timedelta(hours=8)))`.
    let cases: &[(i64, (i64, u32, u32))] = &[
        (0, (1970, 1, 1)),
        (JAN_2024_CST, (2024, 1, 1)),
        (JAN_2024_CST - 1, (2023, 12, 31)),
        (1_709_222_400, (2024, 3, 1)), // leap year: 2024-02-29 + 1 day
        (1_709_222_400 - 1, (2024, 2, 29)),
        (951_753_600, (2000, 2, 29)), // 2000-02-29 00:00 CST
        (-28_800, (1970, 1, 1)),      // 1970-01-01 00:00 CST
        (-28_801, (1969, 12, 31)),
    ];
    for &(t, date) in cases {
        assert_eq!(cst_date(t), date, "t = {t}");
    }
    assert_eq!(month_start(YearMonth::new(2024, 1)), JAN_2024_CST);
    assert_eq!(month_start(YearMonth::new(2024, 3)), 1_709_222_400);
    assert_eq!(
        add_months(YearMonth::new(2024, 1), -1),
        YearMonth::new(2023, 12)
    );
    assert_eq!(
        add_months(YearMonth::new(2024, 11), 14),
        YearMonth::new(2026, 1)
    );
    let y = Window::year(2024);
    assert_eq!(y.to - y.from, 366 * D);
    assert_eq!(y.year_before(), Window::year(2023));
    // 2024-01-01 was a Monday; 2024-01-07 23:59:59 CST is in the same week.
    assert_eq!(week_start(JAN_2024_CST + 7 * D - 1), JAN_2024_CST);
    assert_eq!(week_start(JAN_2024_CST + 7 * D), JAN_2024_CST + 7 * D);
    assert_eq!(week_start(JAN_2024_CST + 3 * D + 5 * H), JAN_2024_CST);
}

#[test]
fn percentiles_interpolate_like_numpy() {
    // numpy.percentile([5,1,9,3,7,2], [50, 90]) == [4.0, 8.0]
    let mut xs = vec![5.0, 1.0, 9.0, 3.0, 7.0, 2.0];
    xs.sort_by(f64::total_cmp);
    assert_eq!(percentile_sorted(&xs, 0.5), 4.0);
    assert_eq!(percentile_sorted(&xs, 0.9), 8.0);
    assert_eq!(percentile_sorted(&[10.0], 0.9), 10.0);
    assert!(percentile_sorted(&[], 0.5).is_nan());
}

#[test]
fn efficiency_figures_on_a_hand_made_window() {
    let t0 = JAN_2024_CST;
    let now = t0 + 30 * D;
    let mut events = vec![
        // 0: dispute, mediated, closed after 10 h, worker 7
        closed(ev(category::DISPUTE, t0), 10),
        // 1: dispute, closed after 30 h but diverted to litigation, worker 7
        closed(ev(category::DISPUTE, t0 + D), 30),
        // 2: dispute, open, deadline passed, worker 8
        ev(category::DISPUTE, t0 + 2 * D),
        // 3: petition closed late after 20 days (deadline 10 days), worker 8
        closed(ev(category::PETITION, t0 + 3 * D), 20 * 24),
        // 4: consultation open, deadline still ahead, no worker
        ev(category::CONSULTATION, now - D),
        // 5: outside the window (previous year), must be ignored
        closed(ev(category::DISPUTE, t0 - 5 * D), 1),
        // 6: closed "in the future" relative to now: still open as of now
        closed(ev(category::DISPUTE, t0 + 25 * D), 10 * 24),
    ];
    events[0].resolved_by_mediation = true;
    events[0].worker = Some(7);
    events[1].resolved_by_mediation = true; // but diverted: not a mediation success
    events[1].diverted = true;
    events[1].worker = Some(7);
    events[2].worker = Some(8);
    events[3].worker = Some(8);
    events[6].worker = Some(7);

    let r = efficiency(&events, Window::new(t0, t0 + 31 * D), now);
    assert_eq!(r.events, 6);
    assert_eq!(r.closed, 3);
    assert_eq!(r.open, 3);
    assert_eq!(r.closure_rate, Some(0.5));
    assert_eq!(r.disputes, 4);
    assert_eq!(r.disputes_closed, 2);
    assert_eq!(r.disputes_mediated, 1);
    assert_eq!(r.disputes_diverted, 1);
    assert_eq!(r.mediation_rate_of_disputes, Some(0.25));
    assert_eq!(r.mediation_rate_of_closed, Some(0.5));
    let h = r.handling.expect("closed events exist");
    // handling hours 10, 30, 480: numpy.percentile(..., [50, 90]) = [30, 390]
    assert_eq!(h.count, 3);
    assert_eq!(h.median_hours, 30.0);
    assert_eq!(h.p90_hours, 390.0);
    assert_eq!(h.mean_hours, 520.0 / 3.0);
    // Event 2 open past its deadline; event 3 closed late.
    assert_eq!((r.overdue_open, r.closed_late, r.overdue), (1, 1, 2));
    let loads: Vec<(u32, u32, u32, u32)> = r
        .workload
        .iter()
        .map(|l| (l.worker, l.open, l.handled, l.overdue_open))
        .collect();
    assert_eq!(loads, vec![(7, 1, 2, 0), (8, 1, 1, 1)]);
    assert_eq!(r.unassigned, 1);
    let cats: Vec<(u8, u32, u32)> = r
        .by_category
        .iter()
        .map(|c| (c.category, c.events, c.closed))
        .collect();
    assert_eq!(cats, vec![(0, 4, 2), (1, 1, 1), (2, 1, 0)]);
    assert_eq!(r.inconsistent, 0);
}

#[test]
fn empty_and_inconsistent_inputs_do_not_panic() {
    let r = efficiency(&[], Window::new(0, 100), 50);
    assert_eq!(r.events, 0);
    assert_eq!(r.closure_rate, None);
    assert_eq!(r.handling, None);
    let mut e = ev(category::DISPUTE, 1000);
    e.closed_at = Some(10); // closed before accepted
    let r = efficiency(&[e], Window::new(0, 2000), 5000);
    assert_eq!((r.closed, r.inconsistent, r.handling), (1, 1, None));
}

#[test]
fn changes_by_category() {
    let m = YearMonth::new(2024, 3);
    let start = month_start(m);
    let prev_month = month_start(YearMonth::new(2024, 2));
    let prev_year = month_start(YearMonth::new(2023, 3));
    let mut events = Vec::new();
    events.extend((0..10).map(|i| ev(category::DISPUTE, start + i * H)));
    events.extend((0..2).map(|i| ev(category::PETITION, start + i * H)));
    events.extend((0..8).map(|i| ev(category::DISPUTE, prev_month + i * H)));
    events.extend((0..20).map(|i| ev(category::DISPUTE, prev_year + i * H)));
    events.extend((0..4).map(|i| ev(category::PETITION, prev_year + i * H)));

    let yoy = year_on_year(&events, m);
    assert_eq!((yoy.total.current, yoy.total.previous), (12, 24));
    assert_eq!(yoy.total.relative, Some(-0.5));
    let cats: Vec<(u8, u32, u32, Option<f64>)> = yoy
        .by_category
        .iter()
        .map(|c| {
            (
                c.category,
                c.change.current,
                c.change.previous,
                c.change.relative,
            )
        })
        .collect();
    assert_eq!(cats, vec![(0, 10, 20, Some(-0.5)), (1, 2, 4, Some(-0.5))]);

    let mom = month_on_month(&events, m);
    let cats: Vec<(u8, u32, u32, Option<f64>)> = mom
        .by_category
        .iter()
        .map(|c| {
            (
                c.category,
                c.change.current,
                c.change.previous,
                c.change.relative,
            )
        })
        .collect();
    assert_eq!(cats, vec![(0, 10, 8, Some(0.25)), (1, 2, 0, None)]);

    let months = monthly_counts(&events, YearMonth::new(2024, 1), 3);
    assert_eq!(months, vec![0, 8, 12]);
    let weeks = weekly_counts(&events, week_start(start), 2);
    assert_eq!(weeks, vec![12, 0]);
}

/// Builds a year of synthetic events reproducing the seed's headline figures and
/// checks the model reads them back: 12,151 disputes in 2024 of which 11,769 closed
/// (96.86%), 7,739 settled by mediation (63.69%), and 14,818 disputes in 2023
/// (−18%).
#[test]
fn recovers_the_seed_figures() {
    let year = Window::year(2024);
    let prev = Window::year(2023);
    let spread = |i: i64, n: i64, w: Window| w.from + (w.to - w.from) * i / n;
    let mut events = Vec::new();
    for i in 0..12_151i64 {
        let mut e = ev(category::DISPUTE, spread(i, 12_151, year));
        if i < 11_769 {
            e.closed_at = Some(e.accepted_at + 48 * H);
            e.resolved_by_mediation = i < 7_739;
        }
        events.push(e);
    }
    for i in 0..14_818i64 {
        events.push(closed(ev(category::DISPUTE, spread(i, 14_818, prev)), 1));
    }
    // Other categories must not disturb the dispute figures.
    for i in 0..500i64 {
        events.push(ev(category::CONSULTATION, spread(i, 500, year)));
    }

    let disputes: Vec<EventFacts> = events
        .iter()
        .filter(|e| e.category == category::DISPUTE)
        .copied()
        .collect();
    let r = efficiency(&disputes, year, year.to + 30 * D);
    let pct = |x: f64| (x * 10_000.0).round() / 100.0;
    assert_eq!(r.events, 12_151);
    assert_eq!(r.closed, 11_769);
    assert_eq!(pct(r.closure_rate.unwrap()), 96.86);
    assert_eq!(pct(r.mediation_rate_of_disputes.unwrap()), 63.69);

    let change = annual_change(&events, 2024);
    let d = change
        .by_category
        .iter()
        .find(|c| c.category == category::DISPUTE)
        .unwrap();
    assert_eq!((d.change.current, d.change.previous), (12_151, 14_818));
    assert_eq!((d.change.relative.unwrap() * 100.0).round(), -18.0);
}

#[test]
fn anomalous_weeks_flag_a_surge_only() {
    // Steady 10 a week, then one week of 30, then back to 10.
    let mut counts = vec![10u32; 20];
    counts[12] = 30;
    let tests = anomalous_weeks(&counts, &AnomalyConfig::default());
    assert_eq!(tests.len(), 12);
    assert_eq!(tests[0].index, 8);
    let flagged: Vec<usize> = tests
        .iter()
        .filter(|t| t.anomalous)
        .map(|t| t.index)
        .collect();
    assert_eq!(flagged, vec![12]);
    let surge = tests.iter().find(|t| t.index == 12).unwrap();
    assert_eq!(surge.baseline, 10.0);
    // scipy: poisson.sf(29, 10) = 2.509951201527959e-07
    assert!(
        rel_close(surge.p_value, 2.509951201527959e-07, 1e-12),
        "{}",
        surge.p_value
    );
    // The week after has the surge in its baseline: (7*10 + 30) / 8 = 12.5.
    assert_eq!(tests[5].baseline, 12.5);

    // A quiet baseline of zeros uses the rate floor instead of λ = 0.
    let tests = anomalous_weeks(
        &[0, 0, 0, 1],
        &AnomalyConfig {
            baseline_weeks: 3,
            ..AnomalyConfig::default()
        },
    );
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0].baseline, 0.5);
    assert!(!tests[0].anomalous);

    assert!(anomalous_weeks(&[1, 2, 3], &AnomalyConfig::default()).is_empty());
    assert!(
        anomalous_weeks(
            &[1, 2, 3],
            &AnomalyConfig {
                baseline_weeks: 0,
                ..AnomalyConfig::default()
            }
        )
        .is_empty()
    );
}

#[test]
fn p_value_corrections() {
    let p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2];
    // scipy.stats.false_discovery_control(p) (Benjamini–Hochberg):
    let bh = [0.03, 0.06, 0.06, 0.03, 0.5, 0.24];
    for (got, want) in adjust_p_values(&p, Correction::BenjaminiHochberg)
        .iter()
        .zip(bh)
    {
        assert!(rel_close(*got, want, 1e-12), "{got} vs {want}");
    }
    let bonf = adjust_p_values(&p, Correction::Bonferroni);
    assert_eq!(bonf, vec![0.06, 0.24, 0.18, 0.03, 1.0, 1.0]);
    assert_eq!(adjust_p_values(&p, Correction::None), p.to_vec());
    let with_nan = adjust_p_values(&[0.01, f64::NAN], Correction::BenjaminiHochberg);
    assert_eq!(with_nan[0], 0.02);
    assert!(with_nan[1].is_nan());
}

fn arb_event() -> impl proptest::strategy::Strategy<Value = EventFacts> {
    use proptest::prelude::*;
    (
        0u8..8,
        any::<i64>(),
        proptest::option::of(any::<i64>()),
        any::<bool>(),
        any::<bool>(),
        any::<i64>(),
        proptest::option::of(0u32..5),
    )
        .prop_map(
            |(category, accepted_at, closed_at, med, div, deadline, worker)| EventFacts {
                category,
                source: 0,
                accepted_at,
                closed_at,
                resolved_by_mediation: med,
                diverted: div,
                deadline,
                worker,
                area: 0,
            },
        )
}

proptest::proptest! {
    /// Arbitrary (even absurd) times never panic, and the counts stay consistent.
    #[test]
    fn any_events_are_handled(
        events in proptest::collection::vec(arb_event(), 0..50),
        from in proptest::prelude::any::<i64>(),
        len in 0i64..i64::MAX,
        now in proptest::prelude::any::<i64>(),
    ) {
        let window = Window::new(from, from.saturating_add(len));
        let r = efficiency(&events, window, now);
        proptest::prop_assert_eq!(r.closed + r.open, r.events);
        proptest::prop_assert!(r.disputes_mediated <= r.disputes_closed);
        proptest::prop_assert!(r.disputes_closed <= r.disputes);
        let loads: u32 = r.workload.iter().map(|l| l.open + l.handled).sum();
        proptest::prop_assert_eq!(loads + r.unassigned, r.events);
        if let Some(h) = r.handling {
            proptest::prop_assert!(h.median_hours <= h.p90_hours);
        }
        let _ = window.year_before();
        let _ = weekly_counts(&events, week_start(from), 10);
        let _ = cst_date(from);
        let _ = compare(&events, window, window.year_before());
    }
}
