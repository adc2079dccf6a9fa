//! Model 3a: dispute hot spots with Getis-Ord Gi* over H3 hexagons.
//!
//! # Method
//!
//! * **Cells.** The study area is every H3 cell at the chosen resolution whose
//!   centre lies inside the district polygon (h3o's tiler in
//!   `ContainsCentroid` mode, which is the same rule as H3's own
//!   `polygonToCells`). Hexagons are used because every cell has six
//!   equidistant neighbours, so a binary weight is a fair neighbourhood.
//! * **Weights.** Binary: each cell's neighbourhood is its `grid_disk(1)`
//!   *including itself*, restricted to cells of the study area (cells outside
//!   the district are not assumed to be zero, they are simply absent).
//! * **Statistic.** The analytical Gi* z-score exactly as PySAL
//!   `esda.G_Local(y, w, transform="B", star=True).Zs` computes it (esda 2.9):
//!   with `n` cells, `S = Σ y`, mean `ȳ = S/n`, variance `s² = Σ y²/n − ȳ²`
//!   (population variance, divisor `n`), `Gᵢ = Σⱼ wᵢⱼ yⱼ / S`,
//!   `kᵢ = Σⱼ wᵢⱼ` (neighbour count including the cell itself),
//!   `E[Gᵢ] = kᵢ/n`, `V[Gᵢ] = kᵢ (n − kᵢ) / (n − 1) / n² · s²/ȳ²`,
//!   `zᵢ = (Gᵢ − E[Gᵢ]) / √V[Gᵢ]`. This is algebraically the Getis–Ord (1995)
//!   Gi* z-score that ArcGIS reports, for non-negative values (counts or
//!   positive weights); with a negative mean esda's form flips the sign.
//! * **p-values.** `p` is the **two-sided** normal p-value `2·(1 − Φ(|z|))`,
//!   the convention ArcGIS uses for its 90/95/99 % confidence bins. esda's
//!   `p_norm` is the one-sided tail `1 − Φ(|z|)`, so `p = 2·p_norm`; the
//!   reference test checks exactly that.
//! * **Multiple testing.** Benjamini–Hochberg false-discovery-rate adjustment
//!   across all cells of the study area ([`fdr_bh`], identical to
//!   `scipy.stats.false_discovery_control(p, method="bh")`). A cell is a hot
//!   (cold) spot at 99/95/90 % confidence when its *adjusted* p is below
//!   0.01/0.05/0.10 and its z is positive (negative). Comparing BH-adjusted
//!   p-values with α is the same decision as running the BH step-up procedure
//!   at level α, which is how ArcGIS's "Apply False Discovery Rate
//!   correction" option works. The server should state this as:
//!   *"Getis-Ord Gi\*, binary H3 ring-1 neighbourhood including the cell,
//!   two-sided normal p-values, Benjamini–Hochberg FDR correction across all
//!   N cells of the study area."* ([`CORRECTION_NOTE`]).
//! * **Degenerate input.** When the variance of the counts is zero (all cells
//!   equal, including all zero) or a cell's neighbourhood is the whole area,
//!   z is undefined (esda returns NaN). We return `z = 0`, `p = 1`,
//!   class `NotSignificant`, and count such cells in
//!   [`HotspotReport::undefined_cells`], because NaN cannot cross a JSON wire
//!   and "no evidence of clustering" is the honest reading.
//!
//! # Speed
//!
//! [`StudyArea`] precomputes the sorted cell list, an index map and the
//! neighbour lists (CSR arrays) once; every query (other date window, other
//! category) only recounts points and runs one pass over the neighbour
//! arrays, so the server can cache a `StudyArea` per (district, resolution).

use std::collections::HashMap;

use geo::MultiPolygon;
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};

