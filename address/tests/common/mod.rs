//! A small deterministic synthetic register for evaluation and benchmarks, with the
//! label formats of `parts.rs`: urban compounds (road + door + compound + building +
//! unit + room), street shop buildings (road + door, building level only), town houses
//! (road + door, one unit) and rural houses (village + group + house, one unit).
//!
//! Names are drawn from combinatorial pools with a deliberate share of repeats — the same
//! compound name in two townships, the same 正街/新街 in several towns — because real
//! districts have them and the matcher must abstain rather than guess on them.

#![allow(dead_code)]

pub mod noiser;

use minqing_address::{AddressParts, BuildingEntry, Register, UnitEntry};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Size of a synthetic district.
#[derive(Clone, Copy)]
pub struct Spec {
    pub streets: usize,
    pub towns: usize,
    pub communities_per_street: usize,
    pub compounds_per_community: usize,
    pub buildings_per_compound: (u32, u32),
    pub units_per_building: (u32, u32),
    pub floors: (u32, u32),
    pub rooms_per_floor: (u32, u32),
    pub shops_per_community: usize,
    pub villages_per_town: usize,
    pub groups_per_village: (u32, u32),
    pub houses_per_group: (u32, u32),
    pub town_houses: usize,
}

impl Spec {
    /// A few thousand buildings: quick enough for `cargo test`.
    pub fn small() -> Spec {
        Spec {
            streets: 6,
            towns: 5,
            communities_per_street: 5,
            compounds_per_community: 4,
            buildings_per_compound: (4, 16),
            units_per_building: (1, 3),
            floors: (5, 18),
            rooms_per_floor: (2, 4),
            shops_per_community: 6,
            villages_per_town: 6,
            groups_per_village: (3, 8),
            houses_per_group: (5, 20),
            town_houses: 60,
        }
    }

    /// Roughly the district's scale (≈122,000 buildings, ≈330,000 units).
    pub fn district() -> Spec {
        Spec {
            streets: 9,
            towns: 12,
            communities_per_street: 12,
            compounds_per_community: 10,
            buildings_per_compound: (8, 40),
            units_per_building: (1, 2),
            floors: (2, 6),
            rooms_per_floor: (1, 2),
            shops_per_community: 60,
            villages_per_town: 14,
            groups_per_village: (6, 12),
            houses_per_group: (30, 60),
            town_houses: 2500,
        }
    }
}

pub struct Synthetic {
    pub buildings: Vec<BuildingEntry>,
    pub units: Vec<UnitEntry>,
}

impl Synthetic {
    pub fn register(&self) -> Register {
        Register::new(self.buildings.clone(), self.units.clone()).expect("valid register")
    }

    /// The full parts of a unit (its building's parts plus unit and room).
    pub fn unit_parts(&self, u: &UnitEntry) -> AddressParts {
        let mut p = self.buildings[u.building].parts.clone();
        p.unit = u.unit;
        p.room = u.room;
        p
    }
}

const STREET_WORDS: &[&str] = &[
    "旌阳",
    "城北",
    "城南",
    "东湖",
    "工农",
    "八角井",
    "天元",
    "旌东",
    "旌西",
    "文庙",
    "华山",
    "泰山",
];
const TOWN_WORDS: &[&str] = &[
    "孝泉", "黄许", "德新", "双东", "新中", "和新", "扬嘉", "天元", "孝感", "柏隆", "金山", "永安",
    "古佛", "八角",
];
const PLACE_A: &[&str] = &[
    "锦绣", "阳光", "金色", "翠湖", "华府", "东湖", "凤凰", "龙泉", "文庙", "泰山", "长江", "黄河",
    "岷江", "庐山", "珠江", "嘉陵", "天山", "衡山", "青城", "峨眉", "玉龙", "金沙", "银杏", "梧桐",
    "桂花", "紫荆", "海棠", "芙蓉", "丽都", "恒通", "滨河", "碧水", "蓝湾", "明珠", "星河", "世纪",
    "新华", "建设", "和平", "团结", "光明", "胜利", "幸福", "民主", "红星", "五一", "八一", "七一",
    "九龙", "三星", "花园", "龙湖", "万达", "雅居", "博雅", "书香", "香榭", "清风", "明月", "雍景",
];
const PLACE_B: &[&str] = &[
    "", "东", "西", "南", "北", "新", "嘉", "华", "名", "雅", "丽", "御", "景", "春", "秀", "安",
    "康", "泰", "瑞", "祥",
];
const COMPOUND_SUFFIX: &[&str] = &[
    "小区", "花园", "苑", "家园", "公寓", "城", "广场", "新村", "名苑", "华庭",
];
const ROAD_SUFFIX: &[&str] = &[
    "东路", "西路", "南路", "北路", "路", "大道", "街", "中路", "巷",
];
const VILLAGE_A: &[&str] = &[
    "红光", "新民", "永兴", "和平", "双河", "石桥", "高槐", "白果", "清河", "金龙", "青松", "团山",
    "五里", "十里", "大桥", "观音", "万寿", "长乐", "安乐", "太平", "顺河", "龙井", "凤鸣", "桂林",
    "杨柳", "柏林", "三合", "四平", "六合", "九里",
];

