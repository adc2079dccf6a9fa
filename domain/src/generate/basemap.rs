//! The synthetic district's basemap: the river and lakes, land use (built-up areas,
//! farmland, hills under forest, parks) and the points of interest a governance centre
//! cares about (schools, hospitals, police stations, the governance centres, township
//! offices, mediation rooms, markets, stations), all with Chinese names.
//!
//! It reads the geography and the register and draws from its own random stream, so
//! every other generated file is byte-identical with or without it. Water never covers a
//! building: the river follows the geography's course, which the register keeps its
//! buildings clear of, its width is still narrowed wherever a building would stand
//! nearer than [`WATER_CLEARANCE`] to its bank, and lakes sit in 3×3 blocks of empty
//! cells crossed by no road. Nothing else is moved.

use super::geography::{Geography, TownshipKind, segment_distance};
use super::names::{PLACE_WORDS, UniqueNames};
use super::register::Register;
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use rand::Rng;
use std::collections::VecDeque;

/// The river's usual half-width in metres (narrower where buildings stand near).
pub const RIVER_HALF_WIDTH: f64 = 28.0;
/// Least distance in metres from any building to the water's edge.
pub const WATER_CLEARANCE: f64 = 8.0;

/// One basemap feature in lon/lat.
#[derive(Debug, Clone)]
pub struct Feature {
    pub name: Option<String>,
    pub kind: &'static str,
    /// Points of interest only: 1 district-wide, 2 a township's, 3 a community's.
    pub rank: Option<u8>,
    pub geometry: Geometry<f64>,
}

/// The three basemap layers as the generator writes them.
#[derive(Debug, Default)]
pub struct Basemap {
    pub water: Vec<Feature>,
    pub landuse: Vec<Feature>,
    pub pois: Vec<Feature>,
}

/// What the basemap knows of each lattice cell.
struct Cells {
    /// Building indices per cell.
    buildings: Vec<Vec<u32>>,
    /// A road passes through the cell.
    road: Vec<bool>,
    /// River or lake.
    water: Vec<bool>,
}

/// Build the basemap of `geo` and `reg` from `rng` (the basemap's own stream).
pub fn build<R: Rng>(rng: &mut R, geo: &Geography, reg: &Register) -> Basemap {
    let n = geo.cell_count();
    let mut cells = Cells {
        buildings: vec![Vec::new(); n],
        road: geo.cells_on_lines(geo.roads.iter().chain(&reg.lanes)),
        water: vec![false; n],
    };
    for (i, b) in reg.buildings.iter().enumerate() {
        if let Some(c) = geo.locate(b.x, b.y) {
            cells.buildings[c].push(i as u32);
        }
    }
    let mut names = UniqueNames::new();
    let mut out = Basemap::default();
    let river_cells = river(geo, reg, &mut cells, &mut out);
    lakes(rng, geo, &mut cells, &river_cells, &mut names, &mut out);
    landuse(rng, geo, &cells, &river_cells, &mut names, &mut out);
    pois(rng, geo, &cells, &mut out);
    out
}

/// Column and row of a cell.
fn ij(geo: &Geography, c: usize) -> (usize, usize) {
    let (nx, _) = geo.dims();
    (c % nx, c / nx)
}

/// The cells of the 3×3 block around a cell (fewer at the lattice's edge).
fn block3(geo: &Geography, c: usize) -> Vec<usize> {
    let (nx, ny) = geo.dims();
    let (i, j) = ij(geo, c);
    let mut out = Vec::with_capacity(9);
    for dj in -1i64..=1 {
        for di in -1i64..=1 {
            let (a, b) = (i as i64 + di, j as i64 + dj);
            if a >= 0 && b >= 0 && (a as usize) < nx && (b as usize) < ny {
                out.push(b as usize * nx + a as usize);
            }
        }
    }
    out
}

