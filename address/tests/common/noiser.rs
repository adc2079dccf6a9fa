//! An evaluation-set writer that shares nothing with the matcher's text handling: it
//! does not call `parse`, `hanzi` or `noise` of the crate. Its character tables
//! (traditional forms, look-alikes, Chinese numerals, full-width forms) are written
//! here afresh, so a blind spot of the matcher's tables is not hidden by the same
//! blind spot in the data it is measured on. Homophones come from the `pinyin` crate,
//! which is a dictionary, not the matcher's normalisation.
//!
//! A case is made in two steps. First the *facts* the writer puts down are chosen from
//! the truth: levels dropped, a door written as a span, a road by its old name. A
//! simple reader of its own (`Reader`) labels the facts against the register entries:
//! the one building (and unit) they fit, or "should abstain". Then the facts are
//! rendered as text with surface noise, which by construction does not change them —
//! except a separator inside a number (`4，6号`), which damages the number; such a
//! case is flagged `damaged` and must never be answered with confidence ≥ 0.9.
//!
//! Rates (per case, independently; each only where it applies):
//!
//! | kind | rate |
//! |---|---|
//! | prefix cut or dropped | 0.40 |
//! | township dropped | 0.25 |
//! | community dropped (urban, something more specific left) | 0.20 |
//! | road + door dropped (compound named) | 0.15 |
//! | compound dropped (road named) | 0.08 |
//! | unit dropped (room alone) | 0.05 |
//! | separators between parts | 0.15 |
//! | separator inside a name (光 明村, 齐，福村) | 0.08 |
//! | separator inside a number (damaged: 4，6号) | 0.03 |
//! | full-width digits | 0.10 |
//! | Chinese numerals | 0.15 |
//! | synonyms (幢/号楼/座, 门, 号/户/none) | 0.20 |
//! | dashed shorthand (12-3-1001) | 0.10 |
//! | floor written out (5楼502, 5层2号) | 0.05 |
//! | traditional characters | 0.05 |
//! | homophone typo (同音字) | 0.05 |
//! | look-alike typo (形近字) | 0.04 |
//! | dropped character in a name | 0.04 |
//! | doubled character in a name | 0.04 |
//! | levels out of order | 0.08 |
//! | door number span (12-14号) | 0.04 |
//! | landmark words (附近, 对面, 斜对面…) | 0.08 |
//! | road written by its alias / old name | 0.10 |
//! | a wrong fact: another township or community, the door off by one or two | 0.05 |

#![allow(dead_code)]

use minqing_address::eval::Expect;
use minqing_address::{AddressParts, Aliases, BuildingEntry, UnitEntry};
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::{HashMap, HashSet};

/// One kind of noise, for per-kind reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Prefix,
    NoTownship,
    NoCommunity,
    NoRoad,
    NoCompound,
    NoUnit,
    SepBetween,
    SepInName,
    SepInNumber,
    FullWidth,
    Numerals,
    Synonyms,
    Dashed,
    FloorRoom,
    Traditional,
    Homophone,
    LookAlike,
    Dropped,
    Doubled,
    OutOfOrder,
    DoorSpan,
    Landmark,
    Alias,
    WrongFact,
}

impl Kind {
    pub const ALL: [Kind; 24] = [
        Kind::Prefix,
        Kind::NoTownship,
        Kind::NoCommunity,
        Kind::NoRoad,
        Kind::NoCompound,
        Kind::NoUnit,
        Kind::SepBetween,
        Kind::SepInName,
        Kind::SepInNumber,
        Kind::FullWidth,
        Kind::Numerals,
        Kind::Synonyms,
        Kind::Dashed,
        Kind::FloorRoom,
        Kind::Traditional,
        Kind::Homophone,
        Kind::LookAlike,
        Kind::Dropped,
        Kind::Doubled,
        Kind::OutOfOrder,
        Kind::DoorSpan,
        Kind::Landmark,
        Kind::Alias,
        Kind::WrongFact,
    ];

