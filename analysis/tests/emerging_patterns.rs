//! Emerging hot spot categories: the rule table on its own, then synthetic
//! space-time cubes where one planted location follows a known history.

use h3o::{LatLng, Resolution};
use minqing_analysis::emerging::{
    EmergingError, EmergingParams, Pattern, analyse, classify_series,
};
use minqing_analysis::hotspot::StudyArea;
use minqing_analysis::trend::Trend;

/// `H` hot, `C` cold, `.` neither; oldest step first.
fn states(s: &str) -> Vec<i8> {
    s.chars()
        .map(|c| match c {
            'H' => 1,
            'C' => -1,
            _ => 0,
        })
        .collect()
}

#[test]
fn rule_table() {
    use Pattern::*;
    use Trend::*;
    let cases: &[(&str, Trend, Pattern)] = &[
        ("..........", NoTrend, NoPattern),
        ("", NoTrend, NoPattern),
        (".........H", NoTrend, NewHot),
        ("CC.......H", NoTrend, NewHot),
        ("H", Increasing, NewHot),
        ("......HHHH", Increasing, ConsecutiveHot),
        ("..H...HHHH", NoTrend, SporadicHot),
        ("C.H...HHHH", NoTrend, OscillatingHot),
        ("HHHHHHHHHH", Increasing, IntensifyingHot),
        (".HHHHHHHHH", Increasing, IntensifyingHot),
        ("HHHHHHHHHH", NoTrend, PersistentHot),
        (".HHHHHHHHH", Decreasing, DiminishingHot),
        ("..HHHHHHHH", Decreasing, ConsecutiveHot), // 80 %: not the ≥ 90 % family
        ("..H.HHHHHH", Decreasing, SporadicHot),
        ("HHHHHHHHH.", Decreasing, HistoricalHot),
        ("HHHHHHHHHC", NoTrend, NewCold),
        ("HHHHHHHHC.", NoTrend, NoPattern),
        ("HHHHHHHH..", NoTrend, NoPattern),
        (".........C", NoTrend, NewCold),
        (".......CCC", Decreasing, ConsecutiveCold),
        ("CCCCCCCCCC", Decreasing, IntensifyingCold),
        ("CCCCCCCCCC", NoTrend, PersistentCold),
        ("CCCCCCCCCC", Increasing, DiminishingCold),
        ("C...C....C", NoTrend, SporadicCold),
        ("H...C....C", NoTrend, OscillatingCold),
        ("CCCCCCCCC.", NoTrend, HistoricalCold),
        ("HHHHHHHHHHHHHHHHHH.H", NoTrend, PersistentHot), // 95 %, final hot
    ];
    for &(s, trend, want) in cases {
        assert_eq!(classify_series(&states(s), trend), want, "{s:?} {trend:?}");
    }
}

/// Deterministic generator (SplitMix64) so cubes are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Integer background count 8..=12.
    fn background(&mut self) -> f64 {
        (8 + self.next() % 5) as f64
    }
}

fn area() -> (StudyArea, usize) {
    let centre = LatLng::new(31.127, 104.397)
        .unwrap()
        .to_cell(Resolution::Nine);
    let area =
        StudyArea::from_cells(centre.grid_disk::<Vec<_>>(8).into_iter().map(u64::from)).unwrap();
    let i = area.index_of(u64::from(centre)).unwrap();
    (area, i)
}

/// Builds a cube where the planted cell and its ring take `planted[t]`
/// (None = ordinary background) and checks the planted cell's pattern.
fn check(label: &str, planted: &[Option<f64>], want: Pattern) {
    let (area, centre) = area();
    let ring = area.neighbours(centre).to_vec();
    let mut rng = Rng(42);
    let cube: Vec<Vec<f64>> = planted
        .iter()
        .map(|&p| {
            let mut row: Vec<f64> = (0..area.len()).map(|_| rng.background()).collect();
            if let Some(v) = p {
                for &j in &ring {
                    row[j as usize] = v;
                }
            }
            row
        })
        .collect();
    let report = analyse(&area, &cube, &EmergingParams::default()).unwrap();
    assert_eq!(report.bins, area.len() * planted.len());
    let cell = &report.cells[centre];
    let hist: String = cell
        .classes
        .iter()
        .map(|c| match c.bin() {
            b if b > 0 => 'H',
            b if b < 0 => 'C',
            _ => '.',
        })
        .collect();
    assert_eq!(
        cell.pattern, want,
        "{label}: bins {hist}, trend {:?} (z {:.2}, p {:.3})",
        cell.trend.trend, cell.trend.z, cell.trend.p
    );
}

