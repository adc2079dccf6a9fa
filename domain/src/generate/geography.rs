//! The synthetic district's geography: the river, the roads, and area polygons that
//! tile the district exactly.
//!
//! Areas are unions of cells of one jittered lattice (~150 m). Every cell belongs to
//! exactly one grid, every grid to one community, every community to one township, and
//! every polygon is traced from the same shared lattice vertices, so the polygons of a
//! level tile the district with no gaps or overlaps *by construction*. Which cell goes
//! where is grown from seats over the lattice ([`super::growth`]), so boundaries run
//! along the river and the roads where those are near and wander where they are not.

use super::growth::{Barriers, Ground, STEP, Seed, Terrain, grow};
use super::names::{PLACE_WORDS, STREETS, TOWNS, UniqueNames};
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, HashMap};

/// No building stands nearer than this (metres) to the river's centreline: its widest
/// bank plus the shore the basemap keeps clear, with some slack.
pub const RIVER_KEEP_CLEAR: f64 =
    1.2 * super::basemap::RIVER_HALF_WIDTH + super::basemap::WATER_CLEARANCE + 8.0;

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
    /// `main` and `street` in the core, `rural` out to the towns, `street` in a town,
    /// `country` through a village.
    pub class: &'static str,
    /// Vertices in metres.
    pub points: Vec<(f64, f64)>,
    /// The township this road serves, for town streets.
    pub town: Option<usize>,
    /// The village (community index) a country road serves.
    pub village: Option<usize>,
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
    /// The river's centreline in metres, west to east.
    pub river: Vec<(f64, f64)>,
    /// Distance from each cell's centre to the river's centreline.
    river_near: Vec<f64>,
    /// Cells kept for the core's park and its lake: a 3×3 block no road crosses, well
    /// away from the river (none when the core has no room).
    pub park: Vec<bool>,
}

impl Geography {
    /// Distance in metres from (x, y) to the river's centreline: exact within 450 m of
    /// it, a lower bound farther out.
    pub fn river_distance(&self, x: f64, y: f64) -> f64 {
        if let Some(c) = self.locate(x, y)
            && self.river_near[c] > 450.0
        {
            // A point of a cell is within 200 m of the cell's centre (a 150 m cell whose
            // corners moved by up to 33 m each way).
            return self.river_near[c] - 200.0;
        }
        polyline_distance(&self.river, (x, y))
    }

    /// The 4-neighbours of a cell.
    pub fn neighbours4(&self, c: usize) -> impl Iterator<Item = usize> {
        let (nx, ny) = (self.nx, self.ny);
        let (i, j) = (c % nx, c / nx);
        [
            (i > 0).then(|| c - 1),
            (i + 1 < nx).then(|| c + 1),
            (j > 0).then(|| c - nx),
            (j + 1 < ny).then(|| c + nx),
        ]
        .into_iter()
        .flatten()
    }

    /// Which lattice cells a road passes through.
    pub fn cells_on_roads(&self) -> Vec<bool> {
        self.cells_on_lines(&self.roads)
    }

