//! The synthetic district's geography: area polygons that tile the district exactly,
//! and roads.
//!
//! Areas are unions of cells of one jittered lattice (~150 m). Every cell belongs to
//! exactly one grid, every grid to one community, every community to one township, and
//! every polygon is traced from the same shared lattice vertices, so the polygons of a
//! level tile the district with no gaps or overlaps *by construction*, with organic
//! (non-axis-aligned) boundaries because the vertices are jittered.

use super::names::{PLACE_WORDS, STREETS, TOWNS, UniqueNames};
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, HashMap};

/// Centre of the urban core (the seed's figure).
pub const CENTRE_LON: f64 = 104.397;
pub const CENTRE_LAT: f64 = 31.127;
const CELL_M: f64 = 150.0;
const M_PER_DEG_LAT: f64 = 110_574.0;

/// A local metric frame around the district centre.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    m_per_deg_lon: f64,
}

impl Frame {
    fn new(width: f64, height: f64) -> Self {
        let m_per_deg_lon = 111_320.0 * CENTRE_LAT.to_radians().cos();
        Self {
            width,
            height,
            m_per_deg_lon,
        }
    }

    /// Metres (origin at the lower-left corner) to lon/lat, rounded to 1e-7°.
    pub fn lonlat(&self, x: f64, y: f64) -> (f64, f64) {
        let lon = CENTRE_LON + (x - self.width / 2.0) / self.m_per_deg_lon;
        let lat = CENTRE_LAT + (y - self.height / 2.0) / M_PER_DEG_LAT;
        (round7(lon), round7(lat))
    }

    pub fn coord(&self, x: f64, y: f64) -> Coord<f64> {
        let (lon, lat) = self.lonlat(x, y);
        Coord { x: lon, y: lat }
    }
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Whether a township is an urban street (街道) or a town (镇).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TownshipKind {
    Street,
    Town,
}

#[derive(Debug, Clone)]
pub struct Township {
    pub code: String,
    pub name: String,
    pub kind: TownshipKind,
    /// Seed (centre) in metres.
    pub centre: (f64, f64),
}

#[derive(Debug, Clone)]
pub struct Community {
    pub code: String,
    pub name: String,
    pub township: usize,
    /// `true` for a village (村), `false` for an urban or town community (社区).
    pub village: bool,
}

#[derive(Debug, Clone)]
pub struct Grid {
    pub code: String,
    pub name: String,
    pub community: usize,
    pub cells: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct RoadLine {
    pub name: String,
    pub class: &'static str,
    /// Vertices in metres.
    pub points: Vec<(f64, f64)>,
    /// The township this road serves, for town streets.
    pub town: Option<usize>,
}

/// The whole geography of a synthetic district.
pub struct Geography {
    pub frame: Frame,
    nx: usize,
    ny: usize,
    /// Jittered lattice vertices in metres, `(nx + 1) * (ny + 1)`.
    verts: Vec<(f64, f64)>,
    /// Owning grid of each cell; `None` outside the district.
    pub cell_grid: Vec<Option<usize>>,
    pub core_radius: f64,
    pub townships: Vec<Township>,
    pub communities: Vec<Community>,
    pub grids: Vec<Grid>,
    pub roads: Vec<RoadLine>,
}

impl Geography {
    pub fn cell_count(&self) -> usize {
        self.nx * self.ny
    }

    /// Cells per row and per column of the lattice (cell `i + j * nx` is column `i`, row `j`).
    pub fn dims(&self) -> (usize, usize) {
        (self.nx, self.ny)
    }

    fn vert(&self, i: usize, j: usize) -> (f64, f64) {
        self.verts[j * (self.nx + 1) + i]
    }

    /// Corners of a cell, counter-clockwise.
    pub fn cell_corners(&self, cell: usize) -> [(f64, f64); 4] {
        let (i, j) = (cell % self.nx, cell / self.nx);
        [
            self.vert(i, j),
            self.vert(i + 1, j),
            self.vert(i + 1, j + 1),
            self.vert(i, j + 1),
        ]
    }

