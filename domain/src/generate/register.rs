//! The unified address register of the synthetic district: building addresses with
//! their unit/room addresses, placed on the geography.
//!
//! Counts are exact: `round(122_000 · scale)` buildings and `round(327_000 · scale)`
//! unit/room addresses. Urban residential buildings get their rooms apportioned so the
//! total matches; every town or rural house is one unit.

use super::geography::{Geography, RIVER_KEEP_CLEAR, RoadLine, TownshipKind};
use super::names::{COMPOUND_SUFFIXES, COMPOUND_WORDS, UniqueNames};
use minqing_address::AddressParts;
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::{HashMap, HashSet};

/// What a building is used for; decides its units and who works or lives there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Highrise,
    Walkup,
    Shop,
    Office,
    Townhouse,
    Rural,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Highrise => "highrise",
            Kind::Walkup => "walkup",
            Kind::Shop => "shop",
            Kind::Office => "office",
            Kind::Townhouse => "townhouse",
            Kind::Rural => "rural",
        }
    }

    pub fn residential(self) -> bool {
        !matches!(self, Kind::Shop | Kind::Office)
    }
}

#[derive(Debug, Clone)]
pub struct GenBuilding {
    pub code: String,
    pub grid: usize,
    pub kind: Kind,
    pub parts: AddressParts,
    pub floors: u32,
    /// Metres in the geography frame.
    pub x: f64,
    pub y: f64,
    /// Rooms per unit (entrance), in floor order; one entry of 1 for a house.
    pub rooms_per_unit: Vec<u32>,
    pub rooms_per_floor: u32,
    /// Index of this building's compound in the register's compound list.
    pub compound: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct GenUnit {
    pub code: String,
    pub building: usize,
    pub parts: AddressParts,
    pub floor: u32,
}

pub struct Register {
    pub buildings: Vec<GenBuilding>,
    pub units: Vec<GenUnit>,
    /// The compounds' internal lanes (class `service`).
    pub lanes: Vec<RoadLine>,
}

pub struct RegisterCounts {
    pub buildings: usize,
    pub units: usize,
}

impl RegisterCounts {
    pub fn at_scale(scale: f64) -> Self {
        Self {
            buildings: ((122_000.0 * scale).round() as usize).max(20),
            units: ((327_000.0 * scale).round() as usize).max(60),
        }
    }
}

struct DoorBook {
    used: HashSet<(usize, u32)>,
}

impl DoorBook {
    /// A free door number near position `s` metres along road `road` on side `left`.
    fn take(&mut self, road: usize, s: f64, left: bool) -> u32 {
        let mut door = 2 * (s / 12.0).floor().max(0.0) as u32 + if left { 1 } else { 2 };
        while !self.used.insert((road, door)) {
            door += 2;
        }
        door
    }
}

/// Where buildings already stand, so no two stand closer than [`Spacing::MIN_M`]: a
/// hash of 10 m buckets (only looked up, never iterated, so the output stays the same).
struct Spacing {
    buckets: HashMap<(i64, i64), Vec<(f64, f64)>>,
}

impl Spacing {
    const MIN_M: f64 = 8.0;

    fn new() -> Self {
        Self {
            buckets: HashMap::new(),
        }
    }

    fn key(x: f64, y: f64) -> (i64, i64) {
        ((x / 10.0).floor() as i64, (y / 10.0).floor() as i64)
    }

    fn fits(&self, x: f64, y: f64) -> bool {
        let (i, j) = Self::key(x, y);
        (-1..=1).all(|di| {
            (-1..=1).all(|dj| {
                self.buckets.get(&(i + di, j + dj)).is_none_or(|v| {
                    v.iter()
                        .all(|&(px, py)| (px - x).hypot(py - y) >= Self::MIN_M)
                })
            })
        })
    }