    pub fn rate(self) -> f64 {
        match self {
            Kind::Prefix => 0.40,
            Kind::NoTownship => 0.25,
            Kind::NoCommunity => 0.20,
            Kind::NoRoad => 0.15,
            Kind::NoCompound => 0.08,
            Kind::NoUnit => 0.05,
            Kind::SepBetween => 0.15,
            Kind::SepInName => 0.08,
            Kind::SepInNumber => 0.03,
            Kind::FullWidth => 0.10,
            Kind::Numerals => 0.15,
            Kind::Synonyms => 0.20,
            Kind::Dashed => 0.10,
            Kind::FloorRoom => 0.05,
            Kind::Traditional => 0.05,
            Kind::Homophone => 0.05,
            Kind::LookAlike => 0.04,
            Kind::Dropped => 0.04,
            Kind::Doubled => 0.04,
            Kind::OutOfOrder => 0.08,
            Kind::DoorSpan => 0.04,
            Kind::Landmark => 0.08,
            Kind::Alias => 0.10,
            Kind::WrongFact => 0.05,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Prefix => "prefix",
            Kind::NoTownship => "no_township",
            Kind::NoCommunity => "no_community",
            Kind::NoRoad => "no_road",
            Kind::NoCompound => "no_compound",
            Kind::NoUnit => "no_unit",
            Kind::SepBetween => "sep_between",
            Kind::SepInName => "sep_in_name",
            Kind::SepInNumber => "sep_in_number",
            Kind::FullWidth => "full_width",
            Kind::Numerals => "numerals",
            Kind::Synonyms => "synonyms",
            Kind::Dashed => "dashed",
            Kind::FloorRoom => "floor_room",
            Kind::Traditional => "traditional",
            Kind::Homophone => "homophone",
            Kind::LookAlike => "look_alike",
            Kind::Dropped => "dropped_char",
            Kind::Doubled => "doubled_char",
            Kind::OutOfOrder => "out_of_order",
            Kind::DoorSpan => "door_span",
            Kind::Landmark => "landmark",
            Kind::Alias => "alias",
            Kind::WrongFact => "wrong_fact",
        }
    }
}

/// One labelled case.
#[derive(Debug, Clone)]
pub struct Case {
    pub text: String,
    pub expect: Expect,
    /// A number was cut by a separator: no answer may be confident.
    pub damaged: bool,
    /// The kinds applied.
    pub kinds: Vec<Kind>,
}

// ---------------------------------------------------------------------------------
// Tables, written for this file.
// ---------------------------------------------------------------------------------

const TRADITIONAL: &[(char, char)] = &[
    ('阳', '陽'),
    ('区', '區'),
    ('号', '號'),
    ('单', '單'),
    ('园', '園'),
    ('华', '華'),
    ('东', '東'),
    ('门', '門'),
    ('龙', '龍'),
    ('长', '長'),
    ('桥', '橋'),
    ('湾', '灣'),
    ('凤', '鳳'),
    ('乐', '樂'),
    ('兴', '興'),
    ('层', '層'),
    ('楼', '樓'),
    ('栋', '棟'),
    ('庙', '廟'),
    ('广', '廣'),
    ('场', '場'),
    ('苏', '蘇'),
    ('丽', '麗'),
    ('锦', '錦'),
    ('绣', '繡'),
    ('湖', '湖'),
    ('乡', '鄉'),
    ('镇', '鎮'),
    ('杨', '楊'),
    ('广', '廣'),
    ('书', '書'),
    ('银', '銀'),
    ('观', '觀'),
    ('万', '萬'),
    ('寿', '壽'),
    ('云', '雲'),
    ('车', '車'),
    ('义', '義'),
    ('业', '業'),
    ('岭', '嶺'),
    ('街', '街'),
    ('里', '裏'),
    ('余', '餘'),
    ('丰', '豐'),
];

/// Look-alike pairs (形近字), either direction.
const LOOK_ALIKE: &[(char, char)] = &[
    ('锦', '绵'),
    ('绣', '锈'),
    ('园', '圆'),
    ('苑', '宛'),
    ('湖', '胡'),
    ('光', '先'),
    ('明', '朋'),
    ('龙', '尤'),
    ('凤', '风'),
    ('桂', '挂'),
    ('杨', '扬'),
    ('柏', '伯'),
    ('河', '何'),
    ('清', '请'),
    ('庐', '芦'),
    ('峨', '娥'),
    ('梧', '悟'),
    ('桐', '铜'),
    ('紫', '柴'),
    ('棠', '堂'),
    ('蓉', '容'),
    ('恒', '桓'),
    ('滨', '宾'),
    ('碧', '璧'),
    ('湾', '弯'),
    ('珠', '株'),
    ('新', '亲'),
    ('建', '健'),
    ('团', '因'),
    ('胜', '性'),
    ('幸', '辛'),
    ('民', '氏'),
    ('雅', '鸦'),
    ('博', '傅'),
    ('香', '杳'),
    ('石', '右'),
    ('槐', '愧'),
    ('白', '自'),
    ('金', '全'),
    ('松', '讼'),
    ('观', '现'),
    ('万', '方'),
    ('天', '夭'),
    ('大', '太'),
    ('王', '玉'),
    ('日', '曰'),
    ('己', '已'),
    ('人', '入'),
    ('土', '士'),
    ('未', '末'),
    ('泉', '原'),
    ('岷', '珉'),
    ('银', '很'),
    ('海', '诲'),
    ('秀', '季'),
    ('星', '昱'),
    ('世', '丗'),
    ('庆', '厌'),
    ('平', '乎'),
    ('华', '毕'),
    ('安', '按'),
    ('阳', '阴'),
];