    /// A point inside a cell by bilinear interpolation of its corners; `u`, `v` in (0, 1).
    pub fn point_in_cell(&self, cell: usize, u: f64, v: f64) -> (f64, f64) {
        let [a, b, c, d] = self.cell_corners(cell);
        let x =
            a.0 * (1.0 - u) * (1.0 - v) + b.0 * u * (1.0 - v) + c.0 * u * v + d.0 * (1.0 - u) * v;
        let y =
            a.1 * (1.0 - u) * (1.0 - v) + b.1 * u * (1.0 - v) + c.1 * u * v + d.1 * (1.0 - u) * v;
        (x, y)
    }

    pub fn cell_centre(&self, cell: usize) -> (f64, f64) {
        self.point_in_cell(cell, 0.5, 0.5)
    }

    /// The cell containing a point in metres, if inside the lattice.
    pub fn locate(&self, x: f64, y: f64) -> Option<usize> {
        let ci = (x / CELL_M).floor() as i64;
        let cj = (y / CELL_M).floor() as i64;
        for dj in [0, -1, 1] {
            for di in [0, -1, 1] {
                let (i, j) = (ci + di, cj + dj);
                if i < 0 || j < 0 || i >= self.nx as i64 || j >= self.ny as i64 {
                    continue;
                }
                let cell = j as usize * self.nx + i as usize;
                if quad_contains(&self.cell_corners(cell), x, y) {
                    return Some(cell);
                }
            }
        }
        None
    }

    /// The grid containing a point in metres.
    pub fn grid_at(&self, x: f64, y: f64) -> Option<usize> {
        self.locate(x, y).and_then(|c| self.cell_grid[c])
    }

    pub fn community_of_grid(&self, grid: usize) -> &Community {
        &self.communities[self.grids[grid].community]
    }

    pub fn township_of_grid(&self, grid: usize) -> &Township {
        &self.townships[self.community_of_grid(grid).township]
    }

    /// Polygons of every area level, traced from the lattice.
    pub fn polygons(&self) -> AreaPolygons {
        let mut by_grid: Vec<Vec<usize>> = vec![Vec::new(); self.grids.len()];
        let mut by_comm: Vec<Vec<usize>> = vec![Vec::new(); self.communities.len()];
        let mut by_town: Vec<Vec<usize>> = vec![Vec::new(); self.townships.len()];
        let mut all = Vec::new();
        for (cell, g) in self.cell_grid.iter().enumerate() {
            if let Some(g) = *g {
                let c = self.grids[g].community;
                by_grid[g].push(cell);
                by_comm[c].push(cell);
                by_town[self.communities[c].township].push(cell);
                all.push(cell);
            }
        }
        AreaPolygons {
            district: self.trace(&all),
            townships: by_town.iter().map(|c| self.trace(c)).collect(),
            communities: by_comm.iter().map(|c| self.trace(c)).collect(),
            grids: by_grid.iter().map(|c| self.trace(c)).collect(),
        }
    }

