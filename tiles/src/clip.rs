//! Clipping in tile-local integer space against the tile square grown by a buffer.
//!
//! Inputs are integer coordinates of any width (`i32` tile-local or `i64` when the
//! geometry spans far beyond the tile at high zoom); outputs are `i32` and are
//! guaranteed to lie in `[-buffer, extent + buffer]²`. Intersection points are computed
//! in `f64` and rounded, then clamped, so rounding can never push a vertex outside.
//!
//! Polygon rings are clipped independently with Sutherland–Hodgman: a hole clipped to the
//! square stays inside its clipped exterior, so ring nesting survives. Where a concave
//! ring leaves and re-enters the square the result runs along the square's edge; those
//! zero-width runs lie in the buffer, which renderers never draw, and that is the usual
//! trade-off that keeps the clipper simple, fast and total.

use geo_types::{Coord, CoordNum, LineString, Polygon};

use crate::tile::EXTENT;

/// The buffered tile square `[-buffer, extent + buffer]²`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipBox {
    min: i64,
    max: i64,
}

impl ClipBox {
    /// Square for extent [`EXTENT`] and a buffer in tile units (e.g. 64).
    pub fn new(buffer: u32) -> ClipBox {
        ClipBox::with_extent(EXTENT, buffer)
    }

    /// Square for an arbitrary extent.
    pub fn with_extent(extent: u32, buffer: u32) -> ClipBox {
        // Keep all outputs comfortably inside i32.
        let buffer = i64::from(buffer.min(1 << 28));
        let extent = i64::from(extent.min(1 << 28));
        ClipBox {
            min: -buffer,
            max: extent + buffer,
        }
    }

    /// Lowest allowed coordinate.
    pub fn min(&self) -> i64 {
        self.min
    }

    /// Highest allowed coordinate.
    pub fn max(&self) -> i64 {
        self.max
    }

    /// Whether a point lies in the square (edges included).
    pub fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.min && x <= self.max && y >= self.min && y <= self.max
    }

    fn clamp(&self, v: f64) -> i64 {
        // NaN cannot occur (inputs are integers), but `as` would map it to 0 anyway.
        (v.round() as i64).clamp(self.min, self.max)
    }
}

type P = (i64, i64);

fn wide<T: CoordNum + Into<i64>>(c: &Coord<T>) -> P {
    (c.x.into(), c.y.into())
}

fn narrow(p: P) -> Coord<i32> {
    // Callers only narrow points already inside a ClipBox, which fits i32.
    Coord {
        x: p.0 as i32,
        y: p.1 as i32,
    }
}

/// Keeps a point if it lies in the buffered square.
pub fn clip_point<T: CoordNum + Into<i64>>(p: Coord<T>, b: &ClipBox) -> Option<Coord<i32>> {
    let p = wide(&p);
    b.contains(p.0, p.1).then(|| narrow(p))
}