/// The river along the geography's course (buildings were kept clear of it). Returns
/// the cells it runs through.
fn river(geo: &Geography, reg: &Register, cells: &mut Cells, out: &mut Basemap) -> Vec<usize> {
    let w = geo.frame.width;
    let mut path: Vec<usize> = Vec::new();
    for seg in geo.river.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 20.0).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            if let Some(c) = geo.locate(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
                && path.last() != Some(&c)
            {
                path.push(c);
            }
        }
    }
    if path.is_empty() {
        return path;
    }
    for &c in &path {
        cells.water[c] = true;
    }
    // Buildings that could come near the river: those of the path's 3×3 blocks.
    let mut near: Vec<u32> = path
        .iter()
        .flat_map(|&c| block3(geo, c))
        .flat_map(|c| cells.buildings[c].iter().copied())
        .collect();
    near.sort_unstable();
    near.dedup();
    let line = geo.river.clone();
    let widths = bank_widths(&line, reg, &near, w);
    // Offsets along the averaged normals: each bank point lies within its width of both
    // adjacent segments, so the band stays within each vertex's width of the centreline.
    let normal = |k: usize| -> (f64, f64) {
        let a = line[k.saturating_sub(1)];
        let b = line[(k + 1).min(line.len() - 1)];
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy).max(1e-9);
        (-dy / len, dx / len)
    };
    let mut left = Vec::with_capacity(line.len());
    let mut right = Vec::with_capacity(line.len());
    for (k, &(x, y)) in line.iter().enumerate() {
        let (nx_, ny_) = normal(k);
        let wk = widths[k];
        left.push(geo.frame.coord(x + nx_ * wk, y + ny_ * wk));
        right.push(geo.frame.coord(x - nx_ * wk, y - ny_ * wk));
    }
    let mut ring: Vec<Coord<f64>> = right;
    ring.extend(left.into_iter().rev());
    ring.push(ring[0]);
    let name = Some("绵远河".to_string());
    out.water.push(Feature {
        name: name.clone(),
        kind: "river",
        rank: None,
        geometry: Geometry::Polygon(Polygon::new(LineString::new(ring), Vec::new())),
    });
    out.water.push(Feature {
        name,
        kind: "river",
        rank: None,
        geometry: Geometry::LineString(line.iter().map(|&(x, y)| geo.frame.coord(x, y)).collect()),
    });
    path
}

/// The half-width at each vertex of the centreline: the usual width (swelling and
/// narrowing gently along the course), less wherever a building is nearer than the
/// width plus [`WATER_CLEARANCE`] to a segment the vertex ends.
fn bank_widths(line: &[(f64, f64)], reg: &Register, near: &[u32], frame_w: f64) -> Vec<f64> {
    let mut widths: Vec<f64> = line
        .iter()
        .map(|&(x, _)| RIVER_HALF_WIDTH * (1.0 + 0.2 * (x / frame_w * 9.0).sin()))
        .collect();
    for &b in near {
        let p = (reg.buildings[b as usize].x, reg.buildings[b as usize].y);
        for k in 0..line.len().saturating_sub(1) {
            let d = segment_distance(p, line[k], line[k + 1]);
            let room = (d - WATER_CLEARANCE).max(1.0);
            widths[k] = widths[k].min(room);
            widths[k + 1] = widths[k + 1].min(room);
        }
    }
    widths
}

