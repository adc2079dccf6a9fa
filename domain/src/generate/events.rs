//! Events through the closed loop. The seed years 2023 and 2024 reproduce the seed's
//! figures: about 12,151 events in 2024 of which exactly 96.86% closed, disputes 18%
//! below 2023, 63.69% of 2024's civil/commercial disputes settled by mediation; with a
//! few planted hotspots and one planted emerging hotspot. The later years, from
//! 2025-01-01 up to the generator's present, continue at 2024's level and mix
//! ([`later_years`]), drawn from their own random stream so that the seed years' events
//! are the same bytes whatever the present.

use super::geography::{Geography, TownshipKind};
use super::register::Register;
use crate::model::{Event, EventStep};
use rand::Rng;
use rand::seq::SliceRandom;

/// Unix seconds of 2023-01-01T00:00+08:00 and of the following years.
pub const Y2023: i64 = 1_672_502_400;
pub const Y2024: i64 = 1_704_038_400;
pub const Y2025: i64 = 1_735_660_800;
const DAY: i64 = 86_400;

/// Per-category counts for 2024 and the year-on-year ratio 2024/2023.
const CATEGORY_PLAN: [(&str, f64, f64); 5] = [
    ("dispute", 0.52, 0.82),
    ("petition", 0.09, 0.68),
    ("consultation", 0.17, 1.05),
    ("public_safety", 0.12, 0.64),
    ("service_request", 0.10, 0.97),
];

pub use crate::events::MEDIATION_ORGS;
use crate::events::{LEADER_DEPARTMENT, RECEPTION_UNIT, RISK_CENTRE_UNIT};

const DIVERSIONS: [&str; 4] = [
    "arbitration",
    "administrative_review",
    "administrative_ruling",
    "litigation",
];

pub(crate) fn titles(category: &str) -> &'static [&'static str] {
    match category {
        "dispute" => &[
            "邻里噪音纠纷",
            "物业费纠纷",
            "婚姻家庭纠纷",
            "劳资纠纷（欠薪）",
            "土地承包纠纷",
            "房屋租赁纠纷",
            "交通事故赔偿纠纷",
            "消费纠纷",
            "相邻关系纠纷",
            "征地拆迁补偿纠纷",
            "医疗纠纷",
            "债务纠纷",
        ],
        "petition" => &[
            "反映小区违规搭建",
            "反映拆迁安置问题",
            "反映社保待遇问题",
            "反映环境污染问题",
        ],
        "consultation" => &[
            "咨询法律援助申请",
            "咨询社保政策",
            "咨询调解程序",
            "咨询户籍办理",
        ],
        "public_safety" => &[
            "小区消防通道堵塞",
            "道路井盖缺失",
            "临街广告牌松动",
            "自建房安全隐患",
            "河道防溺水隐患",
        ],
        _ => &[
            "路灯损坏报修",
            "垃圾清运不及时",
            "下水道堵塞",
            "噪声扰民处理",
        ],
    }
}

pub use crate::events::deadline_days;

/// Share of all events placed in the planted hot spots, and their radius. Strong and
/// tight enough that each planted centre's H3 resolution-9 cell neighbourhood stands
/// out at 99% against the dense urban background even at small scales (with 10% over
/// 250 m a planted spot next to the urban core was not significant at --scale 0.1).
const HOTSPOT_SHARE: f64 = 0.25;
const HOTSPOT_RADIUS_M: f64 = 150.0;