/// Clips a polyline to the square; each stretch inside becomes its own part.
/// Parts with fewer than two distinct points are dropped.
pub fn clip_line<T: CoordNum + Into<i64>>(line: &[Coord<T>], b: &ClipBox) -> Vec<LineString<i32>> {
    let mut parts: Vec<Vec<Coord<i32>>> = Vec::new();
    let mut current: Vec<Coord<i32>> = Vec::new();
    let mut flush = |current: &mut Vec<Coord<i32>>| {
        if current.len() >= 2 {
            parts.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    if line.len() == 1 {
        return Vec::new();
    }
    for w in line.windows(2) {
        let (p0, p1) = (wide(&w[0]), wide(&w[1]));
        match clip_segment(p0, p1, b) {
            None => flush(&mut current),
            Some((a, c, enters_late, leaves_early)) => {
                if enters_late {
                    flush(&mut current);
                }
                push_dedup(&mut current, narrow(a));
                push_dedup(&mut current, narrow(c));
                if leaves_early {
                    flush(&mut current);
                }
            }
        }
    }
    flush(&mut current);
    parts.into_iter().map(LineString::new).collect()
}

fn push_dedup(v: &mut Vec<Coord<i32>>, c: Coord<i32>) {
    if v.last() != Some(&c) {
        v.push(c);
    }
}

/// Liang–Barsky. Returns the clipped segment and whether it starts after `p0` / ends
/// before `p1` (i.e. the line entered or left the square inside this segment).
fn clip_segment(p0: P, p1: P, b: &ClipBox) -> Option<(P, P, bool, bool)> {
    if b.contains(p0.0, p0.1) && b.contains(p1.0, p1.1) {
        return Some((p0, p1, false, false));
    }
    let (x0, y0) = (p0.0 as f64, p0.1 as f64);
    let (dx, dy) = (p1.0 as f64 - x0, p1.1 as f64 - y0);
    let (lo, hi) = (b.min as f64, b.max as f64);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [(-dx, x0 - lo), (dx, hi - x0), (-dy, y0 - lo), (dy, hi - y0)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64, end: P| {
        if t <= 0.0 {
            p0
        } else if t >= 1.0 {
            end
        } else {
            (b.clamp(x0 + t * dx), b.clamp(y0 + t * dy))
        }
    };
    let a = at(t0, p1);
    let c = if t1 >= 1.0 { p1 } else { at(t1, p1) };
    Some((a, c, t0 > 0.0, t1 < 1.0))
}

/// Clips one ring (closed or open) with Sutherland–Hodgman. Returns the ring *without*
/// a closing point, consecutive duplicates removed; `None` when fewer than three distinct
/// vertices or zero area remain.
pub fn clip_ring<T: CoordNum + Into<i64>>(
    ring: &[Coord<T>],
    b: &ClipBox,
) -> Option<Vec<Coord<i32>>> {
    let mut pts: Vec<P> = ring.iter().map(wide).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    let (mut minx, mut miny, mut maxx, mut maxy) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for &(x, y) in &pts {
        minx = minx.min(x);
        miny = miny.min(y);
        maxx = maxx.max(x);
        maxy = maxy.max(y);
    }
    if maxx < b.min || minx > b.max || maxy < b.min || miny > b.max {
        return None;
    }
    let inside_all = minx >= b.min && maxx <= b.max && miny >= b.min && maxy <= b.max;
    if !inside_all {
        // Edges: x ≥ min, x ≤ max, y ≥ min, y ≤ max.
        for edge in 0..4 {
            pts = clip_against(&pts, edge, b);
            if pts.is_empty() {
                return None;
            }
        }
    }
    let mut out: Vec<Coord<i32>> = Vec::with_capacity(pts.len());
    for p in pts {
        push_dedup(&mut out, narrow(p));
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    (out.len() >= 3 && ring_area2(&out) != 0).then_some(out)
}

fn clip_against(pts: &[P], edge: u8, b: &ClipBox) -> Vec<P> {
    let inside = |p: P| match edge {
        0 => p.0 >= b.min,
        1 => p.0 <= b.max,
        2 => p.1 >= b.min,
        _ => p.1 <= b.max,
    };
    let cross = |a: P, c: P| -> P {
        // Neighbouring polygons traverse a shared edge in opposite directions; computing
        // from a canonical end keeps their rounded intersection identical.
        let (a, c) = if a <= c { (a, c) } else { (c, a) };
        let (ax, ay, cx, cy) = (a.0 as f64, a.1 as f64, c.0 as f64, c.1 as f64);
        match edge {
            0 | 1 => {
                let x = if edge == 0 { b.min } else { b.max };
                let t = (x as f64 - ax) / (cx - ax);
                (x, b.clamp(ay + t * (cy - ay)))
            }
            _ => {
                let y = if edge == 2 { b.min } else { b.max };
                let t = (y as f64 - ay) / (cy - ay);
                (b.clamp(ax + t * (cx - ax)), y)
            }
        }
    };
    let mut out = Vec::with_capacity(pts.len() + 4);
    let Some(&last) = pts.last() else {
        return out;
    };
    let mut prev = last;
    for &cur in pts {
        match (inside(prev), inside(cur)) {
            (true, true) => out.push(cur),
            (true, false) => out.push(cross(prev, cur)),
            (false, true) => {
                out.push(cross(prev, cur));
                out.push(cur);
            }
            (false, false) => {}
        }
        prev = cur;
    }
    out
}

/// Twice the signed area of an open ring (shoelace); positive for clockwise rings in
/// tile space (y down), which is what MVT requires of exterior rings.
pub fn ring_area2<T: CoordNum + Into<i64>>(ring: &[Coord<T>]) -> i128 {
    let n = ring.len();
    let mut s = 0i128;
    for i in 0..n {
        let (ax, ay) = wide(&ring[i]);
        let (cx, cy) = wide(&ring[(i + 1) % n]);
        s += i128::from(ax) * i128::from(cy) - i128::from(cx) * i128::from(ay);
    }
    s
}

/// Clips a polygon: the exterior and each hole independently. `None` when the exterior
/// vanishes; holes that vanish are dropped.
pub fn clip_polygon<T: CoordNum + Into<i64>>(
    poly: &Polygon<T>,
    b: &ClipBox,
) -> Option<Polygon<i32>> {
    let ext = clip_ring(&poly.exterior().0, b)?;
    let holes = poly
        .interiors()
        .iter()
        .filter_map(|h| clip_ring(&h.0, b))
        .map(LineString::new)
        .collect();
    Some(Polygon::new(LineString::new(ext), holes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: i64, y: i64) -> Coord<i64> {
        Coord { x, y }
    }

    fn flat(ls: &LineString<i32>) -> Vec<(i32, i32)> {
        ls.0.iter().map(|c| (c.x, c.y)).collect()
    }

    fn check_line(input: &[(i64, i64)], buffer: u32, want: &[&[(i32, i32)]]) {
        let line: Vec<_> = input.iter().map(|&(x, y)| c(x, y)).collect();
        let got: Vec<_> = clip_line(&line, &ClipBox::new(buffer))
            .iter()
            .map(flat)
            .collect();
        let want: Vec<Vec<(i32, i32)>> = want.iter().map(|p| p.to_vec()).collect();
        assert_eq!(got, want, "input {input:?}");
    }

    #[test]
    fn lines() {
        check_line(&[(10, 10), (20, 20)], 0, &[&[(10, 10), (20, 20)]]);
        check_line(&[(-100, 10), (100, 10)], 0, &[&[(0, 10), (100, 10)]]);
        check_line(&[(-100, 10), (100, 10)], 64, &[&[(-64, 10), (100, 10)]]);
        // Leaves and re-enters: two parts.
        check_line(
            &[(10, 10), (10, -50), (20, -50), (20, 10)],
            0,
            &[&[(10, 10), (10, 0)], &[(20, 0), (20, 10)]],
        );
        // Diagonal crossing the whole tile.
        check_line(&[(-10, -10), (5000, 5000)], 0, &[&[(0, 0), (4096, 4096)]]);
        // Entirely outside.
        check_line(&[(-10, -10), (-20, 5000)], 0, &[]);
        // Touching a corner only yields a degenerate part, dropped.
        check_line(&[(-10, 10), (10, -10)], 0, &[]);
    }

    fn check_ring(input: &[(i64, i64)], buffer: u32, want_area2: Option<i128>) {
        let ring: Vec<_> = input.iter().map(|&(x, y)| c(x, y)).collect();
        let got = clip_ring(&ring, &ClipBox::new(buffer));
        assert_eq!(got.as_ref().map(|r| ring_area2(r)), want_area2, "{input:?}");
        if let Some(r) = got {
            let b = ClipBox::new(buffer);
            assert!(r.iter().all(|p| b.contains(p.x.into(), p.y.into())));
        }
    }

    #[test]
    fn rings() {
        // Inside: unchanged (area2 of a 10×10 square, clockwise in y-down space).
        check_ring(&[(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)], 0, Some(200));
        // Covering the whole tile: becomes the buffered square.
        let big = [(-9000, -9000), (9000, -9000), (9000, 9000), (-9000, 9000)];
        check_ring(&big, 0, Some(2 * 4096 * 4096));
        check_ring(&big, 64, Some(2 * 4224 * 4224));
        // Half outside.
        check_ring(
            &[(-100, 0), (100, 0), (100, 100), (-100, 100)],
            0,
            Some(2 * 100 * 100),
        );
        // Outside.
        check_ring(&[(-100, 0), (-50, 0), (-50, 100)], 0, None);
        // Degenerate (collinear).
        check_ring(&[(0, 0), (10, 10), (20, 20)], 0, None);
        // Counter-clockwise keeps its sign.
        check_ring(&[(0, 0), (0, 10), (10, 10), (10, 0)], 0, Some(-200));
    }

    #[test]
    fn points() {
        let b = ClipBox::new(64);
        for (x, y, keep) in [
            (0i64, 0i64, true),
            (-64, 4160, true),
            (-65, 0, false),
            (0, 4161, false),
            (i64::MAX, 0, false),
        ] {
            assert_eq!(clip_point(c(x, y), &b).is_some(), keep, "{x},{y}");
        }
    }
}