    fn add(&mut self, x: f64, y: f64) {
        self.buckets
            .entry(Self::key(x, y))
            .or_default()
            .push((x, y));
    }
}

/// Nearest point on any road (of those allowed) to (x, y): (road index, distance along, distance, left side).
fn nearest_road(
    geo: &Geography,
    x: f64,
    y: f64,
    allowed: impl Fn(usize) -> bool,
) -> Option<(usize, f64, f64, bool)> {
    let mut best: Option<(usize, f64, f64, bool)> = None;
    for (r, road) in geo.roads.iter().enumerate() {
        if !allowed(r) {
            continue;
        }
        let mut along = 0.0;
        for w in road.points.windows(2) {
            let ((ax, ay), (bx, by)) = (w[0], w[1]);
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (((x - ax) * dx + (y - ay) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (px, py) = (ax + t * dx, ay + t * dy);
            let d = (x - px).hypot(y - py);
            if best.is_none_or(|b| d < b.2) {
                let left = dx * (y - ay) - dy * (x - ax) > 0.0;
                best = Some((r, along + t * len2.sqrt(), d, left));
            }
            along += len2.sqrt();
        }
    }
    best
}

/// Build the register on `geo`.
pub fn build<R: Rng>(rng: &mut R, geo: &Geography, counts: &RegisterCounts) -> Register {
    let total_b = counts.buildings;
    let n_shops = (total_b as f64 * 0.05).round() as usize;
    let n_offices = (total_b as f64 * 0.01).round().max(1.0) as usize;
    let n_town = (total_b as f64 * 0.08).round() as usize;
    let n_urban = (total_b as f64 * 0.10).round().max(2.0) as usize;
    let n_rural = total_b - n_shops - n_offices - n_town - n_urban;
    let urban_rooms = counts.units.saturating_sub(n_town + n_rural).max(n_urban);

    let mut doors = DoorBook {
        used: HashSet::new(),
    };
    let mut names = UniqueNames::new();
    let mut spacing = Spacing::new();
    let mut out: Vec<GenBuilding> = Vec::with_capacity(total_b);
    let urban_cells: Vec<usize> = (0..geo.cell_count())
        .filter(|&c| {
            geo.cell_grid[c].is_some_and(|g| geo.township_of_grid(g).kind == TownshipKind::Street)
        })
        .collect();

    let base = |geo: &Geography, grid: usize| -> AddressParts {
        AddressParts {
            township: geo.township_of_grid(grid).name.clone(),
            community: geo.community_of_grid(grid).name.clone(),
            ..Default::default()
        }
    };

    // Urban compounds: one per cell, sized so the residential buildings fit. A compound
    // takes a cell no road crosses and the river is clear of, while there are enough.
    let crossed = geo.cells_on_roads();
    let roomy: Vec<usize> = urban_cells
        .iter()
        .copied()
        .filter(|&c| {
            let (x, y) = geo.cell_centre(c);
            !crossed[c] && !geo.park[c] && geo.river_distance(x, y) >= RIVER_KEEP_CLEAR + 110.0
        })
        .collect();
    let mut compound_cells = if roomy.len() * 25 >= n_urban {
        roomy
    } else {
        urban_cells
            .iter()
            .copied()
            .filter(|&c| !geo.park[c])
            .collect()
    };
    compound_cells.shuffle(rng);
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    // Prefer cells near the centre: sort by a noisy distance.
    let mut keyed: Vec<(f64, usize)> = compound_cells
        .iter()
        .map(|&c| {
            let (x, y) = geo.cell_centre(c);
            ((x - cx).hypot(y - cy) * rng.gen_range(0.6..1.4), c)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let n_compounds = (n_urban / 12).clamp(1, (keyed.len() * 4 / 5).max(1));
    let per_compound = crate::generate::geography::apportion(
        &vec![1.0; n_compounds],
        n_urban,
        &vec![25; n_compounds],
    );
    let mut urban_ids = Vec::with_capacity(n_urban);
    let mut lanes = Vec::new();
    for (k, &(_, cell)) in keyed.iter().take(n_compounds).enumerate() {
        let grid = geo.cell_grid[cell].expect("urban cell has a grid");
        let (gx, gy) = geo.cell_centre(cell);
        let Some((road, along, _, left)) = nearest_road(geo, gx, gy, |r| {
            geo.roads[r].town.is_none() && geo.roads[r].class != "country"
        }) else {
            continue;
        };
        let door = doors.take(road, along, left);
        let suffix = COMPOUND_SUFFIXES.choose(rng).copied().unwrap_or("小区");
        let compound_name = names.pick(rng, COMPOUND_WORDS, suffix);
        let n = per_compound[k];
        let layout = CompoundLayout::new(n, rng.gen_bool(0.5));
        lanes.push(RoadLine {
            name: format!("{compound_name}内部道路"),
            class: "service",
            points: layout
                .lane()
                .iter()
                .map(|&(u, v)| geo.point_in_cell(cell, u, v))
                .collect(),
            town: None,
            village: None,
        });
        for b in 0..n {
            let (u, v) = layout.building(b);
            let (x, y) = geo.point_in_cell(cell, u, v);
            spacing.add(x, y);
            let mut parts = base(geo, grid);
            parts.road = Some(geo.roads[road].name.clone());
            parts.door = Some(door);
            parts.compound = Some(compound_name.clone());
            parts.building = Some(b as u32 + 1);
            urban_ids.push(out.len());
            out.push(GenBuilding {
                code: String::new(),
                grid,
                kind: Kind::Walkup,
                parts,
                floors: 0,
                x,
                y,
                rooms_per_unit: Vec::new(),
                rooms_per_floor: 2,
                compound: Some(k),
            });
        }
    }
    shape_urban(rng, &mut out, &urban_ids, urban_rooms);

    // Shops and offices along the main roads of the core and the town streets.
    let commercial: Vec<usize> = (0..geo.roads.len())
        .filter(|&r| geo.roads[r].class == "main" || geo.roads[r].town.is_some())
        .collect();
    let any_roads: Vec<usize> = (0..geo.roads.len())
        .filter(|&r| matches!(geo.roads[r].class, "main" | "street"))
        .collect();
    let pool = if commercial.is_empty() {
        &any_roads
    } else {
        &commercial
    };
    for k in 0..n_shops + n_offices {
        let kind = if k < n_shops {
            Kind::Shop
        } else {
            Kind::Office
        };
        if let Some(b) = place_along(
            rng,
            geo,
            pool,
            &mut doors,
            &mut spacing,
            kind,
            18.0,
            30.0,
            &base,
        ) {
            out.push(b);
        }
    }
    // Town houses along town streets (or any street at tiny scales).
    let town_streets: Vec<usize> = (0..geo.roads.len())
        .filter(|&r| geo.roads[r].town.is_some())
        .collect();
    let pool = if town_streets.is_empty() {
        &any_roads
    } else {
        &town_streets
    };
    for _ in 0..n_town {
        if let Some(mut b) = place_along(
            rng,
            geo,
            pool,
            &mut doors,
            &mut spacing,
            Kind::Townhouse,
            15.0,
            120.0,
            &base,
        ) {
            b.rooms_per_unit = vec![1];
            b.floors = rng.gen_range(2..=4);
            out.push(b);
        }
    }
    // Rural houses in hamlets (村民小组) strung along each village's country road.
    let villages: Vec<usize> = (0..geo.grids.len())
        .filter(|&g| geo.community_of_grid(g).village)
        .collect();
    let house_grids: Vec<usize> = if villages.is_empty() {
        (0..geo.grids.len()).collect()
    } else {
        villages
    };
    let rural_target = total_b - out.len();
    let per_grid = crate::generate::geography::apportion(
        &house_grids
            .iter()
            .map(|&g| geo.grids[g].cells.len() as f64)
            .collect::<Vec<_>>(),
        rural_target.max(house_grids.len()),
        &vec![usize::MAX; house_grids.len()],
    );
    let mut placed = 0;
    for (k, &grid) in house_grids.iter().enumerate() {
        let n = per_grid[k].min(rural_target - placed);
        placed += n;
        let groups = (n / 25).clamp(1, 15);
        let roadside = roadside_points(geo, grid);
        let mut centres = geo.grids[grid].cells.clone();
        centres.shuffle(rng);
        // Where each hamlet sits: spread evenly along the road inside the grid.
        let anchors: Vec<usize> = (0..groups)
            .map(|g| {
                (((g as f64 + rng.gen_range(0.3..0.7)) / groups as f64) * roadside.len() as f64)
                    as usize
            })
            .collect();
        for h in 0..n {
            let group = h % groups;
            let (x, y) = house_site(rng, geo, &spacing, grid, &roadside, anchors[group], groups)
                .unwrap_or_else(|| {
                    // Off the road: somewhere in the grid near the hamlet's cells, then
                    // anywhere in it; failing that, the driest of the tries.
                    let mut best = ((0.0, 0.0), f64::MIN);
                    for t in 0..64 {
                        let cell = if t < 8 {
                            centres[(group + t) % centres.len()]
                        } else {
                            centres[rng.gen_range(0..centres.len())]
                        };
                        let p = geo.point_in_cell(
                            cell,
                            rng.gen_range(0.1..0.9),
                            rng.gen_range(0.1..0.9),
                        );
                        let d = geo.river_distance(p.0, p.1);
                        if d >= RIVER_KEEP_CLEAR && spacing.fits(p.0, p.1) {
                            return p;
                        }
                        if d > best.1 {
                            best = (p, d);
                        }
                    }
                    best.0
                });
            spacing.add(x, y);
            let mut parts = base(geo, grid);
            parts.group = Some(group as u32 + 1);
            parts.house = Some((h / groups) as u32 + 1);
            out.push(GenBuilding {
                code: String::new(),
                grid,
                kind: Kind::Rural,
                parts,
                floors: rng.gen_range(1..=3),
                x,
                y,
                rooms_per_unit: vec![1],
                rooms_per_floor: 1,
                compound: None,
            });
        }
    }
    fix_unit_total(&mut out, counts.units);

    // Codes: per grid, in generation order.
    let mut next_no = vec![0u32; geo.grids.len()];
    for b in out.iter_mut() {
        next_no[b.grid] += 1;
        b.code = format!("{}{:04}", geo.grids[b.grid].code, next_no[b.grid]);
    }
    let mut units = Vec::with_capacity(counts.units);
    for (i, b) in out.iter().enumerate() {
        if b.rooms_per_unit.is_empty() {
            continue;
        }
        if matches!(b.kind, Kind::Rural | Kind::Townhouse) {
            units.push(GenUnit {
                code: format!("{}000000", b.code),
                building: i,
                parts: b.parts.clone(),
                floor: 1,
            });
            continue;
        }
        for (u, &rooms) in b.rooms_per_unit.iter().enumerate() {
            for r in 0..rooms {
                let floor = r / b.rooms_per_floor + 1;
                let room = floor * 100 + r % b.rooms_per_floor + 1;
                let mut parts = b.parts.clone();
                parts.unit = Some(u as u32 + 1);
                parts.room = Some(room);
                units.push(GenUnit {
                    code: format!("{}{:02}{:04}", b.code, u + 1, room),
                    building: i,
                    parts,
                    floor,
                });
            }
        }
    }
    Register {
        buildings: out,
        units,
        lanes,
    }
}

/// Where the buildings of a compound stand and its lane runs, in the cell's own
/// coordinates (`u`, `v` in 0..1): a lane through the middle, the blocks in rows either
/// side of it, facing it. `turned` runs the lane east–west instead of north–south.
struct CompoundLayout {
    n: usize,
    columns: usize,
    rows: usize,
    turned: bool,
}

impl CompoundLayout {
    fn new(n: usize, turned: bool) -> Self {
        let columns = if n <= 8 { 1 } else { 2 };
        let per_side = n.div_ceil(2);
        Self {
            n,
            columns,
            rows: per_side.div_ceil(columns).max(1),
            turned,
        }
    }

    fn oriented(&self, across: f64, along: f64) -> (f64, f64) {
        if self.turned {
            (along, across)
        } else {
            (across, along)
        }
    }

    /// The lane, gate to gate.
    fn lane(&self) -> [(f64, f64); 2] {
        [self.oriented(0.5, 0.03), self.oriented(0.5, 0.97)]
    }

    /// Building `b` of `n`: even ones left of the lane, odd ones right, row by row.
    fn building(&self, b: usize) -> (f64, f64) {
        debug_assert!(b < self.n);
        let side = b % 2;
        let k = b / 2;
        let (column, row) = (k % self.columns, k / self.columns);
        let offsets: &[f64] = if self.columns == 1 {
            &[0.25]
        } else {
            &[0.32, 0.14]
        };
        let across = if side == 0 {
            0.5 - offsets[column]
        } else {
            0.5 + offsets[column]
        };
        let along = 0.12 + 0.76 * (row as f64 + 0.5) / self.rows as f64;
        self.oriented(across, along)
    }
}

/// Points every 8 m along the country road of `grid`'s village that lie in the grid,
/// each with the road's direction there (a unit vector).
/// A point of a road and the road's direction there (a unit vector).
#[derive(Debug, Clone, Copy)]
struct RoadsidePoint {
    at: (f64, f64),
    dir: (f64, f64),
}

fn roadside_points(geo: &Geography, grid: usize) -> Vec<RoadsidePoint> {
    let community = geo.grids[grid].community;
    let Some(road) = geo.roads.iter().find(|r| r.village == Some(community)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for w in road.points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = (b.0 - a.0).hypot(b.1 - a.1);
        if len < 1e-6 {
            continue;
        }
        let dir = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let steps = (len / 8.0).ceil() as usize;
        for s in 0..steps {
            let t = s as f64 / steps as f64;
            let p = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            if geo.grid_at(p.0, p.1) == Some(grid) {
                out.push(RoadsidePoint { at: p, dir });
            }
        }
    }
    out
}

/// A house of the hamlet around `roadside[anchor]`: a little along the road from it and
/// set back 12–35 m on either side (or up to 110 m, behind the first row), in the
/// grid, clear of the river and of the houses already standing. `None` when the road misses the grid or no try fits.
fn house_site<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    spacing: &Spacing,
    grid: usize,
    roadside: &[RoadsidePoint],
    anchor: usize,
    groups: usize,
) -> Option<(f64, f64)> {
    if roadside.len() < 4 {
        return None;
    }
    // A hamlet: a knot of houses some 50 m either way along the road, in a first row
    // facing it and more behind (less spread when the road is short for its hamlets).
    let spread = (roadside.len() / groups / 2).clamp(1, 6) as i64;
    for _ in 0..12 {
        let k =
            (anchor as i64 + rng.gen_range(-spread..=spread)).clamp(0, roadside.len() as i64 - 1);
        let RoadsidePoint {
            at: (x, y),
            dir: (dx, dy),
        } = roadside[k as usize];
        let back = if rng.gen_bool(0.4) {
            rng.gen_range(35.0..110.0)
        } else {
            rng.gen_range(12.0..35.0)
        } * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
        let (hx, hy) = (x - dy * back, y + dx * back);
        if geo.grid_at(hx, hy) == Some(grid) && geo.clear_of_river(hx, hy) && spacing.fits(hx, hy) {
            return Some((hx, hy));
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn place_along<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    roads: &[usize],
    doors: &mut DoorBook,
    spacing: &mut Spacing,
    kind: Kind,
    min_off: f64,
    max_off: f64,
    base: &impl Fn(&Geography, usize) -> AddressParts,
) -> Option<GenBuilding> {
    for _ in 0..20 {
        let &r = roads.choose(rng)?;
        let pts = &geo.roads[r].points;
        let seg = rng.gen_range(0..pts.len() - 1);
        let ((ax, ay), (bx, by)) = (pts[seg], pts[seg + 1]);
        let t: f64 = rng.gen_range(0.0..1.0);
        let (dx, dy) = (bx - ax, by - ay);
        let len = dx.hypot(dy).max(1e-9);
        let left = rng.gen_bool(0.5);
        let off = rng.gen_range(min_off..max_off) * if left { 1.0 } else { -1.0 };
        let (x, y) = (ax + t * dx - dy / len * off, ay + t * dy + dx / len * off);
        let Some(grid) = geo.grid_at(x, y) else {
            continue;
        };
        if !geo.may_build(x, y) || !spacing.fits(x, y) {
            continue;
        }
        spacing.add(x, y);
        let along: f64 = pts[..=seg]
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
            .sum::<f64>()
            + t * len;
        let mut parts = base(geo, grid);
        parts.road = Some(geo.roads[r].name.clone());
        parts.door = Some(doors.take(r, along, left));
        return Some(GenBuilding {
            code: String::new(),
            grid,
            kind,
            parts,
            floors: if kind == Kind::Office {
                rng.gen_range(5..=20)
            } else {
                rng.gen_range(1..=3)
            },
            x,
            y,
            rooms_per_unit: Vec::new(),
            rooms_per_floor: 0,
            compound: None,
        });
    }
    None
}

/// Give urban buildings a shape (entrances × floors × rooms per floor) and apportion
/// `rooms` over them exactly.
fn shape_urban<R: Rng>(rng: &mut R, out: &mut [GenBuilding], ids: &[usize], rooms: usize) {
    if ids.is_empty() {
        return;
    }
    let weights: Vec<f64> = ids
        .iter()
        .map(|_| match rng.gen_range(0..100) {
            0..=44 => 12.0,
            45..=69 => 24.0,
            70..=84 => 36.0,
            85..=94 => 44.0,
            _ => rng.gen_range(72.0..132.0),
        })
        .collect();
    let caps = vec![usize::MAX; ids.len()];
    let parts = crate::generate::geography::apportion(&weights, rooms, &caps);
    for (&i, &n) in ids.iter().zip(&parts) {
        let b = &mut out[i];
        let entrances = match n {
            0..=18 => 1,
            19..=60 => 2,
            _ => 2 + (n / 120).min(2),
        };
        b.rooms_per_floor = if n > 60 { 4 } else { 2 };
        let base = n / entrances;
        b.rooms_per_unit = (0..entrances)
            .map(|e| (base + usize::from(e < n % entrances)) as u32)
            .collect();
        let max_rooms = *b.rooms_per_unit.iter().max().unwrap_or(&1);
        b.floors = max_rooms.div_ceil(b.rooms_per_floor).max(1);
        b.kind = if b.floors >= 10 {
            Kind::Highrise
        } else {
            Kind::Walkup
        };
    }
}

/// Make the unit total exact after placement (a few shops or houses may not have been
/// placed at tiny scales): adjust rooms of the largest urban buildings.
fn fix_unit_total(out: &mut [GenBuilding], target: usize) {
    let total: usize = out
        .iter()
        .map(|b| b.rooms_per_unit.iter().sum::<u32>() as usize)
        .sum();
    if total == target {
        return;
    }
    let mut urban: Vec<usize> = (0..out.len())
        .filter(|&i| matches!(out[i].kind, Kind::Walkup | Kind::Highrise))
        .collect();
    urban.sort_by_key(|&i| std::cmp::Reverse(out[i].rooms_per_unit.iter().sum::<u32>()));
    let mut diff = target as i64 - total as i64;
    let mut k = 0;
    while diff != 0 && !urban.is_empty() && k < 10 * (diff.unsigned_abs() as usize + urban.len()) {
        let b = &mut out[urban[k % urban.len()]];
        if let Some(last) = b.rooms_per_unit.last_mut() {
            if diff > 0 {
                *last += 1;
                diff -= 1;
            } else if *last > 1 {
                *last -= 1;
                diff += 1;
            }
        }
        let max_rooms = *b.rooms_per_unit.iter().max().unwrap_or(&1);
        b.floors = max_rooms.div_ceil(b.rooms_per_floor.max(1)).max(1);
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::geography::{self, polyline_distance};
    use rand::SeedableRng;

    fn district(scale: f64) -> (Geography, Register) {
        let stream = |n| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20240101);
            rng.set_stream(n);
            rng
        };
        let geo = geography::build(&mut stream(1), scale);
        let reg = build(&mut stream(2), &geo, &RegisterCounts::at_scale(scale));
        (geo, reg)
    }

    #[test]
    fn hamlets_line_their_country_roads() {
        let (geo, reg) = district(0.3);
        let mut houses = 0;
        let mut roadside = 0;
        for b in reg.buildings.iter().filter(|b| b.kind == Kind::Rural) {
            let village = geo.grids[b.grid].community;
            let road = geo
                .roads
                .iter()
                .find(|r| r.village == Some(village))
                .expect("every village has its road");
            houses += 1;
            roadside += usize::from(polyline_distance(&road.points, (b.x, b.y)) <= 120.0);
        }
        let share = roadside as f64 / houses as f64;
        println!("rural houses within 120 m of their village's road: {share:.3} of {houses}");
        assert!(houses > 5_000);
        assert!(share >= 0.9, "{share:.3}");
    }

    #[test]
    fn compound_blocks_stand_in_rows_along_their_lane() {
        let (_geo, reg) = district(0.3);
        let compounds = reg
            .buildings
            .iter()
            .filter_map(|b| b.compound)
            .max()
            .map_or(0, |k| k + 1);
        assert_eq!(reg.lanes.len(), compounds, "one lane per compound");
        assert!(reg.lanes.iter().all(|l| l.class == "service"));
        for b in reg.buildings.iter().filter(|b| b.compound.is_some()) {
            let lane = &reg.lanes[b.compound.unwrap()];
            let d = polyline_distance(&lane.points, (b.x, b.y));
            assert!(
                (8.0..=75.0).contains(&d),
                "{} is {d:.0} m from its lane",
                b.parts.canonical_label()
            );
        }
    }

    /// Two houses never stand on one spot (nor a shop on a block of flats).
    #[test]
    fn buildings_keep_their_distance() {
        let (_geo, reg) = district(0.3);
        let mut seen = Spacing::new();
        let mut close = Vec::new();
        for b in &reg.buildings {
            if !seen.fits(b.x, b.y) {
                close.push(b.parts.canonical_label());
            }
            seen.add(b.x, b.y);
        }
        assert!(
            close.is_empty(),
            "{} buildings stand within 8 m of another: {:?}",
            close.len(),
            &close[..close.len().min(5)]
        );
    }

    /// The core keeps a block free for its park and lake.
    #[test]
    fn the_park_is_left_free() {
        let (geo, reg) = district(0.3);
        assert_eq!(geo.park.iter().filter(|&&p| p).count(), 9);
        for b in &reg.buildings {
            let c = geo.locate(b.x, b.y).unwrap();
            assert!(
                !geo.park[c],
                "{} stands in the park",
                b.parts.canonical_label()
            );
        }
    }

    #[test]
    fn no_building_stands_by_the_river() {
        let (geo, reg) = district(0.3);
        for b in &reg.buildings {
            let d = polyline_distance(&geo.river, (b.x, b.y));
            assert!(
                d >= geography::RIVER_KEEP_CLEAR,
                "{} is {d:.0} m from the river",
                b.parts.canonical_label()
            );
        }
    }
}