/// Lakes: an irregular oval in a 3×3 block of empty cells that no road crosses, away
/// from the river: one in the urban core when it has room, reservoirs in the country.
fn lakes<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    cells: &mut Cells,
    river: &[usize],
    names: &mut UniqueNames,
    out: &mut Basemap,
) {
    let n = geo.cell_count();
    let mut near_river = vec![false; n];
    for &c in river {
        for b in block3(geo, c) {
            for d in block3(geo, b) {
                near_river[d] = true;
            }
        }
    }
    let urban = |c: usize| {
        geo.cell_grid[c].is_some_and(|g| geo.township_of_grid(g).kind == TownshipKind::Street)
    };
    let free = |cells: &Cells, c: usize| {
        let b = block3(geo, c);
        b.len() == 9
            && b.iter().all(|&k| {
                cells.buildings[k].is_empty()
                    && !cells.road[k]
                    && !cells.water[k]
                    && !near_river[k]
                    && geo.cell_grid[k].is_some()
            })
    };
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    let mut chosen: Vec<(usize, &'static str)> = Vec::new();
    // The urban lake: the free block nearest half-way out from the centre.
    let mut best: Option<(f64, usize)> = None;
    for c in 0..n {
        if urban(c) && free(cells, c) {
            let (x, y) = geo.cell_centre(c);
            let d = ((x - cx).hypot(y - cy) - 0.5 * geo.core_radius).abs();
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, c));
            }
        }
    }
    if let Some((_, c)) = best {
        chosen.push((c, "lake"));
        for k in block3(geo, c) {
            cells.water[k] = true;
        }
    }
    // Reservoirs: about one per 6,000 cells, at random free rural blocks.
    let wanted = (n / 6_000).clamp(1, 6);
    let mut tries = 0;
    while chosen.len() < wanted + usize::from(best.is_some()) && tries < 4_000 {
        tries += 1;
        let c = rng.gen_range(0..n);
        if urban(c) || !free(cells, c) {
            continue;
        }
        chosen.push((c, "reservoir"));
        // Keep the next ones apart: mark a wider ring as taken.
        for k in block3(geo, c) {
            cells.water[k] = true;
        }
    }
    for (c, kind) in chosen {
        let (x0, y0) = geo.cell_centre(c);
        let r = rng.gen_range(95.0..135.0);
        let (a, b, rot) = (
            rng.gen_range(0.0..6.3),
            rng.gen_range(0.0..6.3),
            rng.gen_range(0.0..3.1f64),
        );
        let squash = rng.gen_range(0.6..0.9);
        let mut ring: Vec<Coord<f64>> = (0..32)
            .map(|k| {
                let t = k as f64 / 32.0 * std::f64::consts::TAU;
                let rr = r * (1.0 + 0.12 * (2.0 * t + a).sin() + 0.07 * (3.0 * t + b).sin());
                let (ex, ey) = (rr * t.cos(), rr * squash * t.sin());
                let (sx, sy) = (
                    ex * rot.cos() - ey * rot.sin(),
                    ex * rot.sin() + ey * rot.cos(),
                );
                geo.frame.coord(x0 + sx, y0 + sy)
            })
            .collect();
        ring.push(ring[0]);
        let name = if kind == "lake" {
            if names.reserve("东湖") {
                "东湖".to_string()
            } else {
                names.pick(rng, PLACE_WORDS, "湖")
            }
        } else {
            names.pick(rng, PLACE_WORDS, "水库")
        };
        out.water.push(Feature {
            name: Some(name),
            kind,
            rank: None,
            geometry: Geometry::Polygon(Polygon::new(LineString::new(ring), Vec::new())),
        });
    }
}