    /// Which lattice cells any of `lines` passes through (sampled every 20 m).
    pub fn cells_on_lines<'a>(&self, lines: impl IntoIterator<Item = &'a RoadLine>) -> Vec<bool> {
        let mut on = vec![false; self.cell_count()];
        for r in lines {
            for w in r.points.windows(2) {
                let (a, b) = (w[0], w[1]);
                let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 20.0).ceil().max(1.0) as usize;
                for s in 0..=steps {
                    let t = s as f64 / steps as f64;
                    if let Some(c) = self.locate(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t) {
                        on[c] = true;
                    }
                }
            }
        }
        on
    }

    /// Whether a building may stand at (x, y): clear of the river and out of the park.
    pub fn may_build(&self, x: f64, y: f64) -> bool {
        self.clear_of_river(x, y) && self.locate(x, y).is_none_or(|c| !self.park[c])
    }

    /// Whether a building may stand at (x, y): clear of the river.
    pub fn clear_of_river(&self, x: f64, y: f64) -> bool {
        self.river_distance(x, y) >= RIVER_KEEP_CLEAR
    }

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
///
/// The order is the order things settle on the ground: the district's outline and the
/// river, the urban core and its arterial roads, the township seats and the roads out to
/// the towns; then townships grow from their seats and stop at the river and the
/// arterials, communities and villages grow inside them and stop at every road, grids
/// inside those; last, each village gets the country road its houses line.
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
    let core_radius = 0.28 * ax.min(ay);
    // Outline and core edge: a circle bent by a few harmonics of random phase, so no two
    // sides are alike and none is straight.
    let outline = Harmonics::new(
        rng,
        &[(2, 0.07), (3, 0.06), (5, 0.035), (7, 0.02), (11, 0.01)],
    );
    let core_edge = Harmonics::new(rng, &[(3, 0.08), (4, 0.05), (7, 0.025)]);
    let river = river_course(rng, &frame);

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
        river,
        river_near: Vec::new(),
        park: vec![false; nx * ny],
    };
    geo.river_near = (0..nx * ny)
        .map(|c| {
            let p = geo.cell_centre(c);
            polyline_distance(&geo.river, p)
        })
        .collect();

    let mut inside = vec![false; nx * ny];
    let mut urban = vec![false; nx * ny];
    for cell in 0..nx * ny {
        let (x, y) = geo.cell_centre(cell);
        let (u, v) = ((x - cx) / ax, (y - cy) / ay);
        let theta = v.atan2(u);
        inside[cell] = (u * u + v * v).sqrt() < 0.93 * outline.at(theta);
        urban[cell] = inside[cell]
            && (x - cx).hypot(y - cy) < core_radius * core_edge.at((y - cy).atan2(x - cx));
    }

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
    core_roads(rng, &mut geo, &mut names);
    keep_park(&mut geo, &urban);

    // Seats of the streets: the centre first, then each time the core cell farthest from
    // the seats so far (a little at random), so they spread over the core unevenly.
    let seat_pool: Vec<usize> = (0..nx * ny)
        .filter(|&c| {
            let (x, y) = geo.cell_centre(c);
            urban[c] && (x - cx).hypot(y - cy) < 0.8 * core_radius
        })
        .collect();
    let mut seats: Vec<(f64, f64)> = Vec::new();
    for k in 0..counts.streets {
        let centre = if k == 0 || seat_pool.is_empty() {
            (cx, cy)
        } else {
            let mut best = (f64::MIN, (cx, cy));
            for &c in &seat_pool {
                let p = geo.cell_centre(c);
                let d = seats
                    .iter()
                    .map(|s| (s.0 - p.0).hypot(s.1 - p.1))
                    .fold(f64::INFINITY, f64::min)
                    * rng.gen_range(0.8..1.0);
                if d > best.0 {
                    best = (d, p);
                }
            }
            best.1
        };
        seats.push(centre);
    }
    for (k, name) in name_by_direction(&street_names, &seats, (cx, cy))
        .into_iter()
        .enumerate()
    {
        geo.townships.push(Township {
            code: format!("510603{:03}", k + 1),
            name,
            kind: TownshipKind::Street,
            centre: seats[k],
        });
    }
    let tau = std::f64::consts::TAU;
    let town_offset = rng.gen_range(0.0..tau);
    for (k, name) in town_names.iter().enumerate().take(counts.towns) {
        let a = (k as f64 + rng.gen_range(-0.25..0.25)) * tau / counts.towns as f64 + town_offset;
        let mut reach = rng.gen_range(0.55..0.7);
        let mut centre = (cx + reach * ax * a.cos(), cy + reach * ay * a.sin());
        while reach > 0.4 && !geo.locate(centre.0, centre.1).is_some_and(|c| inside[c]) {
            reach -= 0.03;
            centre = (cx + reach * ax * a.cos(), cy + reach * ay * a.sin());
        }
        geo.townships.push(Township {
            code: format!("510603{:03}", 101 + k),
            name: name.clone(),
            kind: TownshipKind::Town,
            centre,
        });
    }
    // Each seat's own cell belongs to the district, so no township is empty.
    let seat_cells: Vec<Option<usize>> = geo
        .townships
        .iter()
        .map(|t| geo.locate(t.centre.0, t.centre.1))
        .collect();
    for c in seat_cells.iter().flatten() {
        inside[*c] = true;
    }
    town_roads(rng, &mut geo, &mut names);

    let terrain = Terrain::new(rng, &geo, 6, 0.6, 1.4);
    // Townships cross rougher country: hills and streams the lattice does not draw bend
    // their boundaries more than a community's.
    let uplands = Terrain::new(rng, &geo, 5, 0.35, 1.65);
    // Townships meet at the river and the core's roads; communities, villages and grids
    // at any road too. (A road out to a town runs through that town: no boundary.)
    let mut township_barriers = Barriers::new(&geo);
    township_barriers.add_line(&geo, &geo.river, 40 * STEP);
    let mut local_barriers = Barriers::new(&geo);
    local_barriers.add_line(&geo, &geo.river, 40 * STEP);
    for r in &geo.roads {
        let penalty = if r.class == "main" {
            4 * STEP
        } else {
            3 * STEP
        };
        local_barriers.add_line(&geo, &r.points, penalty);
        if r.town.is_none() && r.class != "rural" {
            township_barriers.add_line(&geo, &r.points, penalty);
        }
    }

    let local = Ground {
        terrain: &terrain,
        barriers: &local_barriers,
    };

    let mut cell_town: Vec<Option<usize>> = vec![None; nx * ny];
    let seeds: Vec<Seed> = seat_cells
        .iter()
        .enumerate()
        .filter_map(|(t, c)| {
            c.map(|cell| Seed {
                cell,
                owner: t,
                // Some seats reach farther than others: boundaries bow, not straight.
                pace: rng.gen_range(0.8..1.25),
            })
        })
        .collect();
    let kinds: Vec<TownshipKind> = geo.townships.iter().map(|t| t.kind).collect();
    grow(
        &geo,
        &seeds,
        |c| inside[c],
        Ground {
            terrain: &uplands,
            barriers: &township_barriers,
        },
        // A street stays in the core and a town out of it, unless nothing else can reach.
        |t, c| {
            if urban[c] == (kinds[t] == TownshipKind::Street) {
                0
            } else {
                1_000 * STEP
            }
        },
        u64::MAX,
        &mut cell_town,
    );
    let mut town_cells: Vec<Vec<usize>> = vec![Vec::new(); geo.townships.len()];
    for (cell, t) in cell_town.iter().enumerate() {
        if let Some(t) = t {
            town_cells[*t].push(cell);
        }
    }

    // Communities of the streets.
    let per_street = apportion(
        &(0..counts.streets)
            .map(|t| town_cells[t].len() as f64)
            .collect::<Vec<_>>(),
        counts.urban_communities.max(counts.streets),
        &(0..counts.streets)
            .map(|t| town_cells[t].len())
            .collect::<Vec<_>>(),
    );
    let mut cell_comm: Vec<Option<usize>> = vec![None; nx * ny];
    for (t, &n) in per_street.iter().enumerate() {
        let picked = pick_cells(rng, &geo, &town_cells[t], n);
        let first = geo.communities.len();
        let mut seeds = Vec::with_capacity(picked.len());
        for (k, &cell) in picked.iter().enumerate() {
            geo.communities.push(Community {
                code: format!("{}{:03}", geo.townships[t].code, k + 1),
                name: names.pick(rng, PLACE_WORDS, "社区"),
                township: t,
                village: false,
            });
            seeds.push(Seed {
                cell,
                owner: first + k,
                pace: 1.0,
            });
        }
        settle(
            &geo,
            &seeds,
            &town_cells[t],
            &cell_town,
            t,
            local,
            u64::MAX,
            &mut cell_comm,
        );
    }
    // A town: its seat's community (镇区) grows about a kilometre out from the seat,
    // then the villages share the rest.
    let village_per_town = apportion(
        &vec![1.0; counts.towns],
        counts.villages.max(counts.towns),
        &(counts.streets..geo.townships.len())
            .map(|t| town_cells[t].len().saturating_sub(1))
            .collect::<Vec<_>>(),
    );
    for (k, &villages) in village_per_town.iter().enumerate().take(counts.towns) {
        let t = counts.streets + k;
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
        let reach = 1_000.0 * f.min(1.0) / CELL_M;
        let seat = Seed {
            cell: seat_cells[t].expect("a town's seat is a cell of the lattice"),
            owner: comm,
            pace: 1.0,
        };
        settle(
            &geo,
            &[seat],
            &town_cells[t],
            &cell_town,
            t,
            local,
            (reach * STEP as f64) as u64,
            &mut cell_comm,
        );
        let outer: Vec<usize> = town_cells[t]
            .iter()
            .copied()
            .filter(|&c| cell_comm[c].is_none())
            .collect();
        let picked = if outer.is_empty() {
            Vec::new()
        } else {
            pick_cells(rng, &geo, &outer, villages.min(outer.len()))
        };
        let first = geo.communities.len();
        let mut seeds = Vec::with_capacity(picked.len());
        for (n, &cell) in picked.iter().enumerate() {
            geo.communities.push(Community {
                code: format!("{}{:03}", geo.townships[t].code, 201 + n),
                name: names.pick(rng, PLACE_WORDS, "村"),
                township: t,
                village: true,
            });
            seeds.push(Seed {
                cell,
                owner: first + n,
                pace: 1.0,
            });
        }
        settle(
            &geo,
            &seeds,
            &outer,
            &cell_town,
            t,
            local,
            u64::MAX,
            &mut cell_comm,
        );
        // Pockets no village reached (cut off by the seat's community) join a neighbour.
        fill_unowned(&geo, &town_cells[t], &mut cell_comm);
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
    let mut owner: Vec<Option<usize>> = vec![None; nx * ny];
    for (c, cells) in comm_cells.iter().enumerate() {
        let n = match urban_comms.iter().position(|&u| u == c) {
            Some(k) => grids_per[k],
            None => 1,
        };
        let picked = pick_cells(rng, &geo, cells, n);
        let first = geo.grids.len();
        let mut seeds = Vec::with_capacity(picked.len());
        for (k, &cell) in picked.iter().enumerate() {
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
            seeds.push(Seed {
                cell,
                owner: first + k,
                pace: 1.0,
            });
        }
        settle(
            &geo,
            &seeds,
            cells,
            &cell_comm,
            c,
            local,
            u64::MAX,
            &mut owner,
        );
        fill_unowned(&geo, cells, &mut owner);
        for &cell in cells {
            geo.cell_grid[cell] = owner[cell];
        }
    }
    for cell in 0..nx * ny {
        if let Some(g) = geo.cell_grid[cell] {
            geo.grids[g].cells.push(cell);
        }
    }

    country_roads(rng, &mut geo, &comm_cells, &mut names);
    geo
}