/// The planted emerging hot spot: a neighbourhood outside the urban core (at least
/// `EMERGING_MIN_CORE_RADII` core radii from the centre, where the background is thin)
/// whose events rise steadily over both years. Each month `t` (0 = January 2023,
/// 23 = December 2024) receives `scale · (EMERGING_BASE + EMERGING_SLOPE · t)` events,
/// taken from the same year's background events (moved in time within their year and in
/// space, never added), so every yearly figure stays exact.
///
/// Why a base in 2023 and not a ramp from zero: ArcGIS's *new* hot spot is hot in the
/// final step only and *intensifying* is hot in ≥ 90 % of the steps with a
/// significantly rising trend; a location that is quiet in 2023 and rises through
/// 2024 is hot in its last several months and nothing before — a *consecutive* hot
/// spot. The intensifying pattern (a significant cluster from the start, growing
/// month by month, here about fourfold) is the one a steady growth produces. At
/// --scale 0.1 the base (about 5 events a month) is enough for the location to be a
/// significant bin from the first month, and the trend is significant far beyond
/// the Mann–Kendall level; at larger scales both are stronger (z grows with √scale).
const EMERGING_BASE: f64 = 50.0;
const EMERGING_SLOPE: f64 = 6.0;
const EMERGING_RADIUS_M: f64 = 150.0;
const EMERGING_MIN_CORE_RADII: f64 = 1.3;

/// Where events concentrate: a centre in metres, a radius, and a share of all events.
struct Plant {
    x: f64,
    y: f64,
    radius: f64,
}

/// The planted patterns, so the analysis tests know what to recover.
pub struct Planted {
    pub hotspots: Vec<(f64, f64)>,
    pub emerging: (f64, f64),
}

struct Draft {
    category: &'static str,
    /// Placed in a planted hot spot (never moved to the emerging one).
    planted: bool,
    year: i32,
    at: i64,
    building: usize,
    x: f64,
    y: f64,
}

