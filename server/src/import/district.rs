//! The district outline, prepared for the importer's "is this point inside?" check.
//!
//! The importer checks every building's and event's coordinates against the district
//! polygon. `geo`'s `Contains` walks every ring edge per point, and the outline's
//! vertices grow with the square root of the district (735 at `--scale 1`, 2,295 at
//! `--scale 10`), so checking n points cost O(n·√n): at scale 10 it was 14 % of the
//! buildings file. Here the bounding box is cut into a grid of cells once; a cell no
//! edge comes near is wholly inside or wholly outside, decided by its centre, so most
//! points are answered by one lookup. Points in cells an edge touches take the exact
//! test, so the answer is always `Contains`'s answer.
//!
//! `geo::PreparedGeometry` caches an edge index too, but it is not `Send` (the import
//! context crosses `await`s) and a point's `relate` still labels it by a ring walk.

use geo::{BoundingRect, Contains};
use geo_types::{Coord, MultiPolygon, Point, Rect};

/// Cells per side of the grid: 64² cells cost a few milliseconds to classify and leave
/// only the cells along the outline (a few per cent at these sizes) to the exact test.
const CELLS: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cell {
    Inside,
    Outside,
    /// An edge passes through or touches the cell: test the point exactly.
    Edge,
}

/// A district polygon with its cell grid.
pub struct DistrictShape {
    polygon: MultiPolygon<f64>,
    bbox: Rect<f64>,
    cell_w: f64,
    cell_h: f64,
    cells: Vec<Cell>,
}

impl DistrictShape {
    /// Prepare `polygon`; `None` when it is empty (has no bounding box).
    pub fn new(polygon: MultiPolygon<f64>) -> Option<DistrictShape> {
        let bbox = polygon.bounding_rect()?;
        let cell_w = bbox.width() / CELLS as f64;
        let cell_h = bbox.height() / CELLS as f64;
        if !(cell_w > 0.0 && cell_h > 0.0) {
            // No area: no cells; every point takes the exact test (and is outside).
            return Some(DistrictShape {
                polygon,
                bbox,
                cell_w,
                cell_h,
                cells: Vec::new(),
            });
        }
        let mut shape = DistrictShape {
            polygon,
            bbox,
            cell_w,
            cell_h,
            cells: vec![Cell::Outside; CELLS * CELLS],
        };
        // Mark every cell an edge's bounding box overlaps (closed: an edge along a cell's
        // border marks it). A conservative superset of the cells an edge crosses.
        let mut edge_cells = Vec::new();
        for ring in shape
            .polygon
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        {
            for line in ring.lines() {
                let (x0, x1) = ordered(line.start.x, line.end.x);
                let (y0, y1) = ordered(line.start.y, line.end.y);
                let (c0, r0) = shape.cell_of(x0, y0, f64::floor);
                let (c1, r1) = shape.cell_of(x1, y1, f64::floor);
                // A coordinate exactly on a cell border also touches the cell before it.
                let (c0b, r0b) = shape.cell_of(x0, y0, f64::ceil);
                for r in r0.min(r0b.saturating_sub(1))..=r1 {
                    for c in c0.min(c0b.saturating_sub(1))..=c1 {
                        edge_cells.push(r * CELLS + c);
                    }
                }
            }
        }
        for i in edge_cells {
            shape.cells[i] = Cell::Edge;
        }
        for r in 0..CELLS {
            for c in 0..CELLS {
                let i = r * CELLS + c;
                if shape.cells[i] == Cell::Edge {
                    continue;
                }
                let centre = Point::new(
                    shape.bbox.min().x + (c as f64 + 0.5) * cell_w,
                    shape.bbox.min().y + (r as f64 + 0.5) * cell_h,
                );
                shape.cells[i] = if shape.polygon.contains(&centre) {
                    Cell::Inside
                } else {
                    Cell::Outside
                };
            }
        }
        Some(shape)
    }