/// Common characters besides the register's own, as homophone substitutes.
const COMMON: &str = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气每并别真打太新比才便夫再书部水像眼等体却加电主界门利海受听表德少克代员许先口由死安写性马光白或住难望教命花结乐色更拉东神记处让母父应直字场平报友关放至张认接告入笑内英军候民岁往何度山觉路带万男边风解叫任金快原吃妈变通师立象数四失满战远格士音轻目条呢病始达深完今提求清王化空业思切怎非找片罗钱紶吗语元喜曾离飞科言干流欢约各即指合反题必该论交终林请医晚制球决窗传画保读运及则房早院量苦火布品近坐产答星精视五连司巴奇管类未朋且婚台夜青北队久乎越观落尽形影红爸百令周吧识步希亚术留市半热送兴造谈容极随演收首根讲整式取照办强石古华諾拿计您装似足双妻尼转诉米称丽客南领节衣站黑刻统断福城故历惊脸选包紧争另建维绝树系伤示愿持千史谁准联妇纪基买志静阿诗独复痛消社算义竟确酒需单治卡幸兰念举仅钟怕共毛句息功官待究跟穿室易游程号居考突皮哪费倒价图具刚脑永歌响商礼细专黄块脚味灵改据般破引食仍存众注笔甚某沉血备习校默务土微娘须试怀料调广苏显赛查密议底列富梦错座参八除跑亮假印设线温虽掉京初养香停际致阵左模云低湖河江海洋波浪港湾洲岛桥宾滨杨洋扬羊央秧阳仰养样";

fn to_traditional(c: char) -> Option<char> {
    TRADITIONAL
        .iter()
        .find(|(s, t)| *s == c && s != t)
        .map(|&(_, t)| t)
}