/// Human-readable statement of the statistic and correction, for responses.
pub const CORRECTION_NOTE: &str = "Getis-Ord Gi* (analytical z, binary H3 ring-1 neighbourhood including \
the cell itself, restricted to the study area); two-sided normal p-values; \
Benjamini-Hochberg false-discovery-rate correction across all cells of the study area; \
hot/cold at 99/95/90% confidence when the adjusted p is below 0.01/0.05/0.10.";

/// Errors of the hot spot functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HotspotError {
    /// The polygon could not be tiled (invalid coordinates, e.g. NaN or out of range).
    #[error("invalid study-area polygon: {0}")]
    InvalidPolygon(String),
    /// The polygon covers no cell centre at this resolution.
    #[error("the study area contains no H3 cell at this resolution")]
    EmptyArea,
    /// A cell index given to [`StudyArea::from_cells`] is not a valid H3 cell.
    #[error("invalid H3 cell index {0:#x}")]
    InvalidCell(u64),
    /// Cells of mixed resolution were given.
    #[error("cells have mixed resolutions")]
    MixedResolution,
    /// A value vector does not have one entry per study-area cell.
    #[error("expected {expected} values (one per cell), got {got}")]
    LengthMismatch {
        /// Number of cells in the study area.
        expected: usize,
        /// Number of values given.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("value at position {0} is not finite")]
    NonFinite(usize),
}

/// The set of H3 cells analysed, with precomputed neighbourhoods.
#[derive(Debug, Clone)]
pub struct StudyArea {
    resolution: Resolution,
    cells: Vec<u64>,
    index: HashMap<u64, u32>,
    /// CSR offsets into `neighbours`; `offsets.len() == cells.len() + 1`.
    offsets: Vec<u32>,
    /// Neighbour indices (into `cells`), each list includes the cell itself.
    neighbours: Vec<u32>,
}

impl StudyArea {
    /// Every cell at `resolution` whose centre lies inside `area` (lon/lat degrees).
    ///
    /// # Errors
    /// [`HotspotError::InvalidPolygon`] for invalid coordinates,
    /// [`HotspotError::EmptyArea`] when no cell centre falls inside.
    pub fn from_polygon(
        area: &MultiPolygon<f64>,
        resolution: Resolution,
    ) -> Result<Self, HotspotError> {
        let mut tiler = TilerBuilder::new(resolution)
            .containment_mode(ContainmentMode::ContainsCentroid)
            .build();
        tiler
            .add_batch(area.0.iter().cloned())
            .map_err(|e| HotspotError::InvalidPolygon(e.to_string()))?;
        let cells: Vec<CellIndex> = tiler.into_coverage().collect();
        Self::build(resolution, cells)
    }

    /// A study area made of the given cells (duplicates are removed).
    ///
    /// # Errors
    /// [`HotspotError::InvalidCell`], [`HotspotError::MixedResolution`] or
    /// [`HotspotError::EmptyArea`].
    pub fn from_cells(cells: impl IntoIterator<Item = u64>) -> Result<Self, HotspotError> {
        let mut parsed = Vec::new();
        for raw in cells {
            parsed.push(CellIndex::try_from(raw).map_err(|_| HotspotError::InvalidCell(raw))?);
        }
        let resolution = parsed.first().ok_or(HotspotError::EmptyArea)?.resolution();
        if parsed.iter().any(|c| c.resolution() != resolution) {
            return Err(HotspotError::MixedResolution);
        }
        Self::build(resolution, parsed)
    }

    fn build(resolution: Resolution, mut cells: Vec<CellIndex>) -> Result<Self, HotspotError> {
        cells.sort_unstable();
        cells.dedup();
        if cells.is_empty() {
            return Err(HotspotError::EmptyArea);
        }
        let ids: Vec<u64> = cells.iter().map(|&c| u64::from(c)).collect();
        let index: HashMap<u64, u32> = ids
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        let mut offsets = Vec::with_capacity(cells.len() + 1);
        let mut neighbours = Vec::with_capacity(cells.len() * 7);
        offsets.push(0u32);
        let mut disk: Vec<CellIndex> = Vec::with_capacity(7);
        for &cell in &cells {
            disk.clear();
            disk.extend(cell.grid_disk::<Vec<_>>(1));
            let start = neighbours.len();
            neighbours.extend(
                disk.iter()
                    .filter_map(|n| index.get(&u64::from(*n)).copied()),
            );
            // Sorted lists make the order independent of h3o's traversal order.
            neighbours[start..].sort_unstable();
            offsets.push(neighbours.len() as u32);
        }
        Ok(Self {
            resolution,
            cells: ids,
            index,
            offsets,
            neighbours,
        })
    }

