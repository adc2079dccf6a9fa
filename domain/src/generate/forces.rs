//! The forces on the ground: patrol teams at the source's figures (163 teams, 3,000+
//! members, the staffing standard per team), 300+ patrols in every month of the event
//! years (2023 up to the generator's present; the later years from their own random
//! stream, so the seed years' patrols and everything after them never change) with GPS
//! tracks walked along the district's roads (starting more often where
//! events are), the 1+1+4+N forces of every grid (a full-time grid worker in every urban
//! community grid) and the grid work list. See `crate::forces` for what the figures mean.

use super::geography::{Geography, TownshipKind};
use super::names::person_name;
use crate::forces::import::columns;
use crate::model::Event;
use anyhow::Result;
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Township teams (one per township) plus community teams make 163 at scale 1.
pub const COMMUNITY_TEAMS: f64 = 150.0;
/// Patrols in every month of the event years (2023 up to the present) at scale 1.
pub const PATROLS_PER_MONTH: f64 = 320.0;
/// Members of all teams at scale 1 are at least this many (volunteers are added until).
pub const MIN_MEMBERS: f64 = 3_050.0;
/// Metres between two GPS fixes of a track (a fix every ~30 s on foot).
const FIX_M: f64 = 33.0;

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct ForcesFigures {
    pub patrol_teams: usize,
    pub patrol_members: usize,
    pub patrols: usize,
    /// The fewest patrols of any whole month of the event years (2023 up to the
    /// present; the month in progress gets its share so far and is not counted here).
    pub patrols_min_per_month: usize,
    pub grid_forces: usize,
    pub work_items: usize,
}

/// The grid work list (网格工作清单): code, name, department, legal basis, frequency,
/// expected minutes.
pub const WORK_ITEMS: [(&str, &str, &str, &str, &str, u32); 12] = [
    (
        "WL001",
        "社情民意走访",
        "区委政法委",
        "《中华人民共和国城市居民委员会组织法》",
        "每周",
        60,
    ),
    (
        "WL002",
        "矛盾纠纷排查化解",
        "区司法局",
        "《中华人民共和国人民调解法》",
        "每周",
        90,
    ),
    (
        "WL003",
        "出租房屋及流动人口信息采集",
        "区公安分局",
        "《居住证暂行条例》",
        "每月",
        45,
    ),
    (
        "WL004",
        "消防安全隐患巡查",
        "区消防救援大队",
        "《中华人民共和国消防法》",
        "每月",
        60,
    ),
    (
        "WL005",
        "安全生产隐患排查",
        "区应急管理局",
        "《中华人民共和国安全生产法》",
        "每月",
        60,
    ),
    (
        "WL006",
        "重点人员走访帮扶",
        "区委政法委",
        "《中华人民共和国社区矫正法》",
        "每月",
        45,
    ),
    (
        "WL007",
        "禁毒宣传",
        "区禁毒办",
        "《中华人民共和国禁毒法》",
        "每季度",
        60,
    ),
    (
        "WL008",
        "食品安全巡查",
        "区市场监管局",
        "《中华人民共和国食品安全法》",
        "每季度",
        45,
    ),
    (
        "WL009",
        "市容环境问题巡查",
        "区综合行政执法局",
        "《城市市容和环境卫生管理条例》",
        "每周",
        30,
    ),
    (
        "WL010",
        "防汛及地质灾害隐患巡查",
        "区应急管理局",
        "《中华人民共和国防洪法》",
        "汛期每日",
        40,
    ),
    (
        "WL011",
        "反诈宣传",
        "区公安分局",
        "《中华人民共和国反电信网络诈骗法》",
        "每月",
        30,
    ),
    (
        "WL012",
        "特殊困难群体关爱",
        "区民政局",
        "《社会救助暂行办法》",
        "每月",
        45,
    ),
];

const FINDINGS: [&str; 8] = [
    "发现占道经营一处，已劝离",
    "发现消防通道堵塞，已通知物业清理",
    "发现邻里纠纷苗头，已告知网格员跟进",
    "路灯损坏一处，已报修",
    "发现可疑人员徘徊，已提醒商户注意",
    "发现井盖松动，已设置警示并上报",
    "劝导电动车违规充电一起",
    "发现流浪人员一名，已联系救助站",
];