fn look_alike(c: char) -> Vec<char> {
    LOOK_ALIKE
        .iter()
        .filter_map(|&(a, b)| {
            if a == c {
                Some(b)
            } else if b == c {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

const CN: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// 18 → 十八, 102 → 一百零二, 210 → 二百一十, 1001 → 一千零一.
fn cn_value(n: u32) -> String {
    if n < 10 {
        return CN[n as usize].to_string();
    }
    let digits: Vec<u32> = n.to_string().bytes().map(|b| u32::from(b - b'0')).collect();
    let units = ['千', '百', '十', ' '];
    let mut out = String::new();
    let k = digits.len();
    let mut zero_pending = false;
    for (i, &d) in digits.iter().enumerate() {
        let unit = units[4 - (k - i)];
        if d == 0 {
            zero_pending = !out.is_empty();
            continue;
        }
        if zero_pending {
            out.push('零');
            zero_pending = false;
        }
        // 十八, not 一十八, at the front of a two-digit number.
        if !(k == 2 && i == 0 && d == 1) {
            out.push(CN[d as usize]);
        }
        if unit != ' ' {
            out.push(unit);
        }
    }
    out
}

/// 502 → 五〇二 (or 五零二).
fn cn_digits(n: u32, zero: char) -> String {
    n.to_string()
        .bytes()
        .map(|b| {
            let d = (b - b'0') as usize;
            if d == 0 { zero } else { CN[d] }
        })
        .collect()
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            '-' => '－',
            _ => c,
        })
        .collect()
}

fn pick<R: Rng>(rng: &mut R, xs: &[&'static str]) -> &'static str {
    xs[rng.gen_range(0..xs.len())]
}

/// Whether `a` and `b` differ by at most one substitution, insertion or deletion.
fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => short.iter().zip(long).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let p = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            short[p..] == long[p + 1..]
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------
// The reader that labels facts.
// ---------------------------------------------------------------------------------

/// The facts a writer puts down: names and numbers, `door` possibly a span.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub township: String,
    pub community: String,
    pub road: Option<String>,
    pub door: Option<(u32, u32)>,
    pub compound: Option<String>,
    pub building: Option<u32>,
    pub group: Option<u32>,
    pub house: Option<u32>,
    pub unit: Option<u32>,
    pub room: Option<u32>,
}

pub struct Reader<'a> {
    buildings: &'a [BuildingEntry],
    units: &'a [UnitEntry],
    units_of: Vec<Vec<usize>>,
    by_name: HashMap<&'a str, Vec<usize>>,
    pub names: HashSet<String>,
    /// Road → its alias (old name), for the roads that have one.
    pub road_alias: HashMap<String, String>,
    townships: Vec<String>,
    communities: Vec<String>,
    homophones: HashMap<String, Vec<char>>,
}

impl<'a> Reader<'a> {
    fn other<R: Rng>(&self, from: &[String], not: &str, rng: &mut R) -> String {
        loop {
            let x = &from[rng.gen_range(0..from.len())];
            if x != not || from.len() < 2 {
                return x.clone();
            }
        }
    }

    pub fn new(buildings: &'a [BuildingEntry], units: &'a [UnitEntry]) -> Reader<'a> {
        let mut units_of = vec![Vec::new(); buildings.len()];
        for (i, u) in units.iter().enumerate() {
            units_of[u.building].push(i);
        }
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut names = HashSet::new();
        for (i, b) in buildings.iter().enumerate() {
            let p = &b.parts;
            for n in [
                Some(p.township.as_str()),
                Some(p.community.as_str()),
                p.road.as_deref(),
                p.compound.as_deref(),
            ]
            .into_iter()
            .flatten()
            {
                if n.is_empty() {
                    continue;
                }
                let v = by_name.entry(n).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
                names.insert(n.to_string());
            }
        }
        let mut homophones: HashMap<String, Vec<char>> = HashMap::new();
        {
            use pinyin::ToPinyin;
            let mut seen = HashSet::new();
            let pool: String = names.iter().map(String::as_str).collect::<String>() + COMMON;
            for c in pool.chars() {
                if seen.insert(c)
                    && let Some(py) = c.to_pinyin()
                {
                    homophones
                        .entry(py.plain().to_string())
                        .or_default()
                        .push(c);
                }
            }
            for v in homophones.values_mut() {
                v.sort_unstable();
            }
        }
        let mut townships: Vec<String> = buildings
            .iter()
            .map(|b| b.parts.township.clone())
            .filter(|t| !t.is_empty())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        townships.sort();
        let mut communities: Vec<String> = buildings
            .iter()
            .map(|b| b.parts.community.clone())
            .filter(|t| !t.is_empty())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        communities.sort();
        Reader {
            townships,
            communities,
            buildings,
            units,
            units_of,
            by_name,
            names,
            road_alias: HashMap::new(),
            homophones,
        }
    }

    /// Give every `every`-th road (in sorted order) an old name, unique and not a name
    /// of the register; returns the table for the register.
    pub fn make_aliases(&mut self, every: usize) -> Aliases {
        const OLD: &[&str] = &[
            "解放", "人民", "红旗", "建国", "中山", "东风", "文化", "工业", "府河", "迎宾", "友谊",
            "振兴", "兴隆", "复兴", "朝阳", "健康", "跃进", "前进", "卫东", "向阳",
        ];
        const ROAD_END: &[&str] = &["路", "街", "大道", "巷"];
        let mut roads: Vec<String> = self
            .buildings
            .iter()
            .filter_map(|b| b.parts.road.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        roads.sort();
        let mut table = Aliases::new();
        let mut used = HashSet::new();
        let mut k = 0usize;
        for (i, r) in roads.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let end = ROAD_END.iter().find(|e| r.ends_with(**e)).unwrap_or(&"路");
            loop {
                let a = format!(
                    "{}{}{}",
                    OLD[k % OLD.len()],
                    OLD[(k / OLD.len() + 3) % OLD.len()],
                    end
                );
                k += 1;
                if !self.names.contains(&a) && used.insert(a.clone()) {
                    table.insert(a.clone(), r.clone());
                    self.road_alias.insert(r.clone(), a);
                    break;
                }
            }
        }
        table
    }

    fn fits(&self, p: &AddressParts, w: &Facts) -> bool {
        (w.township.is_empty() || p.township == w.township)
            && (w.community.is_empty() || p.community == w.community)
            && (w.road.is_none() || p.road == w.road)
            && w.door
                .is_none_or(|(a, z)| p.door.is_some_and(|d| a <= d && d <= z))
            && (w.compound.is_none() || p.compound == w.compound)
            && (w.building.is_none() || p.building == w.building)
            && (w.group.is_none() || p.group == w.group)
            && (w.house.is_none() || p.house == w.house)
    }

    fn pool(&self, w: &Facts) -> &[usize] {
        [
            w.compound.as_deref(),
            w.road.as_deref(),
            Some(w.community.as_str()),
            Some(w.township.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter(|n| !n.is_empty())
        .map(|n| self.by_name.get(n).map_or(&[][..], Vec::as_slice))
        .min_by_key(|v| v.len())
        .unwrap_or(&[])
    }

    /// What the facts resolve to: one building (and unit when the unit and room pick
    /// exactly one), or abstain when none or several buildings fit.
    pub fn label(&self, w: &Facts) -> Expect {
        let anchors = [
            w.compound.as_deref(),
            w.road.as_deref(),
            Some(w.community.as_str()),
            Some(w.township.as_str()),
        ];
        let Some(pool) = anchors
            .into_iter()
            .flatten()
            .filter(|n| !n.is_empty())
            .map(|n| self.by_name.get(n).map_or(&[][..], Vec::as_slice))
            .min_by_key(|v| v.len())
        else {
            return Expect::Abstain;
        };
        let fit: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&i| self.fits(&self.buildings[i].parts, w))
            .collect();
        let b = match fit.len() {
            1 => fit[0],
            0 => {
                // One fact is wrong: the buildings that fit all the others, with the
                // township, the community (not a village: a rural address's only
                // name) or the door (when compound and building are written) set aside.
                let mut relaxed: Vec<usize> = Vec::new();
                let mut try_without = |v: Facts| {
                    let pool = self.pool(&v);
                    relaxed.extend(
                        pool.iter()
                            .copied()
                            .filter(|&i| self.fits(&self.buildings[i].parts, &v)),
                    );
                };
                if !w.township.is_empty() {
                    try_without(Facts {
                        township: String::new(),
                        ..w.clone()
                    });
                }
                if !w.community.is_empty() && w.group.is_none() {
                    try_without(Facts {
                        community: String::new(),
                        ..w.clone()
                    });
                }
                if w.door.is_some() && w.compound.is_some() && w.building.is_some() {
                    try_without(Facts {
                        door: None,
                        ..w.clone()
                    });
                }
                relaxed.sort_unstable();
                relaxed.dedup();
                if relaxed.len() != 1 {
                    return Expect::Abstain;
                }
                relaxed[0]
            }
            _ => return Expect::Abstain,
        };
        let us = &self.units_of[b];
        if us.len() == 1 && self.units[us[0]].unit.is_none() && self.units[us[0]].room.is_none() {
            return Expect::Unit(us[0]);
        }
        if let Some(room) = w.room {
            let hits: Vec<usize> = us
                .iter()
                .copied()
                .filter(|&ui| {
                    let u = &self.units[ui];
                    u.room == Some(room) && (w.unit.is_none() || u.unit == w.unit)
                })
                .collect();
            if hits.len() == 1 {
                return Expect::Unit(hits[0]);
            }
        }
        Expect::Building(b)
    }

    // -----------------------------------------------------------------------------
    // Cases.
    // -----------------------------------------------------------------------------

    /// A typo'd form of `name` that is no name of the register, by `kind`.
    fn spoil<R: Rng>(&self, name: &str, kind: Kind, rng: &mut R) -> Option<String> {
        use pinyin::ToPinyin;
        let cs: Vec<char> = name.chars().collect();
        // The last character is usually the type word (路, 园, 村): keep it.
        let body = cs.len().checked_sub(1)?;
        let mut positions: Vec<usize> = (0..body).collect();
        positions.shuffle(rng);
        for i in positions {
            let mut out = cs.clone();
            match kind {
                Kind::Homophone | Kind::LookAlike => {
                    if cs.len() < 3 {
                        return None;
                    }
                    let alts: Vec<char> = if kind == Kind::Homophone {
                        cs[i]
                            .to_pinyin()
                            .and_then(|py| self.homophones.get(py.plain()))
                            .map(|v| v.iter().copied().filter(|&x| x != cs[i]).collect())
                            .unwrap_or_default()
                    } else {
                        look_alike(cs[i])
                    };
                    if alts.is_empty() {
                        continue;
                    }
                    out[i] = alts[rng.gen_range(0..alts.len())];
                }
                Kind::Dropped => {
                    if cs.len() < 4 {
                        return None;
                    }
                    out.remove(i);
                }
                Kind::Doubled => {
                    if cs.len() < 3 {
                        return None;
                    }
                    out.insert(i, cs[i]);
                }
                _ => return None,
            }
            // A slip a reader can undo: no other name is as close to it (one edit),
            // and it neither is nor contains a real name.
            let spoilt: Vec<char> = out.clone();
            let s: String = out.into_iter().collect();
            let clear = !self.names.contains(&s)
                && !self.names.iter().any(|n| {
                    s.contains(n.as_str())
                        || (n != name && within_one_edit(&spoilt, &n.chars().collect::<Vec<_>>()))
                });
            if clear {
                return Some(s);
            }
        }
        None
    }

    /// One case for a random unit or unit-less building, with kinds drawn at their
    /// rates (`force` is always tried too, for per-kind sets).
    pub fn case<R: Rng>(&self, rng: &mut R, force: Option<Kind>) -> Option<Case> {
        // Target: most records are residents (a unit), some enterprises (a building).
        let (truth, unit) = if rng.gen_bool(0.85) {
            let ui = rng.gen_range(0..self.units.len());
            let u = &self.units[ui];
            let mut p = self.buildings[u.building].parts.clone();
            p.unit = u.unit;
            p.room = u.room;
            (p, true)
        } else {
            let bi = rng.gen_range(0..self.buildings.len());
            (self.buildings[bi].parts.clone(), false)
        };
        let _ = unit;
        let want = |k: Kind, rng: &mut R| force == Some(k) || rng.gen_bool(k.rate());
        let mut kinds = Vec::new();
        let mut w = Facts {
            township: truth.township.clone(),
            community: truth.community.clone(),
            road: truth.road.clone(),
            door: truth.door.map(|d| (d, d)),
            compound: truth.compound.clone(),
            building: truth.building,
            group: truth.group,
            house: truth.house,
            unit: truth.unit,
            room: truth.room,
        };
        let has_compound = w.compound.is_some() && w.building.is_some();
        let has_road = w.road.is_some() && w.door.is_some();
        let rural = w.group.is_some();
        if want(Kind::NoTownship, rng) && !w.township.is_empty() {
            w.township.clear();
            kinds.push(Kind::NoTownship);
        }
        if want(Kind::NoCommunity, rng) && !rural && (has_road || has_compound) {
            w.community.clear();
            kinds.push(Kind::NoCommunity);
        }
        if want(Kind::NoRoad, rng) && has_compound && has_road {
            w.road = None;
            w.door = None;
            kinds.push(Kind::NoRoad);
        } else if want(Kind::NoCompound, rng) && has_compound && has_road {
            w.compound = None;
            w.building = None;
            kinds.push(Kind::NoCompound);
        }
        if want(Kind::NoUnit, rng) && w.unit.is_some() && w.room.is_some() {
            w.unit = None;
            kinds.push(Kind::NoUnit);
        }
        if want(Kind::DoorSpan, rng)
            && let Some((d, _)) = w.door
        {
            // The building's door is inside the span: 12-14号 for 12, 13 or 14.
            let below = rng.gen_range(0..=2u32).min(d.saturating_sub(1));
            let width = rng.gen_range(1..=4u32);
            w.door = Some((d - below, d - below + width.max(below)));
            kinds.push(Kind::DoorSpan);
        }
        if want(Kind::WrongFact, rng) {
            match rng.gen_range(0..3) {
                0 if !w.township.is_empty() => {
                    w.township = self.other(&self.townships, &w.township, rng);
                    kinds.push(Kind::WrongFact);
                }
                1 if !w.community.is_empty() => {
                    w.community = self.other(&self.communities, &w.community, rng);
                    kinds.push(Kind::WrongFact);
                }
                _ => {
                    if let Some((a, z)) = w.door {
                        let step = rng.gen_range(1..=2);
                        w.door = Some(if a > step && rng.gen_bool(0.5) {
                            (a - step, z - step)
                        } else {
                            (a + step, z + step)
                        });
                        kinds.push(Kind::WrongFact);
                    }
                }
            }
        }
        let text = self.render(&w, &mut kinds, rng, force)?;
        let damaged = kinds.contains(&Kind::SepInNumber);
        // A number cut in two (4，6号) cannot be read back: 46 or 6? No reader knows.
        let expect = if damaged {
            Expect::Abstain
        } else {
            self.label(&w)
        };
        Some(Case {
            text,
            expect,
            damaged,
            kinds,
        })
    }

    fn render<R: Rng>(
        &self,
        w: &Facts,
        kinds: &mut Vec<Kind>,
        rng: &mut R,
        force: Option<Kind>,
    ) -> Option<String> {
        let want = |k: Kind, rng: &mut R| force == Some(k) || rng.gen_bool(k.rate());
        let numerals = want(Kind::Numerals, rng);
        let synonyms = want(Kind::Synonyms, rng);
        let dashed = want(Kind::Dashed, rng)
            && w.compound.is_some()
            && w.building.is_some()
            && w.room.is_some();
        let floor_room = !dashed && want(Kind::FloorRoom, rng) && w.room.is_some_and(|r| r >= 100);
        let mut damaged_one = want(Kind::SepInNumber, rng);
        let mut used_numerals = false;
        let mut used_synonyms = false;
        let mut used_damage = false;
        // A number as written: Arabic (maybe cut by a separator) or Chinese.
        let mut number = |n: u32, digits_ok: bool, rng: &mut R| -> String {
            if damaged_one && n >= 10 {
                damaged_one = false;
                used_damage = true;
                let s = n.to_string();
                let at = rng.gen_range(1..s.len());
                let sep = pick(rng, &["，", ",", " ", "、", "，"]);
                return format!("{}{}{}", &s[..at], sep, &s[at..]);
            }
            if numerals && rng.gen_bool(0.6) {
                used_numerals = true;
                if digits_ok && rng.gen_bool(0.6) {
                    return cn_digits(n, if rng.gen_bool(0.5) { '〇' } else { '零' });
                }
                return cn_value(n);
            }
            n.to_string()
        };

        // Name spellings: alias, typos, separators inside.
        let mut road = w.road.clone();
        let mut aliased = false;
        if let Some(r) = &road
            && let Some(a) = self.road_alias.get(r)
            && want(Kind::Alias, rng)
        {
            road = Some(a.clone());
            aliased = true;
            kinds.push(Kind::Alias);
        }
        let mut compound = w.compound.clone();
        let mut community = w.community.clone();
        let mut spoilt_slots: Vec<u8> = Vec::new();
        for k in [
            Kind::Homophone,
            Kind::LookAlike,
            Kind::Dropped,
            Kind::Doubled,
        ] {
            if !want(k, rng) {
                continue;
            }
            // One name gets it: compound, road or community, whichever works first; a
            // name gets one slip at most (two in one short name leave nothing to read),
            // and an alias none (the alias table is the centre's own spelling).
            let mut slots: Vec<u8> = vec![0, 1, 2];
            slots.shuffle(rng);
            for slot in slots {
                if spoilt_slots.contains(&slot) || (slot == 1 && aliased) {
                    continue;
                }
                let target = match slot {
                    0 => compound.as_mut(),
                    1 => road.as_mut(),
                    _ => Some(&mut community).filter(|c| !c.is_empty()),
                };
                let Some(t) = target else { continue };
                if let Some(spoilt) = self.spoil(t, k, rng) {
                    *t = spoilt;
                    kinds.push(k);
                    spoilt_slots.push(slot);
                    break;
                }
            }
        }
        if want(Kind::SepInName, rng) {
            let mut slots: Vec<u8> = vec![0, 1, 2];
            slots.shuffle(rng);
            for slot in slots {
                let target = match slot {
                    0 => compound.as_mut(),
                    1 => road.as_mut(),
                    _ => Some(&mut community).filter(|c| !c.is_empty()),
                };
                let Some(t) = target else { continue };
                let cs: Vec<char> = t.chars().collect();
                if cs.len() < 2 {
                    continue;
                }
                let at = rng.gen_range(1..cs.len());
                let sep = pick(rng, &[" ", "，", "、", ",", "\u{3000}", "，"]);
                *t = format!(
                    "{}{}{}",
                    cs[..at].iter().collect::<String>(),
                    sep,
                    cs[at..].iter().collect::<String>()
                );
                kinds.push(Kind::SepInName);
                break;
            }
        }

        // Segments in label order, grouped as admin / road / compound+numbers.
        let mut admin: Vec<String> = Vec::new();
        if !w.township.is_empty() {
            admin.push(w.township.clone());
        }
        if !community.is_empty() {
            admin.push(community.clone());
        }
        let mut road_seg = String::new();
        if let (Some(r), Some((a, z))) = (&road, w.door) {
            road_seg.push_str(r);
            if z > a {
                // Spans are written in digits (一百一十二至116号 is not how people write).
                road_seg.push_str(&a.to_string());
                road_seg.push_str(pick(rng, &["-", "-", "—", "~", "至"]));
                road_seg.push_str(&z.to_string());
            } else {
                road_seg.push_str(&number(a, false, rng));
            }
            road_seg.push('号');
        }
        let mut rural_seg = String::new();
        if let (Some(g), Some(h)) = (w.group, w.house) {
            rural_seg.push_str(&number(g, false, rng));
            rural_seg.push('组');
            rural_seg.push_str(&number(h, false, rng));
            rural_seg.push('号');
        }
        let mut inner: Vec<String> = Vec::new();
        if let Some(c) = &compound {
            inner.push(c.clone());
        }
        if dashed {
            let d = pick(rng, &["-", "-", "—", "－"]);
            let mut s = w.building.unwrap_or(0).to_string();
            if let Some(u) = w.unit {
                s.push_str(d);
                s.push_str(&u.to_string());
            }
            s.push_str(d);
            s.push_str(&w.room.unwrap_or(0).to_string());
            inner.push(s);
            kinds.push(Kind::Dashed);
        } else {
            if let Some(b) = w.building {
                let m = if synonyms && rng.gen_bool(0.7) {
                    used_synonyms = true;
                    pick(rng, &["幢", "号楼", "座", "幢"])
                } else {
                    "栋"
                };
                inner.push(format!("{}{m}", number(b, false, rng)));
            }
            if let Some(u) = w.unit {
                let m = if synonyms && rng.gen_bool(0.5) {
                    used_synonyms = true;
                    "门"
                } else {
                    "单元"
                };
                inner.push(format!("{}{m}", number(u, false, rng)));
            }
            if let Some(r) = w.room {
                if floor_room {
                    kinds.push(Kind::FloorRoom);
                    let (f, i) = (r / 100, r % 100);
                    let fs = number(f, false, rng);
                    inner.push(match rng.gen_range(0..3) {
                        0 => format!("{fs}楼{r}{}", pick(rng, &["室", "", "号"])),
                        1 => format!("{fs}层{i}{}", pick(rng, &["号", "室", "户"])),
                        _ => format!("{fs}楼{i:02}{}", pick(rng, &["室", "号"])),
                    });
                } else {
                    let m = if synonyms && rng.gen_bool(0.5) {
                        used_synonyms = true;
                        pick(rng, &["号", "户", ""])
                    } else {
                        "室"
                    };
                    inner.push(format!("{}{m}", number(r, true, rng)));
                }
            }
        }
        if used_numerals {
            kinds.push(Kind::Numerals);
        }
        if used_synonyms {
            kinds.push(Kind::Synonyms);
        }
        if used_damage {
            kinds.push(Kind::SepInNumber);
        }

        // Order: usual, or out of order (admin last; compound before road).
        let mut segs: Vec<String> = Vec::new();
        let prefix = if want(Kind::Prefix, rng) {
            kinds.push(Kind::Prefix);
            pick(
                rng,
                &[
                    "",
                    "",
                    "旌阳区",
                    "德阳市旌阳区",
                    "四川德阳",
                    "德阳",
                    "四川省德阳市",
                    "德阳旌阳区",
                ],
            )
            .to_string()
        } else {
            "四川省德阳市旌阳区".to_string()
        };
        let out_of_order =
            want(Kind::OutOfOrder, rng) && (!admin.is_empty() || !road_seg.is_empty());
        if out_of_order {
            kinds.push(Kind::OutOfOrder);
            let mode = rng.gen_range(0..2);
            if mode == 0 || road_seg.is_empty() || inner.is_empty() {
                // The place first, then where it is: 锦绣花园3栋2单元 长江西路18号 文庙社区.
                segs.extend(inner.iter().cloned());
                if !road_seg.is_empty() {
                    segs.push(road_seg.clone());
                }
                if !rural_seg.is_empty() {
                    segs.push(rural_seg.clone());
                }
                admin.reverse();
                segs.extend(admin.iter().cloned());
                if !prefix.is_empty() && rng.gen_bool(0.5) {
                    segs.push(prefix.clone());
                } else if !prefix.is_empty() {
                    segs.insert(0, prefix.clone());
                }
            } else {
                // The compound name before its road: …社区锦绣花园长江西路18号3栋2单元.
                if !prefix.is_empty() {
                    segs.push(prefix.clone());
                }
                segs.extend(admin.iter().cloned());
                segs.push(inner[0].clone());
                segs.push(road_seg.clone());
                segs.extend(inner[1..].iter().cloned());
            }
        } else {
            if !prefix.is_empty() {
                segs.push(prefix);
            }
            segs.extend(admin);
            if !road_seg.is_empty() {
                segs.push(road_seg);
            }
            if !rural_seg.is_empty() {
                segs.push(rural_seg);
            }
            segs.extend(inner);
        }
        if want(Kind::Landmark, rng) {
            let word = pick(
                rng,
                &[
                    "附近",
                    "对面",
                    "门口",
                    "旁边",
                    "楼下",
                    "隔壁",
                    "斜对面",
                    "后面",
                ],
            )
            .to_string();
            if segs.len() >= 2 && rng.gen_bool(0.25) {
                let at = segs.len() - 1;
                segs.insert(at, word);
            } else {
                segs.push(word);
            }
            kinds.push(Kind::Landmark);
        }
        let between = want(Kind::SepBetween, rng);
        let mut text = String::new();
        for (i, s) in segs.iter().enumerate() {
            if i > 0 && between && rng.gen_bool(0.4) {
                text.push_str(pick(rng, &[" ", "，", "、", ",", "；", "  ", "/"]));
            }
            text.push_str(s);
        }
        if between {
            kinds.push(Kind::SepBetween);
        }
        if want(Kind::Traditional, rng) {
            let all = rng.gen_bool(0.5);
            let t: String = text
                .chars()
                .map(|c| match to_traditional(c) {
                    Some(t) if all || rng.gen_bool(0.5) => t,
                    _ => c,
                })
                .collect();
            if t != text {
                kinds.push(Kind::Traditional);
                text = t;
            }
        }
        if want(Kind::FullWidth, rng) && text.chars().any(|c| c.is_ascii_digit()) {
            text = full_width(&text);
            kinds.push(Kind::FullWidth);
        }
        Some(text)
    }

    /// `n` cases drawn at the mixed rates.
    pub fn mixed<R: Rng>(&self, n: usize, rng: &mut R) -> Vec<Case> {
        (0..n).filter_map(|_| self.case(rng, None)).collect()
    }

    /// About `n` cases in which `kind` was applied (plus whatever else was drawn).
    pub fn with_kind<R: Rng>(&self, kind: Kind, n: usize, rng: &mut R) -> Vec<Case> {
        let mut out = Vec::new();
        for _ in 0..n * 30 {
            if out.len() >= n {
                break;
            }
            if let Some(c) = self.case(rng, Some(kind))
                && c.kinds.contains(&kind)
            {
                out.push(c);
            }
        }
        out
    }
}
