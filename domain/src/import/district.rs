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
    grid: Grid,
    /// Row-major, `CELLS`²; empty when the outline has no area.
    cells: Vec<Cell>,
}

/// Where the cells lie: the bounding box's corner and a cell's size.
struct Grid {
    min: Coord<f64>,
    cell_w: f64,
    cell_h: f64,
}

impl Grid {
    /// Index of the cell holding (x, y), clamped to the grid. The mapping is monotonic
    /// in x and in y, so every point of an edge falls in a cell between those of the
    /// corners of the edge's bounding box.
    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let at = |v: f64, min: f64, size: f64| {
            (((v - min) / size).floor().max(0.0) as usize).min(CELLS - 1)
        };
        (
            at(x, self.min.x, self.cell_w),
            at(y, self.min.y, self.cell_h),
        )
    }

    fn centre(&self, c: usize, r: usize) -> Point<f64> {
        Point::new(
            self.min.x + (c as f64 + 0.5) * self.cell_w,
            self.min.y + (r as f64 + 0.5) * self.cell_h,
        )
    }
}

impl DistrictShape {
    /// Prepare `polygon`; `None` when it is empty (has no bounding box).
    pub fn new(polygon: MultiPolygon<f64>) -> Option<DistrictShape> {
        let bbox = polygon.bounding_rect()?;
        let grid = Grid {
            min: bbox.min(),
            cell_w: bbox.width() / CELLS as f64,
            cell_h: bbox.height() / CELLS as f64,
        };
        if !(grid.cell_w > 0.0 && grid.cell_h > 0.0) {
            // No area: no cells; every point takes the exact test (and is outside).
            return Some(DistrictShape {
                polygon,
                bbox,
                grid,
                cells: Vec::new(),
            });
        }
        // Mark every cell an edge's bounding box reaches: a superset of the cells holding
        // a point of the outline. Every other cell lies wholly on one side of it.
        let mut cells = vec![None; CELLS * CELLS];
        let rings = polygon
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
        for line in rings.flat_map(|ring| ring.lines()) {
            let (c0, r0) = grid.cell_of(line.start.x.min(line.end.x), line.start.y.min(line.end.y));
            let (c1, r1) = grid.cell_of(line.start.x.max(line.end.x), line.start.y.max(line.end.y));
            for r in r0..=r1 {
                for c in c0..=c1 {
                    cells[r * CELLS + c] = Some(Cell::Edge);
                }
            }
        }
        let cells = cells
            .into_iter()
            .enumerate()
            .map(|(i, cell)| {
                cell.unwrap_or_else(|| {
                    if polygon.contains(&grid.centre(i % CELLS, i / CELLS)) {
                        Cell::Inside
                    } else {
                        Cell::Outside
                    }
                })
            })
            .collect();
        Some(DistrictShape {
            polygon,
            bbox,
            grid,
            cells,
        })
    }

    /// Whether the point lies inside the polygon (not on its boundary), exactly as
    /// `MultiPolygon::contains` answers.
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let p = Coord { x: lon, y: lat };
        // No point of the bounding box's border or beyond is inside the polygon.
        if !self.bbox.contains(&p) {
            return false;
        }
        if self.cells.is_empty() {
            return self.polygon.contains(&p);
        }
        let (c, r) = self.grid.cell_of(lon, lat);
        match self.cells[r * CELLS + c] {
            Cell::Inside => true,
            Cell::Outside => false,
            Cell::Edge => self.polygon.contains(&p),
        }
    }
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