/// The district's events: the seed years 2023 and 2024 from `rng` (exactly as they
/// always were), then the later years up to `present` (unix seconds; none when it is
/// not after 2025-01-01) from `later`, so the seed years' figures never depend on it.
#[allow(clippy::too_many_arguments)]
pub fn generate<R: Rng>(
    rng: &mut R,
    later: &mut R,
    geo: &Geography,
    reg: &Register,
    weights: &[f64],
    scale: f64,
    present: i64,
) -> (Vec<Event>, Vec<EventStep>, Planted) {
    let n2024 = ((12_151.0 * scale).round() as usize).max(10);
    let mut plan24: Vec<usize> = CATEGORY_PLAN
        .iter()
        .map(|(_, share, _)| (share * n2024 as f64).round() as usize)
        .collect();
    let sum: usize = plan24.iter().sum();
    plan24[0] = (plan24[0] + n2024).saturating_sub(sum);
    let plan23: Vec<usize> = plan24
        .iter()
        .zip(CATEGORY_PLAN.iter())
        .map(|(&n, (_, _, ratio))| (n as f64 / ratio).round() as usize)
        .collect();

    // Cumulative weights for background placement.
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    let total_w = cumulative
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let pick_building = |rng: &mut R| -> usize {
        let x = rng.gen_range(0.0..total_w);
        cumulative
            .partition_point(|&c| c <= x)
            .min(reg.buildings.len() - 1)
    };
    // Planted hotspots: heavily weighted urban buildings; the emerging one elsewhere.
    let mut hot: Vec<Plant> = Vec::new();
    for _ in 0..3 {
        for _attempt in 0..50 {
            let b = &reg.buildings[pick_building(rng)];
            // In the urban core and not by the river: a spot in a town's few blocks, or
            // with water over half its neighbourhood, has cells around it where no one
            // lives to report anything, and would not stand out at 99 %.
            let urban = geo.township_of_grid(b.grid).kind == TownshipKind::Street;
            if hot
                .iter()
                .all(|p| (p.x - b.x).hypot(p.y - b.y) > 1_500.0 * scale.sqrt().min(1.0))
                && urban
                && geo.river_distance(b.x, b.y) > 3.0 * HOTSPOT_RADIUS_M
            {
                hot.push(Plant {
                    x: b.x,
                    y: b.y,
                    radius: HOTSPOT_RADIUS_M,
                });
                break;
            }
        }
    }
    // The emerging one: outside the urban core and away from the planted hot spots,
    // picked by the same weights among such buildings (so it lands where people live).
    let (cx, cy) = (geo.frame.width / 2.0, geo.frame.height / 2.0);
    let far_from_hot = |x: f64, y: f64, d: f64| hot.iter().all(|p| (p.x - x).hypot(p.y - y) > d);
    let outside: Vec<usize> = (0..reg.buildings.len())
        .filter(|&i| {
            let b = &reg.buildings[i];
            (b.x - cx).hypot(b.y - cy) > EMERGING_MIN_CORE_RADII * geo.core_radius
                && far_from_hot(b.x, b.y, 1_500.0 * scale.sqrt().min(1.0))
        })
        .collect();
    let emerging_building = if outside.is_empty() {
        // A district too small to have an outside: anywhere away from the hot spots.
        (0..50)
            .map(|_| pick_building(rng))
            .find(|&i| {
                let b = &reg.buildings[i];
                far_from_hot(b.x, b.y, 1_200.0 * scale.sqrt().min(1.0))
            })
            .unwrap_or_else(|| pick_building(rng))
    } else {
        let total: f64 = outside.iter().map(|&i| weights[i]).sum();
        let mut x = rng.gen_range(0.0..total.max(f64::MIN_POSITIVE));
        let mut chosen = outside[outside.len() - 1];
        for &i in &outside {
            if x < weights[i] {
                chosen = i;
                break;
            }
            x -= weights[i];
        }
        chosen
    };
    let emerging = Plant {
        x: reg.buildings[emerging_building].x,
        y: reg.buildings[emerging_building].y,
        radius: EMERGING_RADIUS_M,
    };
    let near = |p: &Plant| -> Vec<usize> {
        reg.buildings
            .iter()
            .enumerate()
            .filter(|(_, b)| (b.x - p.x).hypot(b.y - p.y) <= p.radius)
            .map(|(i, _)| i)
            .collect()
    };
    let hot_sets: Vec<Vec<usize>> = hot.iter().map(near).collect();
    let emerging_set = near(&emerging);

    let mut drafts: Vec<Draft> = Vec::new();
    for (year, plan, start) in [(2023, &plan23, Y2023), (2024, &plan24, Y2024)] {
        let len = if year == 2024 {
            Y2025 - Y2024
        } else {
            Y2024 - Y2023
        };
        for (c, &n) in plan.iter().enumerate() {
            let category = CATEGORY_PLAN[c].0;
            for _ in 0..n {
                let at = start + rng.gen_range(0..len);
                let r: f64 = rng.gen_range(0.0..1.0);
                let planted = r < HOTSPOT_SHARE && !hot_sets.is_empty();
                let building = if planted {
                    let set = &hot_sets[rng.gen_range(0..hot_sets.len())];
                    set.choose(rng)
                        .copied()
                        .unwrap_or_else(|| pick_building(rng))
                } else {
                    pick_building(rng)
                };
                drafts.push(Draft {
                    category,
                    planted,
                    year,
                    at,
                    building,
                    x: 0.0,
                    y: 0.0,
                });
            }
        }
    }
    // The emerging hot spot: EMERGING_BASE + EMERGING_SLOPE · t events in month t,
    // each one a background event of the same year moved there (see EMERGING_BASE).
    if !emerging_set.is_empty() {
        use minqing_analysis::efficiency::{add_months, month_start};
        use minqing_analysis::population::YearMonth;
        for (year, first_month) in [(2023, 0usize), (2024, 12)] {
            let months: Vec<(i64, i64, usize)> = (first_month..first_month + 12)
                .map(|t| {
                    let start = month_start(add_months(YearMonth::new(2023, 1), t as i32));
                    let end = month_start(add_months(YearMonth::new(2023, 1), t as i32 + 1));
                    let n = (scale * (EMERGING_BASE + EMERGING_SLOPE * t as f64)).round();
                    (start, end, n as usize)
                })
                .collect();
            move_into_emerging(&mut drafts, year, &months, &emerging_set, rng);
        }
    }
    place_and_sort(&mut drafts, reg, geo, rng);

    // Which 2024 events stay open: exactly n − round(0.9686 n), favouring recent ones.
    let idx24: Vec<usize> = (0..drafts.len())
        .filter(|&i| drafts[i].year == 2024)
        .collect();
    let open24 = idx24.len() - (0.9686 * idx24.len() as f64).round() as usize;
    let open = pick_open(&drafts, idx24.into_iter(), open24, Y2025, rng);
    // Mediated disputes: exactly round(0.6369 × disputes) per year among closed ones.
    let mediated = pick_mediated(&drafts, &open, &[(2023, 0.61), (2024, 0.6369)], rng);

    let mut events = Vec::with_capacity(drafts.len());
    let mut steps = Vec::with_capacity(drafts.len() * 4);
    build(
        rng,
        &Built {
            drafts: &drafts,
            open: &open,
            mediated: &mediated,
            present: Y2025,
            strict: false,
        },
        geo,
        reg,
        &mut events,
        &mut steps,
    );
    if present > Y2025 {
        let hotspots = Hotspots {
            hot: &hot_sets,
            emerging: &emerging_set,
        };
        later_years(
            later,
            &hotspots,
            &plan24,
            &pick_building,
            scale,
            present,
            geo,
            reg,
            &mut events,
            &mut steps,
        );
    }
    let to_ll = |p: &Plant| geo.frame.lonlat(p.x, p.y);
    let planted = Planted {
        hotspots: hot.iter().map(to_ll).collect(),
        emerging: to_ll(&emerging),
    };
    (events, steps, planted)
}