/// Keep the park's block: the 3×3 block of core cells no road crosses, far from the
/// river, nearest half-way out from the centre.
fn keep_park(geo: &mut Geography, urban: &[bool]) {
    let (nx, ny) = geo.dims();
    let on_road = geo.cells_on_roads();
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    let block = |c: usize| -> Option<[usize; 9]> {
        let (i, j) = (c % nx, c / nx);
        if i == 0 || j == 0 || i + 1 >= nx || j + 1 >= ny {
            return None;
        }
        let mut out = [0; 9];
        for (k, slot) in out.iter_mut().enumerate() {
            *slot = (j + k / 3 - 1) * nx + (i + k % 3 - 1);
        }
        out.iter().all(|&m| urban[m] && !on_road[m]).then_some(out)
    };
    let mut best: Option<(f64, [usize; 9])> = None;
    for c in 0..nx * ny {
        if geo.river_near[c] < 700.0 {
            continue;
        }
        if let Some(cells) = block(c) {
            let (x, y) = geo.cell_centre(c);
            let d = ((x - cx).hypot(y - cy) - 0.5 * geo.core_radius).abs();
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, cells));
            }
        }
    }
    if let Some((_, cells)) = best {
        for c in cells {
            geo.park[c] = true;
        }
    }
}

/// Names for `seats` from `names` (the first of each is the centre's): a seat that lies
/// mostly north, south, east or west of the centre takes a name that says so (城北, 城南,
/// 东湖 …) while one is left, else a name that says no direction; a direction no seat
/// lies in leaves its name unused.
fn name_by_direction(names: &[String], seats: &[(f64, f64)], centre: (f64, f64)) -> Vec<String> {
    let way_of_name = |name: &str| -> Option<char> {
        ['北', '南', '东', '西']
            .into_iter()
            .find(|&c| name.contains(c))
    };
    let way_of_seat = |(x, y): (f64, f64)| -> char {
        let (dx, dy) = (x - centre.0, y - centre.1);
        match (dx.abs() > dy.abs(), dx > 0.0, dy > 0.0) {
            (true, true, _) => '东',
            (true, false, _) => '西',
            (false, _, true) => '北',
            (false, _, false) => '南',
        }
    };
    let mut used = vec![false; names.len()];
    let mut out = Vec::with_capacity(seats.len());
    for (k, &seat) in seats.iter().enumerate() {
        let pick = if k == 0 {
            Some(0)
        } else {
            let way = way_of_seat(seat);
            (1..names.len())
                .find(|&n| !used[n] && way_of_name(&names[n]) == Some(way))
                .or_else(|| {
                    (1..names.len()).find(|&n| !used[n] && way_of_name(&names[n]).is_none())
                })
                .or_else(|| (1..names.len()).find(|&n| !used[n]))
        };
        let n = pick.expect("a name for every seat");
        used[n] = true;
        out.push(names[n].clone());
    }
    out
}