fn phone<R: Rng>(rng: &mut R) -> String {
    format!(
        "1{}{:09}",
        ['3', '5', '7', '8', '9'][rng.gen_range(0..5)],
        rng.gen_range(0..1_000_000_000u32)
    )
}

/// Start of month `m` (1–12) of `year` in China Standard Time, unix seconds.
fn month_start(year: i16, m: i8) -> i64 {
    let date = jiff::civil::date(year, m, 1);
    crate::time::day_start(date).expect("a valid month start")
}

/// Start of the month after month `m` of `year`.
fn month_start_after(year: i16, m: i8) -> i64 {
    if m == 12 {
        month_start(year + 1, 1)
    } else {
        month_start(year, m + 1)
    }
}

/// The id of the `slot`-th (from 1) member of a grid's forces.
pub fn force_id(grid: &str, slot: usize) -> String {
    format!("GF{grid}{slot:02}")
}
/// The slots of every grid's full-time grid worker and community police officer (the
/// order of the roles below: grid leader, grid worker, political-legal, police, …).
pub const WORKER_SLOT: usize = 2;
pub const POLICE_SLOT: usize = 4;

/// A road sampled every [`FIX_M`] metres.
struct Road {
    pts: Vec<(f64, f64)>,
}

/// The forces alone, as `minqing generate --scale scale --seed seed --until until` makes
/// them but without events to steer the patrols (for checking the figures at full scale
/// fast).
pub fn generate_alone(
    out: &Path,
    scale: f64,
    seed: u64,
    until: jiff::civil::Date,
) -> Result<(Geography, ForcesFigures)> {
    let geo = super::geography::build(&mut super::stream(seed, 1), scale);
    let present =
        crate::time::day_start(until).ok_or_else(|| anyhow::anyhow!("{until} is not a date"))?;
    let fig = generate(
        &mut super::stream(seed, 7),
        &mut super::stream(seed, super::LATER_PATROLS),
        out,
        &geo,
        &[],
        scale,
        present,
    )?;
    Ok((geo, fig))
}