/// The drafts of one run of years and what was decided for them, turned into events.
struct Built<'a> {
    drafts: &'a [Draft],
    open: &'a [bool],
    mediated: &'a [bool],
    /// The generator's present (unix seconds): nothing is closed or visited after it.
    present: i64,
    /// Clamp every step to the present (the later years; see [`build`]).
    strict: bool,
}

/// Each draft's event through the closed loop, with its history, in draft order.
fn build<R: Rng>(
    rng: &mut R,
    b: &Built<'_>,
    geo: &Geography,
    reg: &Register,
    events: &mut Vec<Event>,
    steps: &mut Vec<EventStep>,
) {
    let (drafts, open, mediated, present) = (b.drafts, b.open, b.mediated, b.present);
    // In the later years no step may lie after the present (the seed years keep their
    // figures as they always were, some steps of December 2024's open matters included).
    let clamp = |t: i64, last: i64| {
        if b.strict {
            t.min(present - 1).max(last)
        } else {
            t
        }
    };
    let mut seq_by_year: std::collections::BTreeMap<i32, u32> = Default::default();
    for (i, d) in drafts.iter().enumerate() {
        let seq = seq_by_year.entry(d.year).or_default();
        *seq += 1;
        let seq = *seq;
        let code = format!("510603{}{:06}", d.year, seq);
        let grid = geo
            .grid_at(d.x, d.y)
            .unwrap_or(reg.buildings[d.building].grid);
        let (lon, lat) = geo.frame.lonlat(d.x, d.y);
        let source = pick_source(rng);
        let tier = match rng.gen_range(0..100) {
            0..=81 => "small",
            82..=95 => "medium",
            _ => "large",
        };
        let deadline = d.at + deadline_days(d.category, tier) * DAY;
        let title = titles(d.category)
            .choose(rng)
            .copied()
            .unwrap_or("其他事项");
        let bd = &reg.buildings[d.building];
        let place = bd
            .parts
            .compound
            .clone()
            .or_else(|| bd.parts.road.clone())
            .unwrap_or_else(|| bd.parts.community.clone());
        let description = format!("{place}附近{title}，请求协调处理。");
        // Who owns the case, step by step (no randomness: the figures stay the seed's).
        let grid_code = geo.grids[grid].code.clone();
        let mut owner: Owner = match source {
            "grid_worker" => Owner {
                account: Some(format!("grid-{grid_code}")),
                display: None,
                unit_kind: "grid",
                unit: grid_code.clone(),
                label: format!("{}（网格）", geo.grids[grid].name),
            },
            "visitor" => Owner::of_account("reception", "reception", RECEPTION_UNIT),
            _ => Owner::of_account("leader", "department", LEADER_DEPARTMENT),
        };
        let mut history = Vec::new();
        let mut t = d.at;
        let mut last = d.at;
        let mut push =
            |t: i64, actor: &str, action: &str, from: Option<&str>, to: &str, note: String| {
                let t = clamp(t, last);
                last = t;
                history.push((
                    t,
                    actor.to_string(),
                    action.to_string(),
                    from.map(str::to_string),
                    to.to_string(),
                    note,
                ));
            };
        push(
            t,
            &format!("intake:{source}"),
            "accept",
            None,
            "accepted",
            format!("受理：{title}；{}", owner.note()),
        );
        let escalated = tier == "large";
        if escalated {
            t += rng.gen_range(600..DAY);
            owner = Owner::of_account("riskcentre", "risk_centre", RISK_CENTRE_UNIT);
            push(
                t,
                "centre",
                "escalate",
                Some("accepted"),
                "accepted",
                format!("重大事项，报送社会风险研判中心；{}", owner.note()),
            );
        }
        let is_dispute = d.category == "dispute";
        let mut status = "accepted";
        let mut org = None;
        let mut diversion = None;
        let mut closed_at = None;
        let handling = {
            // Log-normal handling time, median about a third of the deadline.
            let days = deadline_days(d.category, tier) as f64 * 0.33;
            let z: f64 =
                rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0);
            ((days * (0.55 * z).exp()) * DAY as f64) as i64
        };
        let end = d.at + handling.max(3_600);
        let end = if open[i] {
            end
        } else {
            end.min(present - 60).max(t + 60)
        };
        let finish = !open[i];
        if is_dispute && (finish || rng.gen_bool(0.6)) {
            let o = MEDIATION_ORGS[rng.gen_range(0..MEDIATION_ORGS.len())];
            t += ((end - t) / 5).max(60);
            owner = if o == super::DEMO_MEDIATOR_ORG {
                Owner::of_account("mediator", "mediation_org", o)
            } else {
                Owner {
                    account: None,
                    display: None,
                    unit_kind: "mediation_org",
                    unit: o.to_string(),
                    label: o.to_string(),
                }
            };
            push(
                t,
                "centre",
                "assign_mediation",
                Some(status),
                "mediating",
                format!("分派至{o}；{}", owner.note()),
            );
            status = "mediating";
            org = Some(o.to_string());
            if finish {
                t = t.max(end - 120);
                if mediated[i] {
                    push(
                        t,
                        "mediator",
                        "resolve",
                        Some(status),
                        "resolved",
                        "调解成功，签订调解协议".into(),
                    );
                    status = "resolved";
                } else {
                    let kind = DIVERSIONS[rng.gen_range(0..DIVERSIONS.len())];
                    push(
                        t,
                        "mediator",
                        "divert",
                        Some(status),
                        "diverted",
                        format!("调解未果，依法导入{kind}"),
                    );
                    status = "diverted";
                    diversion = Some(kind.to_string());
                }
            } else if d.category == "dispute" && rng.gen_bool(0.25) {
                let kind = DIVERSIONS[rng.gen_range(0..DIVERSIONS.len())];
                t += 3_600;
                push(
                    t,
                    "mediator",
                    "divert",
                    Some(status),
                    "diverted",
                    format!("调解未果，依法导入{kind}"),
                );
                status = "diverted";
                diversion = Some(kind.to_string());
            }
        } else if finish {
            t = t.max(end - 120);
            push(
                t,
                "handler",
                "resolve",
                Some(status),
                "resolved",
                "已处置".into(),
            );
            status = "resolved";
        }
        if finish {
            t = end.max(t + 60);
            push(t, "centre", "close", Some(status), "closed", "办结".into());
            status = "closed";
            closed_at = Some(clamp(t, d.at));
            if is_dispute && rng.gen_bool(0.6) {
                let visit = t + rng.gen_range(3..30) * DAY;
                if visit < present {
                    push(
                        visit,
                        "grid_worker",
                        "follow_up",
                        Some(status),
                        "followed_up",
                        "回访：当事人表示满意，矛盾已化解".into(),
                    );
                    status = "followed_up";
                }
            }
        }
        let last_at = history.last().map(|h| h.0).unwrap_or(d.at);
        let version = history.len() as i64;
        for (seq, (at, actor, action, from, to, note)) in history.into_iter().enumerate() {
            steps.push(EventStep {
                event_code: code.clone(),
                seq: seq as i64 + 1,
                at,
                actor,
                action,
                from_status: from,
                to_status: to,
                note,
            });
        }
        let n = seq as usize;
        // Satisfaction at closure, known for most closed matters; a follow-up visit due
        // for closed disputes of the last weeks that were not followed up yet.
        let satisfaction = closed_at.filter(|_| n % 7 != 3).map(|_| {
            match n % 10 {
                0..=6 => "satisfied",
                7 | 8 => "basically_satisfied",
                _ => "dissatisfied",
            }
            .to_string()
        });
        let next_visit = closed_at
            .filter(|c| status == "closed" && is_dispute && *c >= present - 45 * DAY)
            .map(|c| crate::time::format_date(c + 30 * DAY));
        let large_since = escalated.then_some(d.at);
        let case_leader = escalated.then(|| CASE_LEADERS[n % CASE_LEADERS.len()].to_string());
        events.push(Event {
            code,
            category: d.category.to_string(),
            source: source.to_string(),
            status: status.to_string(),
            risk_tier: tier.to_string(),
            title: title.to_string(),
            description,
            lon,
            lat,
            address_code: if rng.gen_bool(0.9) {
                Some(bd.code.clone())
            } else {
                None
            },
            grid_code: geo.grids[grid].code.clone(),
            reported_at: d.at,
            deadline,
            mediation_org: org,
            diversion,
            resolved_by_mediation: mediated[i],
            escalated,
            closed_at,
            version,
            updated_at: last_at,
            owner: owner.account,
            owner_display: owner.display,
            owner_unit_kind: Some(owner.unit_kind.to_string()),
            owner_unit: Some(owner.unit),
            case_leader,
            supervision: None,
            satisfaction,
            duplicate_of: None,
            next_visit,
            large_since,
        });
    }
}