/// Grow `seeds` over `cells`, the cells of `parent` in `parents`.
#[allow(clippy::too_many_arguments)]
fn settle(
    geo: &Geography,
    seeds: &[Seed],
    cells: &[usize],
    parents: &[Option<usize>],
    parent: usize,
    ground: Ground<'_>,
    budget: u64,
    owners: &mut [Option<usize>],
) {
    if seeds.is_empty() || cells.is_empty() {
        return;
    }
    let free: Vec<bool> = {
        let mut free = vec![false; owners.len()];
        for &c in cells {
            free[c] = owners[c].is_none() && parents[c] == Some(parent);
        }
        free
    };
    grow(geo, seeds, |c| free[c], ground, |_, _| 0, budget, owners);
}

/// Give every unowned cell of `cells` the owner of an owned 4-neighbour in `cells`,
/// repeatedly, until none is left that can be reached.
fn fill_unowned(geo: &Geography, cells: &[usize], owners: &mut [Option<usize>]) {
    let mut member = vec![false; owners.len()];
    for &c in cells {
        member[c] = true;
    }
    loop {
        let mut changed = false;
        for &c in cells {
            if owners[c].is_some() {
                continue;
            }
            if let Some(o) = geo
                .neighbours4(c)
                .find_map(|m| if member[m] { owners[m] } else { None })
            {
                owners[c] = Some(o);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// `1 + Σ a·sin(kθ + φ)` for a few harmonics `(k, a)` of random phase.
struct Harmonics(Vec<(f64, f64, f64)>);

impl Harmonics {
    fn new<R: Rng>(rng: &mut R, terms: &[(u32, f64)]) -> Self {
        Self(
            terms
                .iter()
                .map(|&(k, a)| (k as f64, a, rng.gen_range(0.0..std::f64::consts::TAU)))
                .collect(),
        )
    }

    fn at(&self, theta: f64) -> f64 {
        1.0 + self
            .0
            .iter()
            .map(|&(k, a, phase)| a * (k * theta + phase).sin())
            .sum::<f64>()
    }
}

/// The river's centreline from west to east across the frame: a long meander with
/// gentler short bends on it (gentle enough for its name to follow it on the map at the
/// district's zoom), passing near the core.
fn river_course<R: Rng>(rng: &mut R, frame: &Frame) -> Vec<(f64, f64)> {
    let (w, h) = (frame.width, frame.height);
    let tau = std::f64::consts::TAU;
    let offset = rng.gen_range(-0.06..0.06);
    let bends =
        [(1.6, 0.10), (3.9, 0.02), (8.3, 0.004)].map(|(k, a)| (k, a, rng.gen_range(0.0..tau)));
    let n = (1.1 * w / 40.0).ceil() as usize;
    (0..=n)
        .map(|s| {
            let x = -0.05 * w + 1.1 * w * s as f64 / n as f64;
            let t = x / w;
            let y = h
                * (0.5
                    + offset
                    + bends
                        .iter()
                        .map(|&(k, a, p)| a * (k * tau * t + p).sin())
                        .sum::<f64>());
            (x, y)
        })
        .collect()
}

/// Distance from `p` to the polyline `pts`.
pub fn polyline_distance(pts: &[(f64, f64)], p: (f64, f64)) -> f64 {
    pts.windows(2)
        .map(|w| segment_distance(p, w[0], w[1]))
        .fold(f64::INFINITY, f64::min)
}

/// Distance from `p` to the segment `a`–`b`.
pub fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    nearest_on_segment(p, a, b).1
}

/// A line from `a` to `b` in steps of about `step` metres, bent sideways by a smooth
/// meander of at most `amplitude` metres that vanishes at both ends.
fn meander<R: Rng>(
    rng: &mut R,
    a: (f64, f64),
    b: (f64, f64),
    step: f64,
    amplitude: f64,
) -> Vec<(f64, f64)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx.hypot(dy).max(1e-9);
    let (nx, ny) = (-dy / len, dx / len);
    let n = (len / step).ceil().max(1.0) as usize;
    let (k1, p1) = (
        rng.gen_range(1.0..2.5),
        rng.gen_range(0.0..std::f64::consts::TAU),
    );
    let (k2, p2) = (
        rng.gen_range(3.0..6.0),
        rng.gen_range(0.0..std::f64::consts::TAU),
    );
    (0..=n)
        .map(|s| {
            let t = s as f64 / n as f64;
            let tau = std::f64::consts::TAU;
            let side = amplitude
                * (std::f64::consts::PI * t).sin()
                * (0.75 * (k1 * tau * t + p1).sin() + 0.25 * (k2 * tau * t + p2).sin());
            (a.0 + dx * t + nx * side, a.1 + dy * t + ny * side)
        })
        .collect()
}

/// The core's arterials and streets: a rough lattice about 650 m apart inside the core
/// (every third an arterial), each named 东/西/南/北路 either side of the centre.
fn core_roads<R: Rng>(rng: &mut R, geo: &mut Geography, names: &mut UniqueNames) {
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
        let stem = names.pick(rng, PLACE_WORDS, "");
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
                village: None,
            });
        }
        let stem = names.pick(rng, PLACE_WORDS, "");
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
                village: None,
            });
        }
    }
}