/// Land use on the lattice: built-up where people live (the urban core, town centres,
/// the cells of village houses), parks in empty urban cells (by the river and a few
/// more), forest on the hills (higher to the north-west and towards the edge), farmland
/// elsewhere. Parks and hills are one feature per connected patch, with a name when
/// large enough; built-up and farmland one feature per grid.
fn landuse<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    cells: &Cells,
    river: &[usize],
    names: &mut UniqueNames,
    out: &mut Basemap,
) {
    let n = geo.cell_count();
    let (w, h) = (geo.frame.width, geo.frame.height);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (p1, p2) = (rng.gen_range(0.0..6.3), rng.gen_range(0.0..6.3));
    let kind_of: Vec<Option<&'static str>> = (0..n)
        .map(|c| {
            let g = geo.cell_grid[c]?;
            let town = geo.township_of_grid(g);
            let comm = geo.community_of_grid(g);
            if town.kind == TownshipKind::Street || !comm.village {
                return Some("residential");
            }
            if !cells.buildings[c].is_empty() {
                return Some("residential");
            }
            let (x, y) = geo.cell_centre(c);
            let (u, v) = ((x - cx) / cx, (y - cy) / cy);
            let hill = 0.55 * v - 0.45 * u
                + 0.35 * (u * u + v * v).sqrt()
                + 0.25 * (x / 1_900.0 + p1).sin() * (y / 2_300.0 + p2).sin();
            Some(if hill > 0.55 { "forest" } else { "farmland" })
        })
        .collect();
    let mut kind = kind_of;
    // Parks: the empty urban cells along the river, then a few patches elsewhere.
    let urban_empty = |c: usize| {
        geo.cell_grid[c].is_some_and(|g| geo.township_of_grid(g).kind == TownshipKind::Street)
            && cells.buildings[c].is_empty()
            && !cells.road[c]
    };
    for &c in river {
        for k in block3(geo, c) {
            if urban_empty(k) && !cells.water[k] {
                kind[k] = Some("park");
            }
        }
        if urban_empty(c) {
            kind[c] = Some("park");
        }
    }
    let streets = geo
        .townships
        .iter()
        .filter(|t| t.kind == TownshipKind::Street)
        .count();
    let mut seeds: Vec<usize> = (0..n)
        .filter(|&c| urban_empty(c) && kind[c] == Some("residential"))
        .collect();
    let want = (streets * 2).min(seeds.len());
    for _ in 0..want {
        if seeds.is_empty() {
            break;
        }
        let s = seeds.swap_remove(rng.gen_range(0..seeds.len()));
        if kind[s] != Some("residential") {
            continue;
        }
        // Grow a patch of up to five empty cells.
        let mut patch = vec![s];
        let mut k = 0;
        while k < patch.len() && patch.len() < 5 {
            for m in geo.neighbours4(patch[k]) {
                if patch.len() < 5
                    && urban_empty(m)
                    && kind[m] == Some("residential")
                    && !patch.contains(&m)
                {
                    patch.push(m);
                }
            }
            k += 1;
        }
        for c in patch {
            kind[c] = Some("park");
        }
    }
    // Parks and forest by connected patch; the rest by grid.
    let mut seen = vec![false; n];
    let mut patches: Vec<(&'static str, Vec<usize>)> = Vec::new();
    for c in 0..n {
        let Some(k) = kind[c] else { continue };
        if seen[c] || !matches!(k, "park" | "forest") {
            continue;
        }
        let mut comp = vec![c];
        seen[c] = true;
        let mut queue = VecDeque::from([c]);
        while let Some(a) = queue.pop_front() {
            for m in geo.neighbours4(a) {
                if !seen[m] && kind[m] == Some(k) {
                    seen[m] = true;
                    comp.push(m);
                    queue.push_back(m);
                }
            }
        }
        comp.sort_unstable();
        patches.push((k, comp));
    }
    let mut by_grid: Vec<[Vec<usize>; 2]> = vec![[Vec::new(), Vec::new()]; geo.grids.len()];
    for (c, k) in kind.iter().enumerate().take(n) {
        let (Some(k), Some(g)) = (*k, geo.cell_grid[c]) else {
            continue;
        };
        match k {
            "residential" => by_grid[g][0].push(c),
            "farmland" => by_grid[g][1].push(c),
            _ => {}
        }
    }
    for (g, [built, farm]) in by_grid.iter().enumerate() {
        let _ = g;
        for (k, list) in [("residential", built), ("farmland", farm)] {
            if !list.is_empty() {
                out.landuse.push(Feature {
                    name: None,
                    kind: k,
                    rank: None,
                    geometry: Geometry::MultiPolygon(geo.trace(list)),
                });
            }
        }
    }
    let mut first_park = true;
    for (k, comp) in patches {
        let name = match k {
            "park" if first_park => {
                first_park = false;
                names.reserve("人民公园");
                Some("人民公园".to_string())
            }
            "park" if river.iter().any(|r| comp.contains(r)) => {
                Some(names.pick(rng, PLACE_WORDS, "滨河公园"))
            }
            "park" => Some(names.pick(rng, PLACE_WORDS, "公园")),
            _ if comp.len() >= 12 => Some(names.pick(rng, PLACE_WORDS, "山")),
            _ => None,
        };
        out.landuse.push(Feature {
            name,
            kind: k,
            rank: None,
            geometry: Geometry::MultiPolygon(geo.trace(&comp)),
        });
    }
}

/// A point for a point of interest: in a cell of `candidates` not under water and not
/// taken yet, the one nearest `near`.
fn poi_point<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    cells: &Cells,
    taken: &mut [bool],
    candidates: &[usize],
    near: (f64, f64),
) -> Option<(f64, f64)> {
    let nearest = |dry: bool, free: bool| {
        candidates
            .iter()
            .copied()
            .filter(|&c| (!free || !taken[c]) && (!dry || !cells.water[c]))
            .map(|c| {
                let (x, y) = geo.cell_centre(c);
                ((x - near.0).hypot(y - near.1), c)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
    };
    if let Some((_, c)) = nearest(true, true) {
        taken[c] = true;
        let (u, v) = (rng.gen_range(0.3..0.7), rng.gen_range(0.3..0.7));
        return Some(geo.point_in_cell(c, u, v));
    }
    // A small place: a cell the river runs through, or one another point already holds;
    // then a spot in it clear of the water.
    let (_, c) = nearest(false, true).or_else(|| nearest(false, false))?;
    taken[c] = true;
    (0..32)
        .map(|_| geo.point_in_cell(c, rng.gen_range(0.05..0.95), rng.gen_range(0.05..0.95)))
        .find(|&(x, y)| geo.clear_of_river(x, y))
}

/// The points of interest: the district's governance centre, hospital and coach
/// station; per township its office, governance centre, police station, schools,
/// market, health centre (and a coach station in a town); per community its
/// mediation room.
fn pois<R: Rng>(rng: &mut R, geo: &Geography, cells: &Cells, out: &mut Basemap) {
    let n = geo.cell_count();
    let mut taken = vec![false; n];
    let mut town_cells: Vec<Vec<usize>> = vec![Vec::new(); geo.townships.len()];
    let mut comm_cells: Vec<Vec<usize>> = vec![Vec::new(); geo.communities.len()];
    for (c, g) in geo.cell_grid.iter().enumerate() {
        if let Some(g) = *g {
            let comm = geo.grids[g].community;
            comm_cells[comm].push(c);
            town_cells[geo.communities[comm].township].push(c);
        }
    }
    let all: Vec<usize> = (0..n).filter(|&c| geo.cell_grid[c].is_some()).collect();
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    let r = geo.core_radius;
    let mut push = |rng: &mut R,
                    taken: &mut [bool],
                    cands: &[usize],
                    near: (f64, f64),
                    name: String,
                    kind: &'static str,
                    rank: u8| {
        if let Some((x, y)) = poi_point(rng, geo, cells, taken, cands, near) {
            out.pois.push(Feature {
                name: Some(name),
                kind,
                rank: Some(rank),
                geometry: Geometry::Point(Point(geo.frame.coord(x, y))),
            });
        }
    };
    push(
        rng,
        &mut taken,
        &all,
        (cx + 120.0, cy + 90.0),
        "旌阳区综治中心".into(),
        "governance_centre",
        1,
    );
    push(
        rng,
        &mut taken,
        &all,
        (cx - 0.3 * r, cy + 0.2 * r),
        "旌阳区人民医院".into(),
        "hospital",
        1,
    );
    push(
        rng,
        &mut taken,
        &all,
        (cx + 0.85 * r, cy - 0.35 * r),
        "旌阳客运中心站".into(),
        "station",
        1,
    );
    for (t, town) in geo.townships.iter().enumerate() {
        let stem = town
            .name
            .strip_suffix("街道")
            .or_else(|| town.name.strip_suffix('镇'))
            .unwrap_or(&town.name)
            .to_string();
        let (x, y) = town.centre;
        let street = town.kind == TownshipKind::Street;
        let d = if street { 0.12 * r } else { 260.0 };
        let cands = &town_cells[t];
        let office = if street {
            format!("{}办事处", town.name)
        } else {
            format!("{}人民政府", town.name)
        };
        push(rng, &mut taken, cands, (x, y), office, "township_office", 2);
        push(
            rng,
            &mut taken,
            cands,
            (x + d, y),
            format!("{}综治中心", town.name),
            "governance_centre",
            2,
        );
        push(
            rng,
            &mut taken,
            cands,
            (x - d, y + d),
            format!("{stem}派出所"),
            "police",
            2,
        );
        push(
            rng,
            &mut taken,
            cands,
            (x + d, y - d),
            format!("{stem}中学"),
            "school",
            2,
        );
        push(
            rng,
            &mut taken,
            cands,
            (x - d, y - d),
            format!("{stem}小学"),
            "school",
            2,
        );
        push(
            rng,
            &mut taken,
            cands,
            (x, y - 1.5 * d),
            format!("{stem}农贸市场"),
            "market",
            2,
        );
        let clinic = if street {
            format!("{}社区卫生服务中心", town.name)
        } else {
            format!("{}卫生院", town.name)
        };
        push(
            rng,
            &mut taken,
            cands,
            (x - 1.5 * d, y),
            clinic,
            "hospital",
            2,
        );
        if !street {
            push(
                rng,
                &mut taken,
                cands,
                (x + 1.5 * d, y + d),
                format!("{stem}汽车站"),
                "station",
                2,
            );
        }
    }
    for (k, comm) in geo.communities.iter().enumerate() {
        let cands = &comm_cells[k];
        if cands.is_empty() {
            continue;
        }
        // Near the middle of the community's cells.
        let (sx, sy) = cands.iter().fold((0.0, 0.0), |(sx, sy), &c| {
            let (x, y) = geo.cell_centre(c);
            (sx + x, sy + y)
        });
        let m = cands.len() as f64;
        push(
            rng,
            &mut taken,
            cands,
            (sx / m, sy / m),
            format!("{}人民调解室", comm.name),
            "mediation_room",
            3,
        );
    }
}

/// The basemap polygons of one feature as a multipolygon (for tests and checks).
pub fn polygons(f: &Feature) -> Option<MultiPolygon<f64>> {
    match &f.geometry {
        Geometry::Polygon(p) => Some(MultiPolygon::new(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}