/// Where the planted patterns are (building indices).
struct Hotspots<'a> {
    hot: &'a [Vec<usize>],
    emerging: &'a [usize],
}

/// The later years, 2025-01-01 up to `present`, at the level and mix of 2024: each
/// category's 2024 count per year (pro rata for the current year), the same share in
/// the planted hot spots, the emerging hot spot held at its December 2024 level, and of
/// the last twelve months' matters the same share (3.14 %) still open, most of them
/// recent; 63.69 % of the closed disputes settled by mediation. Event codes number on
/// per year (`5106032025000001`, …).
#[allow(clippy::too_many_arguments)]
fn later_years<R: Rng>(
    rng: &mut R,
    spots: &Hotspots<'_>,
    plan24: &[usize],
    pick_building: &dyn Fn(&mut R) -> usize,
    scale: f64,
    present: i64,
    geo: &Geography,
    reg: &Register,
    events: &mut Vec<Event>,
    steps: &mut Vec<EventStep>,
) {
    use minqing_analysis::efficiency::{add_months, month_start};
    use minqing_analysis::population::YearMonth;
    let mut drafts: Vec<Draft> = Vec::new();
    let mut year = 2025;
    loop {
        let start = month_start(YearMonth::new(year as u16, 1));
        if start >= present {
            break;
        }
        let year_end = month_start(YearMonth::new(year as u16 + 1, 1));
        let end = year_end.min(present);
        // A whole year has 2024's counts; the current one its part of them.
        let part = (end - start) as f64 / (year_end - start) as f64;
        for (c, &n24) in plan24.iter().enumerate() {
            let category = CATEGORY_PLAN[c].0;
            let n = (n24 as f64 * part).round() as usize;
            for _ in 0..n {
                let at = rng.gen_range(start..end);
                let planted = rng.gen_range(0.0..1.0) < HOTSPOT_SHARE && !spots.hot.is_empty();
                let building = if planted {
                    let set = &spots.hot[rng.gen_range(0..spots.hot.len())];
                    set.choose(rng)
                        .copied()
                        .unwrap_or_else(|| pick_building(rng))
                } else {
                    pick_building(rng)
                };
                drafts.push(Draft {
                    category,
                    planted,
                    year,
                    at,
                    building,
                    x: 0.0,
                    y: 0.0,
                });
            }
        }
        year += 1;
    }
    if !spots.emerging.is_empty() {
        // December 2024's level, every month (a month cut by the present pro rata), each
        // one a background event of the same year moved there, so each year's count stays.
        let level = scale * (EMERGING_BASE + EMERGING_SLOPE * 23.0);
        for y in 2025..year {
            let mut months = Vec::with_capacity(12);
            for m in 1..=12u8 {
                let start = month_start(YearMonth::new(y as u16, m));
                if start >= present {
                    break;
                }
                let end = month_start(add_months(YearMonth::new(y as u16, m), 1));
                let cut = end.min(present);
                let n = (level * (cut - start) as f64 / (end - start) as f64).round();
                months.push((start, cut, n as usize));
            }
            move_into_emerging(&mut drafts, y, &months, spots.emerging, rng);
        }
    }
    place_and_sort(&mut drafts, reg, geo, rng);
    // Open: of the last twelve months' matters the seed's 2024 share, favouring recent
    // ones (the same weighting as 2024's), drawn among all the later years' matters.
    let recent = drafts
        .iter()
        .filter(|d| d.at >= present - 365 * DAY)
        .count();
    let n_open = recent - (0.9686 * recent as f64).round() as usize;
    let open = pick_open(&drafts, 0..drafts.len(), n_open, present, rng);
    let rates: Vec<(i32, f64)> = (2025..year).map(|y| (y, 0.6369)).collect();
    let mediated = pick_mediated(&drafts, &open, &rates, rng);
    build(
        rng,
        &Built {
            drafts: &drafts,
            open: &open,
            mediated: &mediated,
            present,
            strict: true,
        },
        geo,
        reg,
        events,
        steps,
    );
}