    /// Column and row of the cell holding (x, y), clamped to the grid, rounding the cell
    /// coordinate with `round`.
    fn cell_of(&self, x: f64, y: f64, round: fn(f64) -> f64) -> (usize, usize) {
        let at = |v: f64, min: f64, size: f64| {
            (round((v - min) / size).max(0.0) as usize).min(CELLS - 1)
        };
        (
            at(x, self.bbox.min().x, self.cell_w),
            at(y, self.bbox.min().y, self.cell_h),
        )
    }

    /// Whether the point lies inside the polygon (not on its boundary), exactly as
    /// `MultiPolygon::contains` answers.
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let p = Coord { x: lon, y: lat };
        if self.cells.is_empty() || !self.bbox.contains(&p) {
            return self.polygon.contains(&p);
        }
        let (c, r) = self.cell_of(lon, lat, f64::floor);
        match self.cells[r * CELLS + c] {
            Cell::Inside => true,
            Cell::Outside => false,
            Cell::Edge => self.polygon.contains(&p),
        }
    }
}

fn ordered(a: f64, b: f64) -> (f64, f64) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{LineString, Polygon};

    /// A jagged ring with a hole, and points on a fine lattice, on the vertices and on
    /// the edges: the grid answers exactly as `Contains` does for every one.
    #[test]
    fn answers_as_contains_does() {
        let n = 300;
        let outer: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = 1.0 + 0.3 * (7.0 * a).sin() + 0.05 * (53.0 * a).cos();
                (120.0 + r * a.cos(), 30.0 + r * a.sin())
            })
            .collect();
        let hole: Vec<(f64, f64)> = vec![
            (120.1, 30.1),
            (120.1, 30.3),
            (120.3, 30.3),
            (120.3, 30.1),
            (120.1, 30.1),
        ];
        let island = Polygon::new(
            LineString::from(vec![
                (122.0, 30.0),
                (122.5, 30.0),
                (122.5, 30.5),
                (122.0, 30.0),
            ]),
            vec![],
        );
        let polygon = MultiPolygon::new(vec![
            Polygon::new(
                LineString::from(outer.clone()),
                vec![LineString::from(hole)],
            ),
            island,
        ]);
        let shape = DistrictShape::new(polygon.clone()).expect("has an area");
        let mut points: Vec<(f64, f64)> = Vec::new();
        for i in 0..=400 {
            for j in 0..=200 {
                points.push((118.5 + i as f64 * 0.01, 28.5 + j as f64 * 0.015));
            }
        }
        points.extend(outer.iter().copied());
        points.extend(
            outer
                .windows(2)
                .map(|w| ((w[0].0 + w[1].0) / 2.0, (w[0].1 + w[1].1) / 2.0)),
        );
        points.extend([(120.2, 30.1), (120.1, 30.2), (122.25, 30.0), (122.5, 30.5)]);
        let mut inside = 0;
        for &(x, y) in &points {
            let want = polygon.contains(&Point::new(x, y));
            assert_eq!(shape.contains(x, y), want, "({x}, {y})");
            inside += want as usize;
        }
        assert!(
            inside > 10_000 && inside < points.len() / 2,
            "the lattice has points on both sides ({inside} inside)"
        );
        let interior = shape.cells.iter().filter(|c| **c == Cell::Inside).count();
        assert!(
            interior > CELLS * CELLS / 10,
            "most inside points are answered by their cell ({interior} inside cells)"
        );
    }

    #[test]
    fn an_outline_without_area_contains_nothing() {
        let line = Polygon::new(
            LineString::from(vec![(1.0, 1.0), (2.0, 1.0), (1.0, 1.0)]),
            vec![],
        );
        let shape = DistrictShape::new(MultiPolygon::new(vec![line])).expect("has a bbox");
        assert!(!shape.contains(1.5, 1.0));
        assert!(DistrictShape::new(MultiPolygon::new(vec![])).is_none());
    }
}