struct Names {
    used: HashSet<String>,
}

impl Names {
    /// A fresh name from the pools; `repeat` is the chance to reuse an earlier one
    /// from `pool` (a deliberate duplicate).
    fn draw(
        &mut self,
        rng: &mut ChaCha8Rng,
        a: &[&str],
        b: &[&str],
        suffix: &[&str],
        repeat: f64,
        pool: &mut Vec<String>,
    ) -> String {
        if !pool.is_empty() && rng.gen_bool(repeat) {
            return pool.choose(rng).unwrap().clone();
        }
        for _ in 0..10_000 {
            let n = format!(
                "{}{}{}",
                a.choose(rng).unwrap(),
                b.choose(rng).unwrap(),
                suffix.choose(rng).unwrap()
            );
            if self.used.insert(n.clone()) {
                pool.push(n.clone());
                return n;
            }
        }
        // The pools are exhausted: make it unique with a number-free extra character.
        let extra = ["一", "二", "三", "四", "五"];
        let n = format!("{}{}", pool.len(), extra.choose(rng).unwrap());
        pool.push(n.clone());
        n
    }
}

fn between(rng: &mut ChaCha8Rng, r: (u32, u32)) -> u32 {
    rng.gen_range(r.0..=r.1)
}

/// Build a synthetic district deterministically from `seed`.
pub fn build(spec: Spec, seed: u64) -> Synthetic {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut names = Names {
        used: HashSet::new(),
    };
    let mut buildings = Vec::new();
    let mut units = Vec::new();
    let mut compound_pool = Vec::new();
    let mut road_pool = Vec::new();
    let mut community_pool = Vec::new();
    let mut village_pool = Vec::new();
    let mut street_words: Vec<&str> = STREET_WORDS.to_vec();
    street_words.shuffle(&mut rng);
    let mut town_words: Vec<&str> = TOWN_WORDS.to_vec();
    town_words.shuffle(&mut rng);

    let mut township_no = 0u32;
    let base = (104.40, 31.13);
    let push_building = |buildings: &mut Vec<BuildingEntry>,
                         rng: &mut ChaCha8Rng,
                         code: String,
                         parts: AddressParts,
                         centre: (f64, f64)| {
        buildings.push(BuildingEntry {
            code,
            parts,
            lon: centre.0 + rng.gen_range(-0.004..0.004),
            lat: centre.1 + rng.gen_range(-0.004..0.004),
        });
        buildings.len() - 1
    };

    // Urban streets.
    for si in 0..spec.streets {
        township_no += 1;
        let township = format!("{}街道", street_words[si % street_words.len()]);
        let tcode = format!("510603{township_no:03}");
        for ci in 0..spec.communities_per_street {
            let community = names.draw(
                &mut rng,
                PLACE_A,
                PLACE_B,
                &["社区"],
                0.0,
                &mut community_pool,
            );
            let ccode = format!("{tcode}{:03}", ci + 1);
            let centre = (
                base.0 + rng.gen_range(-0.05..0.05),
                base.1 + rng.gen_range(-0.05..0.05),
            );
            let roads: Vec<String> = (0..3)
                .map(|_| {
                    names.draw(
                        &mut rng,
                        PLACE_A,
                        &["", "东", "西", "南", "北"],
                        ROAD_SUFFIX,
                        0.0,
                        &mut road_pool,
                    )
                })
                .collect();
            let mut bno = 0u32;
            let mut door_used: HashSet<(usize, u32)> = HashSet::new();
            let mut next_door = |rng: &mut ChaCha8Rng, r: usize| loop {
                let d = rng.gen_range(1..400);
                if door_used.insert((r, d)) {
                    return d;
                }
            };
            for _ in 0..spec.compounds_per_community {
                let compound = names.draw(
                    &mut rng,
                    PLACE_A,
                    PLACE_B,
                    COMPOUND_SUFFIX,
                    0.03,
                    &mut compound_pool,
                );
                let r = rng.gen_range(0..roads.len());
                let door = next_door(&mut rng, r);
                let nb = between(&mut rng, spec.buildings_per_compound);
                for b in 1..=nb {
                    bno += 1;
                    let grid = 1 + bno / 40;
                    let code = format!("{ccode}{grid:03}{bno:04}");
                    let parts = AddressParts {
                        township: township.clone(),
                        community: community.clone(),
                        road: Some(roads[r].clone()),
                        door: Some(door),
                        compound: Some(compound.clone()),
                        building: Some(b),
                        ..Default::default()
                    };
                    let bi = push_building(&mut buildings, &mut rng, code.clone(), parts, centre);
                    let nu = between(&mut rng, spec.units_per_building);
                    let floors = between(&mut rng, spec.floors);
                    let per_floor = between(&mut rng, spec.rooms_per_floor);
                    // A single-staircase building may or may not number its one unit.
                    let labelled = nu > 1 || rng.gen_bool(0.7);
                    let mut k = 0u32;
                    for u in 1..=nu {
                        for f in 1..=floors {
                            for rm in 1..=per_floor {
                                k += 1;
                                units.push(UnitEntry {
                                    code: format!("{code}{k:06}"),
                                    building: bi,
                                    unit: labelled.then_some(u),
                                    room: Some(f * 100 + rm),
                                });
                            }
                        }
                    }
                }
            }
            // Street shop/office buildings: building level only.
            for _ in 0..spec.shops_per_community {
                bno += 1;
                let r = rng.gen_range(0..roads.len());
                let door = next_door(&mut rng, r);
                let grid = 1 + bno / 40;
                let parts = AddressParts {
                    township: township.clone(),
                    community: community.clone(),
                    road: Some(roads[r].clone()),
                    door: Some(door),
                    ..Default::default()
                };
                push_building(
                    &mut buildings,
                    &mut rng,
                    format!("{ccode}{grid:03}{bno:04}"),
                    parts,
                    centre,
                );
            }
        }
    }

    // Towns: a town community with houses on 正街/新街-style roads, and villages.
    let town_roads = ["正街", "新街", "老街", "河街", "中街", "南街"];
    for ti in 0..spec.towns {
        township_no += 1;
        let township = format!("{}镇", town_words[ti % town_words.len()]);
        let tcode = format!("510603{township_no:03}");
        let centre = (
            base.0 + rng.gen_range(-0.3..0.3),
            base.1 + rng.gen_range(-0.3..0.3),
        );
        let community = format!("{}社区", town_words[ti % town_words.len()]);
        let ccode = format!("{tcode}001");
        let roads: Vec<&str> = town_roads.choose_multiple(&mut rng, 3).copied().collect();
        let mut bno = 0u32;
        let mut doors: HashSet<(usize, u32)> = HashSet::new();
        for _ in 0..spec.town_houses {
            let r = rng.gen_range(0..roads.len());
            let door = loop {
                let d = rng.gen_range(1..(spec.town_houses as u32 * 2 + 50));
                if doors.insert((r, d)) {
                    break d;
                }
            };
            bno += 1;
            let code = format!("{ccode}{:03}{bno:04}", 1 + bno / 200);
            let parts = AddressParts {
                township: township.clone(),
                community: community.clone(),
                road: Some(roads[r].to_string()),
                door: Some(door),
                ..Default::default()
            };
            let bi = push_building(&mut buildings, &mut rng, code.clone(), parts, centre);
            units.push(UnitEntry {
                code: format!("{code}000001"),
                building: bi,
                unit: None,
                room: None,
            });
        }
        for vi in 0..spec.villages_per_town {
            let village = names.draw(
                &mut rng,
                VILLAGE_A,
                &["", "", "新", "大", "小", "桥", "坝", "湾", "山", "河"],
                &["村"],
                0.0,
                &mut village_pool,
            );
            let vcode = format!("{tcode}{:03}", vi + 2);
            let mut hno = 0u32;
            for g in 1..=between(&mut rng, spec.groups_per_village) {
                for h in 1..=between(&mut rng, spec.houses_per_group) {
                    hno += 1;
                    let code = format!("{vcode}{:03}{hno:04}", 1 + hno / 300);
                    let parts = AddressParts {
                        township: township.clone(),
                        community: village.clone(),
                        group: Some(g),
                        house: Some(h),
                        ..Default::default()
                    };
                    let bi = push_building(&mut buildings, &mut rng, code.clone(), parts, centre);
                    units.push(UnitEntry {
                        code: format!("{code}000001"),
                        building: bi,
                        unit: None,
                        room: None,
                    });
                }
            }
        }
    }
    Synthetic { buildings, units }
}
