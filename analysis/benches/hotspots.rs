//! Benchmarks for model 3 at the seed district's scale: a 30 km × 25 km
//! district around 104.397° E 31.127° N, 24,000 events a year, 104 weekly
//! steps, and a 256 × 256 heat-map tile over 30,000 points.
//!
//! Events are clustered around a few centres with a fixed-seed splitmix64, so
//! every run measures the same data.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use geo::{LineString, MultiPolygon, Polygon};
use h3o::Resolution;
use minqing_analysis::emerging::{EmergingParams, analyse};
use minqing_analysis::hotspot::{StudyArea, gi_star};
use minqing_analysis::kde::{GridSpec, KernelDensity, default_bandwidth};

const LON: f64 = 104.397;
const LAT: f64 = 31.127;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

/// Half-extents in degrees of a 30 km × 25 km box at this latitude.
fn half_extent() -> (f64, f64) {
    let km_per_deg_lon = 111.32 * LAT.to_radians().cos();
    (15.0 / km_per_deg_lon, 12.5 / 110.57)
}

fn district() -> MultiPolygon<f64> {
    let (hx, hy) = half_extent();
    let ring = LineString::from(vec![
        (LON - hx, LAT - hy),
        (LON + hx, LAT - hy),
        (LON + hx, LAT + hy),
        (LON - hx, LAT + hy),
        (LON - hx, LAT - hy),
    ]);
    MultiPolygon(vec![Polygon::new(ring, vec![])])
}

/// `n` events (lon, lat): 70 % around five centres, 30 % uniform.
fn events(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let (hx, hy) = half_extent();
    let centres = [
        (0.0, 0.0),
        (0.4, 0.3),
        (-0.5, -0.2),
        (0.2, -0.6),
        (-0.3, 0.5),
    ];
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            if rng.unit() < 0.7 {
                let (cx, cy) = centres[(rng.next() % 5) as usize];
                let s = 0.08;
                (
                    LON + hx * (cx + s * rng.normal()),
                    LAT + hy * (cy + s * rng.normal()),
                )
            } else {
                (
                    LON + hx * (2.0 * rng.unit() - 1.0),
                    LAT + hy * (2.0 * rng.unit() - 1.0),
                )
            }
        })
        .collect()
}

fn mercator((lon, lat): (f64, f64)) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    let y = (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
        .tan()
        .ln();
    (R * lon.to_radians(), R * y)
}

fn bench_gi_star(c: &mut Criterion) {
    let poly = district();
    let pts = events(24_000, 1);
    let mut g = c.benchmark_group("gi_star");
    g.sample_size(10);
    for res in [Resolution::Nine, Resolution::Ten] {
        let area = StudyArea::from_polygon(&poly, res).unwrap();
        eprintln!("resolution {res}: {} cells", area.len());
        g.bench_function(format!("study_area_from_polygon_r{res}"), |b| {
            b.iter(|| StudyArea::from_polygon(black_box(&poly), res).unwrap())
        });
        g.bench_function(format!("count_24k_events_r{res}"), |b| {
            b.iter(|| area.count_points(black_box(pts.iter().copied())))
        });
        let counts = area.count_points(pts.iter().copied()).counts;
        g.bench_function(format!("gi_star_fdr_r{res}"), |b| {
            b.iter(|| gi_star(&area, black_box(&counts)).unwrap())
        });
        g.bench_function(format!("count_plus_gi_star_fdr_r{res}"), |b| {
            b.iter(|| {
                let counts = area.count_points(black_box(pts.iter().copied())).counts;
                gi_star(&area, &counts).unwrap()
            })
        });
    }
    g.finish();
}

fn bench_emerging(c: &mut Criterion) {
    let area = StudyArea::from_polygon(&district(), Resolution::Nine).unwrap();
    // Two years of events (24,000 a year) binned into 104 weeks, cells pre-located once.
    let pts = events(48_000, 2);
    let located: Vec<Option<usize>> = pts.iter().map(|&(x, y)| area.locate(x, y)).collect();
    let mut cube = vec![vec![0.0; area.len()]; 104];
    for (k, cell) in located.iter().enumerate() {
        if let Some(i) = cell {
            cube[k % 104][*i] += 1.0;
        }
    }
    let params = EmergingParams::default();
    let mut g = c.benchmark_group("emerging");
    g.sample_size(10);
    g.bench_function("emerging_104_weeks_r9", |b| {
        b.iter(|| analyse(&area, black_box(&cube), &params).unwrap())
    });
    g.finish();
}

fn bench_kde(c: &mut Criterion) {
    let pts: Vec<(f64, f64)> = events(30_000, 3).into_iter().map(mercator).collect();
    let radius = default_bandwidth(&pts, None).unwrap();
    eprintln!("default bandwidth for 30k points: {radius:.1} m");
    let (cx, cy) = mercator((LON, LAT));
    let mut g = c.benchmark_group("kde");
    g.sample_size(10);
    g.bench_function("index_30k_points", |b| {
        b.iter(|| KernelDensity::new(black_box(&pts), None, radius).unwrap())
    });
    let kd = KernelDensity::new(&pts, None, radius).unwrap();
    // Zoom 10 tile width at this latitude ≈ 39 km of Mercator plane: whole district.
    for (name, size) in [("z10_tile", 39_135.8), ("z13_tile", 4_892.0)] {
        let spec = GridSpec {
            origin_x: cx - size / 2.0,
            origin_y: cy + size / 2.0,
            pixel_size: size / 256.0,
            width: 256,
            height: 256,
        };
        g.bench_function(format!("grid_256x256_30k_{name}"), |b| {
            b.iter(|| kd.grid(black_box(&spec)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_gi_star, bench_emerging, bench_kde);
criterion_main!(benches);