    /// H3 resolution of the cells.
    #[must_use]
    pub fn resolution(&self) -> u8 {
        u8::from(self.resolution)
    }

    /// Number of cells.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Always false: construction rejects empty areas.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells as raw H3 indexes, sorted ascending; position = cell index
    /// used by every per-cell vector of this module.
    #[must_use]
    pub fn cells(&self) -> &[u64] {
        &self.cells
    }

    /// Position of an H3 cell in [`Self::cells`].
    #[must_use]
    pub fn index_of(&self, cell: u64) -> Option<usize> {
        self.index.get(&cell).map(|&i| i as usize)
    }

    /// Positions of the cell's neighbourhood (itself included), sorted.
    /// Returns an empty slice for an out-of-range position.
    #[must_use]
    pub fn neighbours(&self, i: usize) -> &[u32] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.neighbours[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Position of the cell containing `(lon, lat)` (degrees), if it is in the area.
    /// The server can bin every event once and recount per query from the positions.
    #[must_use]
    pub fn locate(&self, lon: f64, lat: f64) -> Option<usize> {
        let ll = LatLng::new(lat, lon).ok()?;
        self.index_of(u64::from(ll.to_cell(self.resolution)))
    }

    /// Counts points (lon, lat in degrees) per cell.
    pub fn count_points(&self, points: impl IntoIterator<Item = (f64, f64)>) -> PointCounts {
        self.count_weighted_points(points.into_iter().map(|(x, y)| (x, y, 1.0)))
    }

    /// Sums weights of points (lon, lat, weight) per cell. Points outside the
    /// area, with invalid coordinates or with a non-finite weight are skipped
    /// and counted in the diagnostics.
    pub fn count_weighted_points(
        &self,
        points: impl IntoIterator<Item = (f64, f64, f64)>,
    ) -> PointCounts {
        let mut out = PointCounts {
            counts: vec![0.0; self.cells.len()],
            outside: 0,
            invalid: 0,
        };
        for (lon, lat, w) in points {
            if !w.is_finite() || LatLng::new(lat, lon).is_err() {
                out.invalid += 1;
                continue;
            }
            match self.locate(lon, lat) {
                Some(i) => out.counts[i] += w,
                None => out.outside += 1,
            }
        }
        out
    }
}

/// Per-cell totals from [`StudyArea::count_points`].
#[derive(Debug, Clone, PartialEq)]
pub struct PointCounts {
    /// One total per study-area cell, in [`StudyArea::cells`] order.
    pub counts: Vec<f64>,
    /// Points that fell outside the study area.
    pub outside: usize,
    /// Points with invalid coordinates or non-finite weight.
    pub invalid: usize,
}

/// Confidence class of a cell after FDR correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HotspotClass {
    /// Hot spot, adjusted p < 0.01.
    Hot99,
    /// Hot spot, adjusted p < 0.05.
    Hot95,
    /// Hot spot, adjusted p < 0.10.
    Hot90,
    /// Not significant.
    NotSignificant,
    /// Cold spot, adjusted p < 0.10.
    Cold90,
    /// Cold spot, adjusted p < 0.05.
    Cold95,
    /// Cold spot, adjusted p < 0.01.
    Cold99,
}