/// Roads of the towns: a rural road out from the core's edge to each town's seat, which
/// goes on through the town as its main street (正街), and a cross street (新街).
fn town_roads<R: Rng>(rng: &mut R, geo: &mut Geography, names: &mut UniqueNames) {
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    let rc = geo.core_radius * 1.08;
    let towns: Vec<(usize, String, (f64, f64))> = geo
        .townships
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == TownshipKind::Town)
        .map(|(i, t)| (i, t.name.clone(), t.centre))
        .collect();
    let len = 800.0 * (geo.frame.width / 30_000.0).clamp(0.3, 1.0);
    for (t, name, (tx, ty)) in towns {
        let a = (ty - cy).atan2(tx - cx);
        let (sx, sy) = (cx + rc * a.cos(), cy + rc * a.sin());
        // The rural road ends where the main street begins.
        let (ex, ey) = (tx - len * a.cos(), ty - len * a.sin());
        let span = (ex - sx).hypot(ey - sy);
        let pts = meander(rng, (sx, sy), (ex, ey), 100.0, (0.06 * span).min(400.0));
        let first_char: String = name.chars().take(1).collect();
        let road_name = if names.reserve(&format!("旌{first_char}路")) {
            format!("旌{first_char}路")
        } else {
            names.pick(rng, PLACE_WORDS, "路")
        };
        geo.roads.push(RoadLine {
            name: road_name,
            class: "rural",
            points: pts,
            town: None,
            village: None,
        });
        // The main street along the road in, a cross street, and a back street and a side
        // street parallel to them: a town's few blocks.
        let stem: String = name.chars().take(2).collect();
        let ahead = (a.cos(), a.sin());
        let across = (-a.sin(), a.cos());
        for (suffix, dir, shift, reach) in [
            ("正街", ahead, (0.0, 0.0), len),
            ("新街", across, (0.0, 0.0), 0.7 * len),
            (
                "后街",
                ahead,
                (across.0 * 0.3 * len, across.1 * 0.3 * len),
                0.6 * len,
            ),
            (
                "横街",
                across,
                (ahead.0 * 0.4 * len, ahead.1 * 0.4 * len),
                0.45 * len,
            ),
        ] {
            let (ox, oy) = (tx + shift.0, ty + shift.1);
            let pts = meander(
                rng,
                (ox - reach * dir.0, oy - reach * dir.1),
                (ox + reach * dir.0, oy + reach * dir.1),
                reach / 5.0,
                12.0,
            );
            let road_name = if names.reserve(&format!("{stem}{suffix}")) {
                format!("{stem}{suffix}")
            } else {
                names.pick(rng, PLACE_WORDS, suffix)
            };
            geo.roads.push(RoadLine {
                name: road_name,
                class: "street",
                points: pts,
                town: Some(t),
                village: None,
            });
        }
    }
}