/// Generate the forces' files into `out`: everything of the seed years from `rng`, the
/// patrols from 2025 up to `present` (unix seconds, exclusive) from `later`.
pub fn generate<R: Rng>(
    rng: &mut R,
    later: &mut R,
    out: &Path,
    geo: &Geography,
    events: &[Event],
    scale: f64,
    present: i64,
) -> Result<ForcesFigures> {
    let mut fig = ForcesFigures::default();
    // The work list.
    {
        let mut w = super::csv_writer(&out.join("work_items.csv"))?;
        w.write_record(columns::WORK_ITEMS)?;
        for (code, name, dept, basis, freq, minutes) in WORK_ITEMS {
            w.write_record([code, name, dept, basis, freq, &minutes.to_string()])?;
        }
        w.flush()?;
        fig.work_items = WORK_ITEMS.len();
    }

    // Teams: one per township, then community teams over the communities (most events
    // first, then round again).
    struct GenTeam {
        code: String,
        community: Option<usize>,
        township: usize,
        kind: &'static str,
        area_kind: &'static str,
    }
    let grid_by_code: HashMap<&str, usize> = geo
        .grids
        .iter()
        .enumerate()
        .map(|(i, g)| (g.code.as_str(), i))
        .collect();
    let mut grid_events = vec![0u32; geo.grids.len()];
    for e in events {
        if let Some(&g) = grid_by_code.get(e.grid_code.as_str()) {
            grid_events[g] += 1;
        }
    }
    let mut community_events = vec![0u32; geo.communities.len()];
    for (g, n) in grid_events.iter().enumerate() {
        community_events[geo.grids[g].community] += n;
    }
    let mut teams: Vec<GenTeam> = Vec::new();
    for (t, town) in geo.townships.iter().enumerate() {
        teams.push(GenTeam {
            code: String::new(),
            community: None,
            township: t,
            kind: "full_time",
            area_kind: if town.kind == TownshipKind::Street {
                "street"
            } else {
                "town"
            },
        });
    }
    let mut order: Vec<usize> = (0..geo.communities.len()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(community_events[c]), c));
    let n_comm = ((COMMUNITY_TEAMS * scale).round() as usize).max(1);
    for k in 0..n_comm {
        let c = order[k % order.len()];
        let village = geo.communities[c].village;
        teams.push(GenTeam {
            code: String::new(),
            community: Some(c),
            township: geo.communities[c].township,
            kind: if !village && rng.gen_bool(0.5) {
                "full_time"
            } else {
                "part_time"
            },
            area_kind: if village { "village" } else { "community" },
        });
    }
    let mut per_area: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::new();
    for (i, t) in teams.iter_mut().enumerate() {
        t.code = format!("PT{:04}", i + 1);
        let (area_code, area_name) = match t.community {
            Some(c) => (&geo.communities[c].code, &geo.communities[c].name),
            None => (
                &geo.townships[t.township].code,
                &geo.townships[t.township].name,
            ),
        };
        let n = per_area.entry(area_code.clone()).or_default();
        *n += 1;
        let name = if *n == 1 {
            format!("{area_name}群防群治巡逻队")
        } else {
            format!(
                "{area_name}群防群治巡逻队第{}分队",
                ["一", "二", "三", "四", "五", "六", "七", "八", "九"][(*n - 1).min(8)]
            )
        };
        rows.push([t.code.clone(), name, t.kind.to_string(), area_code.clone()]);
    }
    {
        let mut w = super::csv_writer(&out.join("patrol_teams.csv"))?;
        w.write_record(columns::PATROL_TEAMS)?;
        for r in &rows {
            w.write_record(r)?;
        }
        w.flush()?;
        fig.patrol_teams = teams.len();
    }

    // Members: the core by the staffing standard, volunteers on top until the district
    // has its 3,000+.
    let mut core = Vec::with_capacity(teams.len());
    let mut volunteers = Vec::with_capacity(teams.len());
    for t in &teams {
        let std = crate::forces::staffing_standard(t.area_kind);
        core.push(rng.gen_range(std));
        volunteers.push(if t.community.is_some() {
            rng.gen_range(8..=16u32)
        } else {
            rng.gen_range(20..=40u32)
        });
    }
    let min_members = (MIN_MEMBERS * scale).round() as u32;
    let mut k = 0;
    while core.iter().sum::<u32>() + volunteers.iter().sum::<u32>() < min_members {
        volunteers[k % teams.len()] += 1;
        k += 1;
    }
    {
        let mut w = super::csv_writer(&out.join("patrol_members.csv"))?;
        w.write_record(columns::PATROL_MEMBERS)?;
        let mut n = 0usize;
        for (i, t) in teams.iter().enumerate() {
            for j in 0..core[i] + volunteers[i] {
                n += 1;
                let male = rng.gen_bool(0.7);
                w.write_record([
                    format!("PM{n:06}"),
                    t.code.clone(),
                    person_name(rng, male),
                    phone(rng),
                    if j < core[i] { "core" } else { "volunteer" }.to_string(),
                ])?;
            }
        }
        w.flush()?;
        fig.patrol_members = n;
    }

    // Road samples per community and township, weighted by the events of their grid.
    let roads: Vec<Road> = geo
        .roads
        .iter()
        .map(|r| {
            let mut pts = Vec::new();
            for win in r.points.windows(2) {
                let ((x0, y0), (x1, y1)) = (win[0], win[1]);
                let len = (x1 - x0).hypot(y1 - y0);
                let steps = (len / FIX_M).ceil().max(1.0) as usize;
                for s in 0..steps {
                    let f = s as f64 / steps as f64;
                    pts.push((x0 + (x1 - x0) * f, y0 + (y1 - y0) * f));
                }
            }
            if let Some(&last) = r.points.last() {
                pts.push(last);
            }
            Road { pts }
        })
        .collect();
    // (road, position, weight) of each sample inside the district, per community and
    // per township.
    let mut by_community: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); geo.communities.len()];
    let mut by_township: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); geo.townships.len()];
    for (ri, r) in roads.iter().enumerate() {
        for (pi, &(x, y)) in r.pts.iter().enumerate() {
            if let Some(g) = geo.grid_at(x, y) {
                let c = geo.grids[g].community;
                let w = 1 + grid_events[g];
                by_community[c].push((ri as u32, pi as u32, w));
                by_township[geo.communities[c].township].push((ri as u32, pi as u32, w));
            }
        }
    }
    let team_weight: Vec<u32> = teams
        .iter()
        .map(|t| if t.community.is_some() { 2 } else { 5 })
        .collect();
    let team_total: u32 = team_weight.iter().sum();

    // Patrols, month by month: the seed years from the forces' own stream (so they and
    // the grid forces after them never change), the later years up to the present from
    // `later`, appended to the same file.
    let file = std::fs::File::create(out.join("patrols.geojson"))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(w, "{{\"type\":\"FeatureCollection\",\"features\":[")?;
    let per_month = ((PATROLS_PER_MONTH * scale).round() as usize).max(4);
    let plan = PatrolPlan {
        geo,
        roads: &roads,
        teams: &teams
            .iter()
            .map(|t| (t.code.as_str(), t.community, t.township))
            .collect::<Vec<_>>(),
        team_weight: &team_weight,
        team_total,
        by_community: &by_community,
        by_township: &by_township,
    };
    let mut first = true;
    let mut min_month = usize::MAX;
    let seed_months = (2023i16..=2024).flat_map(|y| (1..=12i8).map(move |m| (y, m)));
    for (year, m) in seed_months {
        let made = plan.month(rng, &mut w, &mut first, year, m, per_month, i64::MAX)?;
        fig.patrols += made;
        min_month = min_month.min(made);
    }
    let (mut year, mut m) = (2025i16, 1i8);
    while month_start(year, m) < present {
        let (start, end) = (month_start(year, m), month_start_after(year, m));
        // The month in progress gets its share so far, at the same pace.
        let n = if end <= present {
            per_month
        } else {
            (per_month as f64 * (present - start) as f64 / (end - start) as f64).round() as usize
        };
        let made = plan.month(later, &mut w, &mut first, year, m, n, present)?;
        fig.patrols += made;
        if end <= present {
            min_month = min_month.min(made);
        }
        (year, m) = if m == 12 {
            (year + 1, 1)
        } else {
            (year, m + 1)
        };
    }
    writeln!(w, "\n]}}")?;
    w.flush()?;
    fig.patrols_min_per_month = min_month;

    // The 1+1+4+N forces of every grid.
    {
        let mut w = super::csv_writer(&out.join("grid_forces.csv"))?;
        w.write_record(columns::GRID_FORCES)?;
        let mut n = 0usize;
        for g in &geo.grids {
            let urban = !geo.communities[g.community].village;
            let mut roles: Vec<(&str, bool)> = vec![
                ("grid_leader", false),
                ("grid_worker", urban || rng.gen_bool(0.6)),
                ("political_legal", false),
                ("police", true),
                ("urban_management", true),
            ];
            if urban {
                roles.push(("property", true));
            }
            let heads = if urban {
                rng.gen_range(2..=6)
            } else {
                rng.gen_range(1..=3)
            };
            roles.extend(std::iter::repeat_n(("building_head", false), heads));
            roles.extend(std::iter::repeat_n(
                ("volunteer", false),
                rng.gen_range(1..=4),
            ));
            for (k, (role, full)) in roles.into_iter().enumerate() {
                n += 1;
                let male = rng.gen_bool(0.55);
                w.write_record([
                    force_id(&g.code, k + 1),
                    g.code.clone(),
                    role.to_string(),
                    person_name(rng, male),
                    phone(rng),
                    u8::from(full).to_string(),
                ])?;
            }
        }
        w.flush()?;
        fig.grid_forces = n;
    }
    Ok(fig)
}