    /// The boundary of a union of cells, by cancelling interior edges and chaining the
    /// remaining directed edges into rings.
    pub fn trace(&self, cells: &[usize]) -> MultiPolygon<f64> {
        let w = self.nx + 1;
        let vid = |i: usize, j: usize| j * w + i;
        let mut edges: HashMap<(usize, usize), ()> = HashMap::new();
        for &cell in cells {
            let (i, j) = (cell % self.nx, cell / self.nx);
            let ring = [vid(i, j), vid(i + 1, j), vid(i + 1, j + 1), vid(i, j + 1)];
            for k in 0..4 {
                let (a, b) = (ring[k], ring[(k + 1) % 4]);
                if edges.remove(&(b, a)).is_none() {
                    edges.insert((a, b), ());
                }
            }
        }
        let mut next: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(a, b) in edges.keys() {
            next.entry(a).or_default().push(b);
        }
        for v in next.values_mut() {
            v.sort_unstable();
        }
        let mut rings: Vec<Vec<usize>> = Vec::new();
        while let Some((&start, _)) = next.iter().find(|(_, v)| !v.is_empty()) {
            let mut ring = vec![start];
            let mut cur = start;
            loop {
                let outs = next
                    .get_mut(&cur)
                    .expect("boundary edges form closed rings");
                let nxt = outs.remove(0);
                if nxt == start {
                    break;
                }
                ring.push(nxt);
                cur = nxt;
            }
            rings.push(ring);
            next.retain(|_, v| !v.is_empty());
        }
        let to_ls = |ring: &[usize]| -> LineString<f64> {
            let mut pts: Vec<Coord<f64>> = ring
                .iter()
                .map(|&v| {
                    let (x, y) = self.verts[v];
                    self.frame.coord(x, y)
                })
                .collect();
            pts.push(pts[0]);
            LineString::new(pts)
        };
        let signed_area = |ring: &[usize]| -> f64 {
            let n = ring.len();
            (0..n)
                .map(|k| {
                    let (x1, y1) = self.verts[ring[k]];
                    let (x2, y2) = self.verts[ring[(k + 1) % n]];
                    x1 * y2 - x2 * y1
                })
                .sum::<f64>()
                / 2.0
        };
        let (outers, holes): (Vec<_>, Vec<_>) =
            rings.into_iter().partition(|r| signed_area(r) > 0.0);
        let mut polys: Vec<(LineString<f64>, Vec<LineString<f64>>)> =
            outers.iter().map(|r| (to_ls(r), Vec::new())).collect();
        for hole in holes {
            let ls = to_ls(&hole);
            let probe = ls.0[0];
            // A hole belongs to the outer ring containing its vertices (touching allowed).
            let owner = polys
                .iter()
                .position(|(outer, _)| ring_contains(outer, probe.x, probe.y))
                .unwrap_or(0);
            if let Some(p) = polys.get_mut(owner) {
                p.1.push(ls);
            }
        }
        MultiPolygon::new(polys.into_iter().map(|(o, h)| Polygon::new(o, h)).collect())
    }
}

/// Polygons of each level, indexed like the `Geography` vectors.
pub struct AreaPolygons {
    pub district: MultiPolygon<f64>,
    pub townships: Vec<MultiPolygon<f64>>,
    pub communities: Vec<MultiPolygon<f64>>,
    pub grids: Vec<MultiPolygon<f64>>,
}

fn quad_contains(q: &[(f64, f64); 4], x: f64, y: f64) -> bool {
    // Convex counter-clockwise quad: inside when left of (or on) every edge; the
    // half-open rule on ties keeps a point on a shared edge in exactly one cell.
    (0..4).all(|k| {
        let (ax, ay) = q[k];
        let (bx, by) = q[(k + 1) % 4];
        let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
        cross > 0.0 || (cross == 0.0 && k < 2)
    })
}

/// Even-odd ray test against a closed ring; boundary points may go either way.
fn ring_contains(ring: &LineString<f64>, x: f64, y: f64) -> bool {
    let pts = &ring.0;
    let mut inside = false;
    for k in 0..pts.len().saturating_sub(1) {
        let (a, b) = (pts[k], pts[k + 1]);
        if (a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside || pts.iter().any(|p| p.x == x && p.y == y)
}

/// Counts that shape the geography at a given scale.
pub struct GeoCounts {
    pub streets: usize,
    pub towns: usize,
    pub urban_communities: usize,
    pub villages: usize,
    pub community_grids: usize,
}

impl GeoCounts {
    pub fn at_scale(scale: f64) -> Self {
        let n = |base: f64, min: usize| ((base * scale).round() as usize).max(min);
        Self {
            streets: n(7.0, 1),
            towns: n(6.0, 1),
            urban_communities: n(42.0, 1),
            villages: n(110.0, 1),
            community_grids: n(331.0, 1),
        }
    }
}

/// Build the geography for `scale` from `rng`.
pub fn build<R: Rng>(rng: &mut R, scale: f64) -> Geography {
    let counts = GeoCounts::at_scale(scale);
    let f = scale.max(0.01).sqrt().max(0.12);
    let frame = Frame::new(30_000.0 * f, 26_000.0 * f);
    let nx = (frame.width / CELL_M).ceil() as usize;
    let ny = (frame.height / CELL_M).ceil() as usize;
    let jitter = 0.22 * CELL_M;
    let mut verts = Vec::with_capacity((nx + 1) * (ny + 1));
    for j in 0..=ny {
        for i in 0..=nx {
            let dx = rng.gen_range(-jitter..jitter);
            let dy = rng.gen_range(-jitter..jitter);
            verts.push((i as f64 * CELL_M + dx, j as f64 * CELL_M + dy));
        }
    }
    let (cx, cy) = (frame.width / 2.0, frame.height / 2.0);
    let (ax, ay) = (frame.width / 2.0, frame.height / 2.0);
    let phase1 = rng.gen_range(0.0..std::f64::consts::TAU);
    let phase2 = rng.gen_range(0.0..std::f64::consts::TAU);
    let core_radius = 0.28 * ax.min(ay);

    let mut geo = Geography {
        frame,
        nx,
        ny,
        verts,
        cell_grid: vec![None; nx * ny],
        core_radius,
        townships: Vec::new(),
        communities: Vec::new(),
        grids: Vec::new(),
        roads: Vec::new(),
    };

    // District mask: an irregular blob.
    let mut inside = vec![false; nx * ny];
    for (cell, flag) in inside.iter_mut().enumerate() {
        let (x, y) = geo.cell_centre(cell);
        let (u, v) = ((x - cx) / ax, (y - cy) / ay);
        let theta = v.atan2(u);
        let r = (u * u + v * v).sqrt();
        *flag = r < 0.95
            * (1.0 + 0.08 * (3.0 * theta + phase1).sin() + 0.05 * (5.0 * theta + phase2).sin());
    }

    // Townships: streets share the core, towns the ring around it.
    let mut names = UniqueNames::new();
    let mut street_names: Vec<String> = STREETS.iter().map(|s| s.to_string()).collect();
    let mut town_names: Vec<String> = TOWNS.iter().map(|s| s.to_string()).collect();
    for n in street_names.iter().chain(town_names.iter()) {
        names.reserve(n);
    }
    while street_names.len() < counts.streets {
        street_names.push(names.pick(rng, PLACE_WORDS, "街道"));
    }
    while town_names.len() < counts.towns {
        town_names.push(names.pick(rng, PLACE_WORDS, "镇"));
    }
    let tau = std::f64::consts::TAU;
    for (k, name) in street_names.iter().enumerate().take(counts.streets) {
        let centre = if counts.streets >= 5 && k == 0 {
            (cx, cy)
        } else {
            let a = k as f64 * tau / counts.streets as f64 + 0.3;
            (
                cx + 0.55 * core_radius * a.cos(),
                cy + 0.55 * core_radius * a.sin(),
            )
        };
        geo.townships.push(Township {
            code: format!("510603{:03}", k + 1),
            name: name.clone(),
            kind: TownshipKind::Street,
            centre,
        });
    }
    let town_offset = rng.gen_range(0.0..tau);
    for (k, name) in town_names.iter().enumerate().take(counts.towns) {
        let a = k as f64 * tau / counts.towns as f64 + town_offset;
        let centre = (cx + 0.62 * ax * a.cos(), cy + 0.62 * ay * a.sin());
        geo.townships.push(Township {
            code: format!("510603{:03}", 101 + k),
            name: name.clone(),
            kind: TownshipKind::Town,
            centre,
        });
    }
    let mut cell_town: Vec<Option<usize>> = vec![None; nx * ny];
    for cell in 0..nx * ny {
        if !inside[cell] {
            continue;
        }
        let (x, y) = geo.cell_centre(cell);
        let theta = (y - cy).atan2(x - cx);
        let urban = ((x - cx).hypot(y - cy)) < core_radius * (1.0 + 0.06 * (4.0 * theta).sin());
        let wanted = if urban {
            TownshipKind::Street
        } else {
            TownshipKind::Town
        };
        cell_town[cell] = nearest(
            geo.townships
                .iter()
                .enumerate()
                .filter(|(_, t)| t.kind == wanted)
                .map(|(i, t)| (i, t.centre)),
            x,
            y,
        );
    }
    // Each township seed's own cell belongs to it, so no township is empty.
    for (t, tw) in geo.townships.iter().enumerate() {
        if let Some(cell) = geo.locate(tw.centre.0, tw.centre.1) {
            inside[cell] = true;
            cell_town[cell] = Some(t);
        }
    }
    let mut town_cells: Vec<Vec<usize>> = vec![Vec::new(); geo.townships.len()];
    for (cell, t) in cell_town.iter().enumerate() {
        if let Some(t) = t {
            town_cells[*t].push(cell);
        }
    }

    // Communities and villages.
    let street_ids: Vec<usize> = (0..counts.streets).collect();
    let street_total: usize = street_ids.iter().map(|&t| town_cells[t].len()).sum();
    let per_street = apportion(
        &street_ids
            .iter()
            .map(|&t| town_cells[t].len() as f64)
            .collect::<Vec<_>>(),
        counts.urban_communities.max(counts.streets),
        &street_ids
            .iter()
            .map(|&t| town_cells[t].len())
            .collect::<Vec<_>>(),
    );
    let _ = street_total;
    let mut cell_comm: Vec<Option<usize>> = vec![None; nx * ny];
    for (k, &t) in street_ids.iter().enumerate() {
        let seeds = pick_cells(rng, &town_cells[t], per_street[k]);
        let first = geo.communities.len();
        for (n, _) in seeds.iter().enumerate() {
            geo.communities.push(Community {
                code: format!("{}{:03}", geo.townships[t].code, n + 1),
                name: names.pick(rng, PLACE_WORDS, "社区"),
                township: t,
                village: false,
            });
        }
        assign_nearest(&geo, &town_cells[t], &seeds, first, &mut cell_comm);
    }
    let village_per_town = apportion(
        &vec![1.0; counts.towns],
        counts.villages.max(counts.towns),
        &(counts.streets..geo.townships.len())
            .map(|t| town_cells[t].len().saturating_sub(1))
            .collect::<Vec<_>>(),
    );
    for (k, &villages) in village_per_town.iter().enumerate().take(counts.towns) {
        let t = counts.streets + k;
        let centre = geo.townships[t].centre;
        let radius = 1_000.0 * f.min(1.0);
        let (centre_cells, outer): (Vec<usize>, Vec<usize>) =
            town_cells[t].iter().partition(|&&c| {
                let (x, y) = geo.cell_centre(c);
                (x - centre.0).hypot(y - centre.1) <= radius
                    || Some(c) == geo.locate(centre.0, centre.1)
            });
        let comm = geo.communities.len();
        let stem: String = geo.townships[t].name.chars().take(2).collect();
        let comm_name = if names.reserve(&format!("{stem}社区")) {
            format!("{stem}社区")
        } else {
            names.pick(rng, PLACE_WORDS, "社区")
        };
        geo.communities.push(Community {
            code: format!("{}001", geo.townships[t].code),
            name: comm_name,
            township: t,
            village: false,
        });
        for &c in &centre_cells {
            cell_comm[c] = Some(comm);
        }
        let seeds = pick_cells(rng, &outer, villages.min(outer.len()));
        let first = geo.communities.len();
        for (n, _) in seeds.iter().enumerate() {
            geo.communities.push(Community {
                code: format!("{}{:03}", geo.townships[t].code, 201 + n),
                name: names.pick(rng, PLACE_WORDS, "村"),
                township: t,
                village: true,
            });
        }
        if seeds.is_empty() {
            for &c in &outer {
                cell_comm[c] = Some(comm);
            }
        } else {
            assign_nearest(&geo, &outer, &seeds, first, &mut cell_comm);
        }
    }
    let mut comm_cells: Vec<Vec<usize>> = vec![Vec::new(); geo.communities.len()];
    for (cell, c) in cell_comm.iter().enumerate() {
        if let Some(c) = c {
            comm_cells[*c].push(cell);
        }
    }

    // Grids: the urban community grids are apportioned over communities; a village is
    // one rural grid.
    let urban_comms: Vec<usize> = (0..geo.communities.len())
        .filter(|&c| !geo.communities[c].village)
        .collect();
    let weights: Vec<f64> = urban_comms
        .iter()
        .map(|&c| {
            let w = if geo.townships[geo.communities[c].township].kind == TownshipKind::Street {
                1.0
            } else {
                0.5
            };
            comm_cells[c].len() as f64 * w
        })
        .collect();
    let grids_per = apportion(
        &weights,
        counts.community_grids.max(urban_comms.len()),
        &urban_comms
            .iter()
            .map(|&c| comm_cells[c].len())
            .collect::<Vec<_>>(),
    );
    for (c, cells) in comm_cells.iter().enumerate() {
        let n = match urban_comms.iter().position(|&u| u == c) {
            Some(k) => grids_per[k],
            None => 1,
        };
        let seeds = pick_cells(rng, cells, n);
        let first = geo.grids.len();
        for (k, _) in seeds.iter().enumerate() {
            let comm = &geo.communities[c];
            let name = if comm.village {
                format!("{}网格", comm.name)
            } else {
                format!("{}第{}网格", comm.name, k + 1)
            };
            geo.grids.push(Grid {
                code: format!("{}{:03}", comm.code, k + 1),
                name,
                community: c,
                cells: Vec::new(),
            });
        }
        let mut owner: Vec<Option<usize>> = vec![None; nx * ny];
        assign_nearest(&geo, cells, &seeds, first, &mut owner);
        for &cell in cells {
            geo.cell_grid[cell] = owner[cell];
        }
    }
    for cell in 0..nx * ny {
        if let Some(g) = geo.cell_grid[cell] {
            geo.grids[g].cells.push(cell);
        }
    }

    build_roads(rng, &mut geo, &mut names);
    geo
}

fn nearest(seeds: impl Iterator<Item = (usize, (f64, f64))>, x: f64, y: f64) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, (sx, sy)) in seeds {
        let d = (sx - x).hypot(sy - y);
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// Assign each cell of `cells` to the nearest seed cell; owners are `first + seed index`.
fn assign_nearest(
    geo: &Geography,
    cells: &[usize],
    seeds: &[usize],
    first: usize,
    owner: &mut [Option<usize>],
) {
    let centres: Vec<(f64, f64)> = seeds.iter().map(|&s| geo.cell_centre(s)).collect();
    for &cell in cells {
        let (x, y) = geo.cell_centre(cell);
        let k = if seeds.contains(&cell) {
            seeds.iter().position(|&s| s == cell)
        } else {
            nearest(centres.iter().copied().enumerate(), x, y)
        };
        owner[cell] = k.map(|k| first + k);
    }
}

/// `n` distinct cells drawn from `cells` (all of them when `n` is larger).
fn pick_cells<R: Rng>(rng: &mut R, cells: &[usize], n: usize) -> Vec<usize> {
    let mut pool = cells.to_vec();
    pool.shuffle(rng);
    pool.truncate(n.max(1).min(cells.len()));
    pool
}

/// Split `total` into parts proportional to `weights` (largest remainder), each at least
/// 1 and at most its `cap` when the caps allow it.
pub fn apportion(weights: &[f64], total: usize, caps: &[usize]) -> Vec<usize> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let sum: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut parts: Vec<usize> = vec![1; n];
    let rest = total.saturating_sub(n);
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * rest as f64).collect();
    for (p, e) in parts.iter_mut().zip(&exact) {
        *p += e.floor() as usize;
    }
    let mut given: usize = parts.iter().sum();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut k = 0;
    while given < total && k < 4 * n + total {
        let i = order[k % n];
        parts[i] += 1;
        given += 1;
        k += 1;
    }
    // Respect caps by moving the excess to parts with room.
    for i in 0..n {
        while parts[i] > caps[i].max(1) {
            match (0..n).find(|&j| parts[j] < caps[j]) {
                Some(j) => {
                    parts[i] -= 1;
                    parts[j] += 1;
                }
                None => break,
            }
        }
    }
    parts
}

fn build_roads<R: Rng>(rng: &mut R, geo: &mut Geography, names: &mut UniqueNames) {
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    let rc = geo.core_radius * 1.08;
    let spacing = 650.0;
    let k_max = (rc / spacing).floor() as i64;
    let wavy = |rng: &mut R, pts: &mut Vec<(f64, f64)>, amp: f64| {
        for p in pts.iter_mut() {
            p.0 += rng.gen_range(-amp..amp);
            p.1 += rng.gen_range(-amp..amp);
        }
    };
    for k in -k_max..=k_max {
        let off = k as f64 * spacing + rng.gen_range(-80.0..80.0);
        let half = (rc * rc - off * off).max(0.0).sqrt();
        if half < 300.0 {
            continue;
        }
        let class = if k % 3 == 0 { "main" } else { "street" };
        // North–south road, named 北路 / 南路 either side of the centre line.
        let stem = names.pick(rng, super::names::PLACE_WORDS, "");
        for (suffix, y0, y1) in [("北路", cy, cy + half), ("南路", cy - half, cy)] {
            let n = ((y1 - y0) / 150.0).ceil().max(1.0) as usize;
            let mut pts: Vec<(f64, f64)> = (0..=n)
                .map(|s| (cx + off, y0 + (y1 - y0) * s as f64 / n as f64))
                .collect();
            wavy(rng, &mut pts, 6.0);
            geo.roads.push(RoadLine {
                name: format!("{stem}{suffix}"),
                class,
                points: pts,
                town: None,
            });
        }
        let stem = names.pick(rng, super::names::PLACE_WORDS, "");
        for (suffix, x0, x1) in [("东路", cx, cx + half), ("西路", cx - half, cx)] {
            let n = ((x1 - x0) / 150.0).ceil().max(1.0) as usize;
            let mut pts: Vec<(f64, f64)> = (0..=n)
                .map(|s| (x0 + (x1 - x0) * s as f64 / n as f64, cy + off))
                .collect();
            wavy(rng, &mut pts, 6.0);
            geo.roads.push(RoadLine {
                name: format!("{stem}{suffix}"),
                class,
                points: pts,
                town: None,
            });
        }
    }
    let towns: Vec<(usize, String, (f64, f64))> = geo
        .townships
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == TownshipKind::Town)
        .map(|(i, t)| (i, t.name.clone(), t.centre))
        .collect();
    let len = 800.0 * (geo.frame.width / 30_000.0).clamp(0.3, 1.0);
    for (t, name, (tx, ty)) in towns {
        let stem: String = name.chars().take(2).collect();
        for (suffix, horizontal) in [("正街", true), ("新街", false)] {
            let n = 10;
            let mut pts: Vec<(f64, f64)> = (0..=n)
                .map(|s| {
                    let d = -len + 2.0 * len * s as f64 / n as f64;
                    if horizontal {
                        (tx + d, ty)
                    } else {
                        (tx, ty + d)
                    }
                })
                .collect();
            wavy(rng, &mut pts, 10.0);
            let road_name = if names.reserve(&format!("{stem}{suffix}")) {
                format!("{stem}{suffix}")
            } else {
                names.pick(rng, super::names::PLACE_WORDS, suffix)
            };
            geo.roads.push(RoadLine {
                name: road_name,
                class: "street",
                points: pts,
                town: Some(t),
            });
        }
        // A rural road from the core's edge to the town.
        let a = (ty - cy).atan2(tx - cx);
        let (sx, sy) = (cx + rc * a.cos(), cy + rc * a.sin());
        let n = 12;
        let mut pts: Vec<(f64, f64)> = (0..=n)
            .map(|s| {
                let f = s as f64 / n as f64;
                (sx + (tx - sx) * f, sy + (ty - sy) * f)
            })
            .collect();
        let last = pts.len() - 1;
        for p in pts[1..last].iter_mut() {
            p.0 += rng.gen_range(-150.0..150.0);
            p.1 += rng.gen_range(-150.0..150.0);
        }
        let first_char: String = name.chars().take(1).collect();
        let road_name = if names.reserve(&format!("旌{first_char}路")) {
            format!("旌{first_char}路")
        } else {
            names.pick(rng, super::names::PLACE_WORDS, "路")
        };
        geo.roads.push(RoadLine {
            name: road_name,
            class: "rural",
            points: pts,
            town: None,
        });
    }
}