/// Moves, month by month, `n` of `year`'s background events (shuffled, never a planted
/// one) into the emerging hot spot at a time in `[start, end)`, so each year's count
/// stays. `months` are `(start, end, n)`.
fn move_into_emerging<R: Rng>(
    drafts: &mut [Draft],
    year: i32,
    months: &[(i64, i64, usize)],
    emerging: &[usize],
    rng: &mut R,
) {
    let mut pool: Vec<usize> = (0..drafts.len())
        .filter(|&i| drafts[i].year == year && !drafts[i].planted)
        .collect();
    pool.shuffle(rng);
    let mut pool = pool.into_iter();
    for &(start, end, n) in months {
        for i in pool.by_ref().take(n) {
            drafts[i].at = rng.gen_range(start..end);
            drafts[i].building = emerging.choose(rng).copied().unwrap_or(drafts[i].building);
        }
    }
}

/// Puts each event within 15 m of its building (on the building when that would leave
/// the district) and orders them by time.
fn place_and_sort<R: Rng>(drafts: &mut [Draft], reg: &Register, geo: &Geography, rng: &mut R) {
    for d in drafts.iter_mut() {
        let b = &reg.buildings[d.building];
        d.x = b.x + rng.gen_range(-15.0..15.0);
        d.y = b.y + rng.gen_range(-15.0..15.0);
        if geo.grid_at(d.x, d.y).is_none() {
            d.x = b.x;
            d.y = b.y;
        }
    }
    drafts.sort_by_key(|d| (d.at, d.building));
}