/// `H` = 40 events in each of the 7 cells, `L` = 0, `.` = background.
fn modes(s: &str) -> Vec<Option<f64>> {
    s.chars()
        .map(|c| match c {
            'H' => Some(40.0),
            'L' => Some(0.0),
            _ => None,
        })
        .collect()
}

#[test]
fn planted_histories_give_each_category() {
    use Pattern::*;
    let ramp = |f: &dyn Fn(f64) -> f64| (0..20).map(|t| Some(f(f64::from(t)))).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<Option<f64>>, Pattern)> = vec![
        ("none", modes("...................."), NoPattern),
        ("new hot", modes("...................H"), NewHot),
        (
            "consecutive hot",
            modes("................HHHH"),
            ConsecutiveHot,
        ),
        (
            "intensifying hot",
            ramp(&|t| 20.0 + 3.0 * t),
            IntensifyingHot,
        ),
        (
            "persistent hot",
            modes("HHHHHHHHHHHHHHHHHHHH"),
            PersistentHot,
        ),
        ("diminishing hot", ramp(&|t| 77.0 - 3.0 * t), DiminishingHot),
        ("sporadic hot", modes("H....H....H....H...H"), SporadicHot),
        (
            "oscillating hot",
            modes("LL....H....LL......H"),
            OscillatingHot,
        ),
        (
            "historical hot",
            modes("HHHHHHHHHHHHHHHHHH.."),
            HistoricalHot,
        ),
        ("new cold", modes("...................L"), NewCold),
        (
            "consecutive cold",
            modes("................LLLL"),
            ConsecutiveCold,
        ),
        (
            "intensifying cold",
            ramp(&|t| (6.0 - 0.3 * t).max(0.0)),
            IntensifyingCold,
        ),
        (
            "persistent cold",
            modes("LLLLLLLLLLLLLLLLLLLL"),
            PersistentCold,
        ),
        (
            "diminishing cold",
            ramp(&|t| (0.3 * t - 0.3).max(0.0)),
            DiminishingCold,
        ),
        ("sporadic cold", modes("L....L....L....L...L"), SporadicCold),
        (
            "oscillating cold",
            modes("HH....L....HH......L"),
            OscillatingCold,
        ),
        (
            "historical cold",
            modes("LLLLLLLLLLLLLLLLLL.."),
            HistoricalCold,
        ),
    ];
    for (label, planted, want) in cases {
        check(label, &planted, want);
    }
}

#[test]
fn invalid_cubes_are_errors() {
    let (area, _) = area();
    let p = EmergingParams::default();
    assert_eq!(
        analyse(&area, &[], &p).unwrap_err(),
        EmergingError::EmptyCube
    );
    assert!(matches!(
        analyse(&area, &[vec![1.0; 3]], &p).unwrap_err(),
        EmergingError::RowLength { step: 0, .. }
    ));
    let mut row = vec![1.0; area.len()];
    row[5] = f64::INFINITY;
    assert_eq!(
        analyse(&area, &[row], &p).unwrap_err(),
        EmergingError::NonFinite { step: 0, cell: 5 }
    );
    let bad = EmergingParams {
        bin_alpha: 0.0,
        ..p
    };
    assert_eq!(
        analyse(&area, &[vec![1.0; area.len()]], &bad).unwrap_err(),
        EmergingError::BadAlpha
    );
    // A flat cube has no defined z anywhere and no pattern.
    let flat = vec![vec![2.0; area.len()]; 6];
    let r = analyse(&area, &flat, &p).unwrap();
    assert_eq!(r.undefined_bins, r.bins);
    assert!(r.cells.iter().all(|c| c.pattern == Pattern::NoPattern));
}