impl HotspotClass {
    /// Class from a z-score and an (adjusted) p-value.
    #[must_use]
    pub fn from_z_p(z: f64, p: f64) -> Self {
        let level = if p < 0.01 {
            3
        } else if p < 0.05 {
            2
        } else if p < 0.10 {
            1
        } else {
            0
        };
        match (level, z > 0.0, z < 0.0) {
            (3, true, _) => Self::Hot99,
            (2, true, _) => Self::Hot95,
            (1, true, _) => Self::Hot90,
            (3, _, true) => Self::Cold99,
            (2, _, true) => Self::Cold95,
            (1, _, true) => Self::Cold90,
            _ => Self::NotSignificant,
        }
    }

    /// ArcGIS-style bin: +3..−3, 0 for not significant.
    #[must_use]
    pub fn bin(self) -> i8 {
        match self {
            Self::Hot99 => 3,
            Self::Hot95 => 2,
            Self::Hot90 => 1,
            Self::NotSignificant => 0,
            Self::Cold90 => -1,
            Self::Cold95 => -2,
            Self::Cold99 => -3,
        }
    }

    /// Stable lower-case name (`hot99`, …, `not_significant`, …, `cold99`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hot99 => "hot99",
            Self::Hot95 => "hot95",
            Self::Hot90 => "hot90",
            Self::NotSignificant => "not_significant",
            Self::Cold90 => "cold90",
            Self::Cold95 => "cold95",
            Self::Cold99 => "cold99",
        }
    }
}

/// Result for one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GiStar {
    /// H3 cell index.
    pub cell: u64,
    /// The value analysed (count or weight sum).
    pub count: f64,
    /// Gi* z-score (0 when undefined, see module docs).
    pub gi_z: f64,
    /// Two-sided normal p-value, uncorrected.
    pub p: f64,
    /// Benjamini–Hochberg adjusted p-value.
    pub p_adjusted: f64,
    /// Confidence class from `gi_z` and `p_adjusted`.
    pub class: HotspotClass,
}

/// Gi* results for a study area plus diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotReport {
    /// One entry per cell, in [`StudyArea::cells`] order.
    pub cells: Vec<GiStar>,
    /// Cells whose z was undefined (zero variance or neighbourhood = whole area).
    pub undefined_cells: usize,
    /// Number of tests the FDR correction was applied across.
    pub tests: usize,
}