/// Which of `candidates` stay open: exactly `n_open`, drawn with weights that favour
/// recent matters (age counted back from `present`; weighted sampling by `ln u / w`).
fn pick_open<R: Rng>(
    drafts: &[Draft],
    candidates: impl Iterator<Item = usize>,
    n_open: usize,
    present: i64,
    rng: &mut R,
) -> Vec<bool> {
    let mut keyed: Vec<(f64, usize)> = candidates
        .map(|i| {
            let age_days = (present - drafts[i].at) as f64 / DAY as f64;
            let w = (-age_days / 45.0).exp() + 0.02;
            let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
            (u.ln() / w, i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut open = vec![false; drafts.len()];
    for &(_, i) in keyed.iter().take(n_open) {
        open[i] = true;
    }
    open
}

/// Mediated disputes: exactly round(rate × disputes) of each year's, among closed ones.
fn pick_mediated<R: Rng>(
    drafts: &[Draft],
    open: &[bool],
    year_rates: &[(i32, f64)],
    rng: &mut R,
) -> Vec<bool> {
    let mut mediated = vec![false; drafts.len()];
    for &(year, rate) in year_rates {
        let disputes: Vec<usize> = (0..drafts.len())
            .filter(|&i| drafts[i].year == year && drafts[i].category == "dispute")
            .collect();
        let want = (rate * disputes.len() as f64).round() as usize;
        let mut closed: Vec<usize> = disputes.iter().copied().filter(|&i| !open[i]).collect();
        closed.shuffle(rng);
        for &i in closed.iter().take(want) {
            mediated[i] = true;
        }
    }
    mediated
}

/// Case-package leaders (包案领导) of the demo's large-risk matters.
const CASE_LEADERS: [&str; 4] = [
    "区委副书记",
    "区政府副区长",
    "区委政法委书记",
    "区公安分局局长",
];

/// The owner of a generated case: an account of the demo (`minqing demo` creates
/// them, see [`super::DEMO_DISPLAY_NAMES`]) or none, and its unit.
struct Owner {
    account: Option<String>,
    display: Option<String>,
    unit_kind: &'static str,
    unit: String,
    /// How the unit reads in a history note.
    label: String,
}

impl Owner {
    fn of_account(account: &str, unit_kind: &'static str, unit: &str) -> Owner {
        Owner {
            account: Some(account.to_string()),
            display: super::DEMO_DISPLAY_NAMES
                .iter()
                .find(|(a, _)| *a == account)
                .map(|(_, d)| d.to_string()),
            unit_kind,
            unit: unit.to_string(),
            label: unit.to_string(),
        }
    }

    /// The history note's words for this owner (as the service writes them).
    fn note(&self) -> String {
        let who = match (&self.account, &self.display) {
            (Some(a), Some(d)) => format!("负责人 {d}（{a}）"),
            (Some(a), None) => format!("负责人 {a}"),
            _ => "负责人 未指定".to_string(),
        };
        format!("{who}；责任单位 {}", self.label)
    }
}

fn pick_source<R: Rng>(rng: &mut R) -> &'static str {
    match rng.gen_range(0..100) {
        0..=7 => "higher_level",
        8..=29 => "township",
        30..=41 => "department",
        42..=79 => "grid_worker",
        _ => "visitor",
    }
}