/// What patrols are drawn from: the teams `(code, home community, township)` with their
/// weights, and the road samples of each home area.
struct PatrolPlan<'a> {
    geo: &'a Geography,
    roads: &'a [Road],
    teams: &'a [(&'a str, Option<usize>, usize)],
    team_weight: &'a [u32],
    team_total: u32,
    by_community: &'a [Vec<(u32, u32, u32)>],
    by_township: &'a [Vec<(u32, u32, u32)>],
}

impl PatrolPlan<'_> {
    /// Write `n` patrols of month `m` of `year` (starting before `present`); returns `n`.
    #[allow(clippy::too_many_arguments)]
    fn month<R: Rng, W: Write>(
        &self,
        rng: &mut R,
        w: &mut W,
        first: &mut bool,
        year: i16,
        m: i8,
        n: usize,
        present: i64,
    ) -> Result<usize> {
        let start = month_start(year, m);
        let end = month_start_after(year, m).min(present);
        let days = ((end - start) / 86_400).max(1);
        for seq in 0..n {
            let mut x = rng.gen_range(0..self.team_total);
            let mut ti = 0;
            while x >= self.team_weight[ti] {
                x -= self.team_weight[ti];
                ti += 1;
            }
            let (code, community, township) = self.teams[ti];
            let day = rng.gen_range(0..days);
            let started_at = start + day * 86_400 + rng.gen_range(7 * 3600..21 * 3600);
            // At most 3 hours from 21:00 at the latest: every patrol ends by midnight,
            // so none runs past the present.
            let minutes = rng.gen_range(60..=180i64);
            let fixes = (minutes * 60 / 30) as usize;
            let samples = match community {
                Some(c) => &self.by_community[c],
                None => &self.by_township[township],
            };
            let track = walk(
                rng,
                self.geo,
                self.roads,
                samples,
                (community, township),
                fixes,
            );
            let findings = if rng.gen_bool(0.7) {
                "未发现异常"
            } else {
                FINDINGS.choose(rng).copied().unwrap_or("未发现异常")
            };
            let coords: Vec<String> = track
                .iter()
                .map(|&(x, y)| {
                    let (lon, lat) = self.geo.frame.lonlat(x, y);
                    format!("[{lon:.7},{lat:.7}]")
                })
                .collect();
            if !*first {
                writeln!(w, ",")?;
            }
            *first = false;
            write!(
                w,
                "{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"LineString\",\"coordinates\":[{}]}},\"properties\":{{\"code\":\"P{year}{m:02}{:05}\",\"team_code\":\"{code}\",\"started_at\":{started_at},\"ended_at\":{},\"findings\":\"{findings}\"}}}}",
                coords.join(","),
                seq + 1,
                started_at + minutes * 60,
            )?;
        }
        Ok(n)
    }
}