/// A country road (村道) for each village: from the nearest road already there to the
/// village's middle and on to its far side, so its hamlets can line it.
fn country_roads<R: Rng>(
    rng: &mut R,
    geo: &mut Geography,
    comm_cells: &[Vec<usize>],
    names: &mut UniqueNames,
) {
    for (c, cells) in comm_cells.iter().enumerate() {
        if !geo.communities[c].village || cells.is_empty() {
            continue;
        }
        let centres: Vec<(f64, f64)> = cells.iter().map(|&k| geo.cell_centre(k)).collect();
        let n = centres.len() as f64;
        let mean = (
            centres.iter().map(|p| p.0).sum::<f64>() / n,
            centres.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let by = |target: (f64, f64), far: bool| -> (f64, f64) {
            let mut best = (if far { f64::MIN } else { f64::MAX }, centres[0]);
            for &p in &centres {
                let d = (p.0 - target.0).hypot(p.1 - target.1);
                if (far && d > best.0) || (!far && d < best.0) {
                    best = (d, p);
                }
            }
            best.1
        };
        let middle = by(mean, false);
        let mut entry: Option<(f64, (f64, f64))> = None;
        for r in &geo.roads {
            for w in r.points.windows(2) {
                let (p, d) = nearest_on_segment(middle, w[0], w[1]);
                if entry.is_none_or(|(bd, _)| d < bd) {
                    entry = Some((d, p));
                }
            }
        }
        let start = entry.map_or(middle, |(_, p)| p);
        let far = by(start, true);
        let mut pts = meander(
            rng,
            start,
            middle,
            60.0,
            (0.1 * (middle.0 - start.0).hypot(middle.1 - start.1)).min(120.0),
        );
        let mut on = meander(
            rng,
            middle,
            far,
            60.0,
            (0.1 * (far.0 - middle.0).hypot(far.1 - middle.1)).min(120.0),
        );
        on.remove(0);
        pts.extend(on);
        keep_off_river(geo, &mut pts);
        pts.dedup_by(|a, b| (a.0 - b.0).hypot(a.1 - b.1) < 1.0);
        if pts.len() < 2 {
            continue;
        }
        let wanted = format!("{}道", geo.communities[c].name);
        let name = if names.reserve(&wanted) {
            wanted
        } else {
            names.pick(rng, PLACE_WORDS, "村道")
        };
        geo.roads.push(RoadLine {
            name,
            class: "country",
            points: pts,
            town: None,
            village: Some(c),
        });
    }
}

/// Move the vertices of a road that fall on the river out to its bank, each to its own
/// side: the road then runs along the bank and crosses only where two vertices lie on
/// opposite sides (a bridge), never down the river.
fn keep_off_river(geo: &Geography, pts: &mut [(f64, f64)]) {
    let bank = super::basemap::RIVER_HALF_WIDTH * 1.2 + 6.0;
    for p in pts.iter_mut() {
        if geo.river_distance(p.0, p.1) >= bank {
            continue;
        }
        let nearest = geo
            .river
            .windows(2)
            .map(|w| nearest_on_segment(*p, w[0], w[1]))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((q, d)) = nearest
            && d > 1e-6
        {
            *p = (q.0 + (p.0 - q.0) / d * bank, q.1 + (p.1 - q.1) / d * bank);
        }
    }
}

/// The point of segment `a`–`b` nearest `p`, and its distance.
fn nearest_on_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> ((f64, f64), f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let q = (a.0 + t * dx, a.1 + t * dy);
    (q, (p.0 - q.0).hypot(p.1 - q.1))
}

/// `n` distinct seed cells drawn from `cells` (all of them when `n` is larger), kept
/// apart: a cell is taken only at a fair distance from those taken before — about
/// half the spacing `n` evenly spread seeds would have, less if that leaves too few —
/// so no area is squeezed to a cell or two between its neighbours.
fn pick_cells<R: Rng>(rng: &mut R, geo: &Geography, cells: &[usize], n: usize) -> Vec<usize> {
    let want = n.max(1).min(cells.len());
    let mut pool = cells.to_vec();
    pool.shuffle(rng);
    let mut apart = 0.55 * CELL_M * (cells.len() as f64 / want as f64).sqrt();
    loop {
        let mut taken: Vec<usize> = Vec::with_capacity(want);
        let mut at: Vec<(f64, f64)> = Vec::with_capacity(want);
        for &c in &pool {
            let p = geo.cell_centre(c);
            if at.iter().all(|q| (q.0 - p.0).hypot(q.1 - p.1) >= apart) {
                taken.push(c);
                at.push(p);
                if taken.len() == want {
                    return taken;
                }
            }
        }
        apart *= 0.8;
        if apart < 1.0 {
            pool.truncate(want);
            return pool;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn district(scale: f64) -> Geography {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20240101);
        rng.set_stream(1);
        build(&mut rng, scale)
    }

    /// Lattice edges between two cells of the district, as (cell, neighbour).
    fn edges(geo: &Geography) -> Vec<(usize, usize)> {
        let (nx, ny) = geo.dims();
        let mut out = Vec::new();
        for c in 0..nx * ny {
            let (i, j) = (c % nx, c / nx);
            for m in [(i + 1 < nx).then(|| c + 1), (j + 1 < ny).then(|| c + nx)]
                .into_iter()
                .flatten()
            {
                if geo.cell_grid[c].is_some() && geo.cell_grid[m].is_some() {
                    out.push((c, m));
                }
            }
        }
        out
    }

    /// The middle of the lattice edge between neighbouring cells `a` and `b`.
    fn edge_middle(geo: &Geography, a: usize, b: usize) -> (f64, f64) {
        let (pa, pb) = (geo.cell_centre(a), geo.cell_centre(b));
        ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0)
    }

    fn near_any(lines: &[&[(f64, f64)]], p: (f64, f64), within: f64) -> bool {
        lines.iter().any(|l| polyline_distance(l, p) <= within)
    }

    fn township(geo: &Geography, c: usize) -> usize {
        geo.community_of_grid(geo.cell_grid[c].unwrap()).township
    }

    #[test]
    fn streets_meet_at_the_core_roads_and_the_river() {
        let geo = district(1.0);
        let mut lines: Vec<&[(f64, f64)]> = geo
            .roads
            .iter()
            .filter(|r| r.town.is_none() && matches!(r.class, "main" | "street"))
            .map(|r| r.points.as_slice())
            .collect();
        lines.push(&geo.river);
        let street = |t: usize| geo.townships[t].kind == TownshipKind::Street;
        let boundary: Vec<(usize, usize)> = edges(&geo)
            .into_iter()
            .filter(|&(a, b)| {
                let (ta, tb) = (township(&geo, a), township(&geo, b));
                ta != tb && street(ta) && street(tb)
            })
            .collect();
        let along = boundary
            .iter()
            .filter(|&&(a, b)| near_any(&lines, edge_middle(&geo, a, b), 160.0))
            .count();
        let share = along as f64 / boundary.len() as f64;
        println!(
            "street boundary along arterials/river: {along} of {}",
            boundary.len()
        );
        assert!(boundary.len() > 50);
        assert!(share >= 0.7, "{share:.2}");
    }

    #[test]
    fn urban_communities_meet_at_roads() {
        let geo = district(1.0);
        let mut lines: Vec<&[(f64, f64)]> = geo
            .roads
            .iter()
            .filter(|r| r.class != "country")
            .map(|r| r.points.as_slice())
            .collect();
        lines.push(&geo.river);
        let boundary: Vec<(usize, usize)> = edges(&geo)
            .into_iter()
            .filter(|&(a, b)| {
                let (ca, cb) = (
                    geo.grids[geo.cell_grid[a].unwrap()].community,
                    geo.grids[geo.cell_grid[b].unwrap()].community,
                );
                ca != cb
                    && geo.townships[geo.communities[ca].township].kind == TownshipKind::Street
                    && geo.townships[geo.communities[cb].township].kind == TownshipKind::Street
            })
            .collect();
        let along = boundary
            .iter()
            .filter(|&&(a, b)| near_any(&lines, edge_middle(&geo, a, b), 160.0))
            .count();
        let share = along as f64 / boundary.len() as f64;
        println!(
            "community boundary along roads/river: {along} of {}",
            boundary.len()
        );
        assert!(share >= 0.5, "{share:.2}");
    }

    /// A nearest-seat partition cuts the district into straight-sided slices; grown
    /// townships do not: a good share of cells lie nearer another seat of their kind.
    #[test]
    fn townships_are_not_nearest_seat_slices() {
        let geo = district(1.0);
        let mut cells = 0;
        let mut elsewhere = 0;
        for c in 0..geo.cell_count() {
            let Some(g) = geo.cell_grid[c] else { continue };
            let own = geo.community_of_grid(g).township;
            let (x, y) = geo.cell_centre(c);
            let nearest = (0..geo.townships.len())
                .filter(|&t| geo.townships[t].kind == geo.townships[own].kind)
                .min_by(|&a, &b| {
                    let da = (geo.townships[a].centre.0 - x).hypot(geo.townships[a].centre.1 - y);
                    let db = (geo.townships[b].centre.0 - x).hypot(geo.townships[b].centre.1 - y);
                    da.total_cmp(&db)
                })
                .unwrap();
            cells += 1;
            elsewhere += usize::from(nearest != own);
        }
        let share = elsewhere as f64 / cells as f64;
        println!("cells not in their nearest seat's township: {share:.3}");
        assert!(share > 0.05, "{share:.3}");
    }

    /// Every township, community and grid is one piece (4-connected cells).
    #[test]
    fn every_area_is_one_piece() {
        for scale in [0.01, 0.1, 1.0] {
            let geo = district(scale);
            let (nx, _) = geo.dims();
            for level in ["township", "community", "grid"] {
                let of = |g: usize| match level {
                    "township" => geo.community_of_grid(g).township,
                    "community" => geo.grids[g].community,
                    _ => g,
                };
                let owner: Vec<Option<usize>> = geo.cell_grid.iter().map(|g| g.map(&of)).collect();
                let mut seen = vec![false; owner.len()];
                let mut pieces: HashMap<usize, usize> = HashMap::new();
                for start in 0..owner.len() {
                    let Some(o) = owner[start] else { continue };
                    if seen[start] {
                        continue;
                    }
                    *pieces.entry(o).or_default() += 1;
                    let mut stack = vec![start];
                    seen[start] = true;
                    while let Some(c) = stack.pop() {
                        let (i, j) = (c % nx, c / nx);
                        for m in [
                            (i > 0).then(|| c - 1),
                            (i + 1 < nx).then(|| c + 1),
                            (j > 0).then(|| c - nx),
                            Some(c + nx).filter(|&m| m < owner.len()),
                        ]
                        .into_iter()
                        .flatten()
                        {
                            if !seen[m] && owner[m] == Some(o) {
                                seen[m] = true;
                                stack.push(m);
                            }
                        }
                    }
                }
                for (o, n) in &pieces {
                    assert_eq!(*n, 1, "{level} {o} at scale {scale} is in {n} pieces");
                }
            }
        }
    }

    /// 城北街道 lies north of the centre, 城南 south, 东湖 east — at every scale.
    #[test]
    fn street_names_match_where_they_lie() {
        for scale in [0.3, 1.0] {
            let geo = district(scale);
            let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
            assert_eq!(geo.townships[0].centre, (cx, cy));
            assert_eq!(geo.townships[0].name, "旌阳街道");
            for t in geo
                .townships
                .iter()
                .filter(|t| t.kind == TownshipKind::Street)
            {
                let (dx, dy) = (t.centre.0 - cx, t.centre.1 - cy);
                let lies = [
                    ('北', dy > dx.abs()),
                    ('南', -dy > dx.abs()),
                    ('东', dx > dy.abs()),
                    ('西', -dx > dy.abs()),
                ];
                for (way, ok) in lies {
                    if t.name.contains(way) {
                        assert!(
                            ok,
                            "{} at ({dx:.0}, {dy:.0}) from the centre, scale {scale}",
                            t.name
                        );
                    }
                }
            }
            if scale == 1.0 {
                let names: Vec<&str> = geo.townships.iter().map(|t| t.name.as_str()).collect();
                for n in ["城北街道", "城南街道", "东湖街道"] {
                    assert!(names.contains(&n), "{n} at scale 1");
                }
            }
        }
    }

    #[test]
    fn every_village_has_a_country_road_joined_to_the_network() {
        let geo = district(1.0);
        for (c, comm) in geo.communities.iter().enumerate() {
            if !comm.village {
                continue;
            }
            let road = geo
                .roads
                .iter()
                .find(|r| r.village == Some(c))
                .unwrap_or_else(|| panic!("{} has no country road", comm.name));
            assert_eq!(road.class, "country");
            let start = road.points[0];
            let joined = geo
                .roads
                .iter()
                .filter(|r| r.village != Some(c))
                .any(|r| polyline_distance(&r.points, start) < 1.0);
            assert!(joined, "{}'s road starts on no other road", road.name);
            let inside = road
                .points
                .iter()
                .filter(|p| {
                    geo.grid_at(p.0, p.1)
                        .is_some_and(|g| geo.grids[g].community == c)
                })
                .count();
            assert!(inside >= 2, "{} barely enters its village", road.name);
        }
    }
}