/// Standard normal upper tail `1 − Φ(x)`, accurate in the far tail
/// (musl's `erfc` via the `libm` crate, ≈1 ulp; statrs' erfc was ~4e-11 off).
#[must_use]
pub fn normal_sf(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// Two-sided normal p-value `2·(1 − Φ(|z|))`.
#[must_use]
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// Benjamini–Hochberg adjusted p-values (step-up, monotone, capped at 1),
/// in input order. NaN p-values are treated as 1.
#[must_use]
pub fn fdr_bh(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |x: f64| if x.is_nan() { 1.0 } else { x.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_unstable_by(|&a, &b| clean(p[a]).total_cmp(&clean(p[b])));
    let mut out = vec![1.0; m];
    let mut running = 1.0f64;
    for rank in (0..m).rev() {
        let i = order[rank];
        let q = clean(p[i]) * m as f64 / (rank + 1) as f64;
        running = running.min(q);
        out[i] = running.min(1.0);
    }
    out
}

/// Global moments shared by every Gi* z of one analysis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GiMoments {
    n: f64,
    sum: f64,
    /// `s² / ȳ²`; NaN or inf when undefined.
    cv2: f64,
}

impl GiMoments {
    pub(crate) fn new(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let sum: f64 = values.iter().sum();
        let sum_sq: f64 = values.iter().map(|v| v * v).sum();
        let mean = sum / n;
        let var = sum_sq / n - mean * mean;
        Self {
            n,
            sum,
            cv2: var / (mean * mean),
        }
    }

    /// z for a cell whose weighted neighbour sum is `lag` over `card` bins.
    /// Returns `None` when undefined.
    pub(crate) fn z(&self, lag: f64, card: f64) -> Option<f64> {
        let g = lag / self.sum;
        let e = card / self.n;
        let v = card * (self.n - card) / (self.n - 1.0) / (self.n * self.n) * self.cv2;
        let z = (g - e) / v.sqrt();
        // A variance that is zero, negative by rounding, or undefined gives no evidence.
        (v > 0.0 && z.is_finite()).then_some(z)
    }
}

/// Gi* z-scores (esda `G_Local(..., transform="B", star=True).Zs`) for
/// `values` (one per cell). Undefined z are returned as `None`.
///
/// # Errors
/// [`HotspotError::LengthMismatch`], [`HotspotError::NonFinite`].
pub fn gi_star_z(area: &StudyArea, values: &[f64]) -> Result<Vec<Option<f64>>, HotspotError> {
    check_values(area, values)?;
    let m = GiMoments::new(values);
    Ok((0..area.len())
        .map(|i| {
            let nb = area.neighbours(i);
            let lag: f64 = nb.iter().map(|&j| values[j as usize]).sum();
            m.z(lag, nb.len() as f64)
        })
        .collect())
}

fn check_values(area: &StudyArea, values: &[f64]) -> Result<(), HotspotError> {
    if values.len() != area.len() {
        return Err(HotspotError::LengthMismatch {
            expected: area.len(),
            got: values.len(),
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(HotspotError::NonFinite(i));
    }
    Ok(())
}

/// Full model: Gi* z, two-sided p, BH-FDR across all cells, and class.
///
/// # Errors
/// [`HotspotError::LengthMismatch`], [`HotspotError::NonFinite`].
pub fn gi_star(area: &StudyArea, values: &[f64]) -> Result<HotspotReport, HotspotError> {
    let zs = gi_star_z(area, values)?;
    let undefined_cells = zs.iter().filter(|z| z.is_none()).count();
    let z: Vec<f64> = zs.iter().map(|z| z.unwrap_or(0.0)).collect();
    let p: Vec<f64> = z.iter().map(|&z| two_sided_p(z)).collect();
    let adj = fdr_bh(&p);
    let cells = (0..area.len())
        .map(|i| GiStar {
            cell: area.cells[i],
            count: values[i],
            gi_z: z[i],
            p: p[i],
            p_adjusted: adj[i],
            class: HotspotClass::from_z_p(z[i], adj[i]),
        })
        .collect();
    Ok(HotspotReport {
        cells,
        undefined_cells,
        tests: area.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdr_matches_hand_computation() {
        // m = 4: sorted p 0.01,0.02,0.03,0.5 → 0.04,0.04,0.04,0.5
        let adj = fdr_bh(&[0.03, 0.5, 0.01, 0.02]);
        let want = [0.04, 0.5, 0.04, 0.04];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15, "{adj:?}");
        }
    }

    #[test]
    fn class_thresholds() {
        let cases = [
            (3.0, 0.009, HotspotClass::Hot99),
            (3.0, 0.01, HotspotClass::Hot95),
            (1.0, 0.07, HotspotClass::Hot90),
            (1.0, 0.10, HotspotClass::NotSignificant),
            (-1.0, 0.07, HotspotClass::Cold90),
            (-1.0, 0.02, HotspotClass::Cold95),
            (-1.0, 0.001, HotspotClass::Cold99),
            (0.0, 0.0, HotspotClass::NotSignificant),
        ];
        for (z, p, want) in cases {
            assert_eq!(HotspotClass::from_z_p(z, p), want, "z={z} p={p}");
        }
    }

    #[test]
    fn normal_tail_values() {
        // Φ(1.959963984540054) = 0.975 ; sf(8.0) ≈ 6.220960574271785e-16
        assert!((two_sided_p(1.959_963_984_540_054) - 0.05).abs() < 1e-14);
        assert!((normal_sf(8.0) / 6.220_960_574_271_785e-16 - 1.0).abs() < 1e-12);
    }
}