/// A track of `fixes` GPS fixes (metres): along a road from a sample chosen by weight
/// (turning back at the road's ends and at the district's edge), or, where the home
/// area has no road, a smooth random walk from one of its grids' cells.
fn walk<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    roads: &[Road],
    samples: &[(u32, u32, u32)],
    home: (Option<usize>, usize),
    fixes: usize,
) -> Vec<(f64, f64)> {
    let jitter = |rng: &mut R, (x, y): (f64, f64)| {
        (x + rng.gen_range(-4.0..4.0), y + rng.gen_range(-4.0..4.0))
    };
    let mut out = Vec::with_capacity(fixes);
    if !samples.is_empty() {
        let total: u64 = samples.iter().map(|s| u64::from(s.2)).sum();
        let mut x = rng.gen_range(0..total);
        let mut pick = samples[0];
        for s in samples {
            if x < u64::from(s.2) {
                pick = *s;
                break;
            }
            x -= u64::from(s.2);
        }
        let pts = &roads[pick.0 as usize].pts;
        let mut i = pick.1 as i64;
        let mut dir: i64 = if rng.gen_bool(0.5) { 1 } else { -1 };
        for _ in 0..fixes {
            out.push(jitter(rng, pts[i as usize]));
            let next = i + dir;
            let inside = (0..pts.len() as i64).contains(&next)
                && geo
                    .grid_at(pts[next as usize].0, pts[next as usize].1)
                    .is_some();
            if !inside {
                dir = -dir;
            }
            i = (i + dir).clamp(0, pts.len() as i64 - 1);
        }
        return out;
    }
    let cells: Vec<usize> = geo
        .grids
        .iter()
        .filter(|g| holds(geo, home, g.community))
        .flat_map(|g| g.cells.iter().copied())
        .collect();
    let Some(&cell) = cells.choose(rng) else {
        return out;
    };
    let (mut x, mut y) = geo.cell_centre(cell);
    let mut heading: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
    for _ in 0..fixes {
        out.push(jitter(rng, (x, y)));
        heading += rng.gen_range(-0.4..0.4);
        let (nx, ny) = (x + FIX_M * heading.cos(), y + FIX_M * heading.sin());
        if geo
            .grid_at(nx, ny)
            .is_some_and(|g| holds(geo, home, geo.grids[g].community))
        {
            (x, y) = (nx, ny);
        } else {
            heading += std::f64::consts::PI;
        }
    }
    out
}

/// Whether community `c` lies in the home area `(community, township)` of a team.
fn holds(geo: &Geography, home: (Option<usize>, usize), c: usize) -> bool {
    match home.0 {
        Some(h) => h == c,
        None => geo.communities[c].township == home.1,
    }
}
