//! The hard evaluation set: labelled free-text addresses with every kind of noise the
//! issue names plus the realistic traps (a building that does not exist, a compound
//! name shared by two communities, a door number off by one, a wrong township or
//! community), and the tally of precision, recall and confident-wrong answers.
//!
//! Each case is written from *facts* (which names and numbers the writer put down,
//! right or wrong), and its label comes from those facts and the register alone, by a
//! deliberately simple reader that shares no code with the matcher:
//!
//! * the buildings consistent with every written fact; exactly one → that building;
//!   several → **should abstain** (the text cannot tell them apart);
//! * none (a fact is wrong) → the buildings consistent with all facts but one, where
//!   the one may be the township, the community (not a village: it is a rural
//!   address's only name), or the door number when compound and building number are
//!   also written; exactly one → that building, otherwise
//!   **should abstain**. Building and unit numbers are never second-guessed: a building
//!   that does not exist is unresolvable, not "probably the one next to it".
//! * the unit is labelled only when the written unit/room picks exactly one unit of the
//!   building (a house's one unit counts); otherwise the label is building level, and a
//!   unit-level answer is then a guess and is counted wrong.
//!
//! Character-level noise (typos, homophones, traditional forms, numerals…) never
//! changes the facts; a typo that would turn a name into another real name is not made.
//! A door off by one on a road where that door exists names the other building: the
//! label follows the text (no reader could know better).

use crate::hanzi;
use crate::matcher::{BuildingEntry, Level, MatchResult, Register, UnitEntry};
use crate::noise::{self, NoiseKind, NoiseKinds};
use crate::parts::AddressParts;
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The kind of difficulty a case was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HardKind {
    /// The canonical label.
    Clean,
    FullWidth,
    /// Chinese numerals, incl. 〇/零 digits and 两.
    ChineseNumerals,
    /// 栋/幢/号楼/座, 单元/门, 室/号/户.
    Synonyms,
    /// 12-3-1001, 11-802.
    Dashed,
    /// The floor written out (5楼502, 5层2号, 16楼03).
    FloorRoom,
    Traditional,
    /// 附近, 对面, 门口, 旁边, 楼下.
    NoiseWords,
    Punctuation,
    /// Province/city/district prefix dropped or cut.
    MissingPrefix,
    /// The prefix written twice (四川省德阳市四川省德阳市旌阳区…).
    RepeatedPrefix,
    MissingTownship,
    MissingCommunity,
    /// Road and door dropped (the compound names the place).
    MissingRoad,
    /// Compound dropped (road and door name the place).
    MissingCompound,
    /// Unit number dropped (the room alone).
    MissingUnit,
    /// Township, community and road all dropped.
    MissingMany,
    /// A rural house, X组X号, with numerals and prefix noise.
    Rural,
    /// A look-alike character in a road, compound or community name.
    Typo,
    /// A same-pinyin character in a name (what an IME produces).
    Homophone,
    /// Another township's name.
    WrongTownship,
    /// Another community's name.
    WrongCommunity,
    /// A building (or door, or house) number that does not exist.
    NoSuchBuilding,
    /// A compound whose name two communities share.
    SharedCompound,
    /// The door number off by one.
    DoorOffByOne,
    /// Several of the above at once.
    Mixed,
}

impl HardKind {
    /// Every kind, in report order.
    pub const ALL: [HardKind; 26] = [
        HardKind::Clean,
        HardKind::FullWidth,
        HardKind::ChineseNumerals,
        HardKind::Synonyms,
        HardKind::Dashed,
        HardKind::FloorRoom,
        HardKind::Traditional,
        HardKind::NoiseWords,
        HardKind::Punctuation,
        HardKind::MissingPrefix,
        HardKind::RepeatedPrefix,
        HardKind::MissingTownship,
        HardKind::MissingCommunity,
        HardKind::MissingRoad,
        HardKind::MissingCompound,
        HardKind::MissingUnit,
        HardKind::MissingMany,
        HardKind::Rural,
        HardKind::Typo,
        HardKind::Homophone,
        HardKind::WrongTownship,
        HardKind::WrongCommunity,
        HardKind::NoSuchBuilding,
        HardKind::SharedCompound,
        HardKind::DoorOffByOne,
        HardKind::Mixed,
    ];

    /// A short stable name for reports.
    pub fn name(self) -> &'static str {
        match self {
            HardKind::Clean => "clean",
            HardKind::FullWidth => "full_width",
            HardKind::ChineseNumerals => "chinese_numerals",
            HardKind::Synonyms => "synonyms",
            HardKind::Dashed => "dashed",
            HardKind::FloorRoom => "room_with_floor",
            HardKind::Traditional => "traditional",
            HardKind::NoiseWords => "noise_words",
            HardKind::Punctuation => "punctuation",
            HardKind::MissingPrefix => "missing_prefix",
            HardKind::RepeatedPrefix => "repeated_prefix",
            HardKind::MissingTownship => "missing_township",
            HardKind::MissingCommunity => "missing_community",
            HardKind::MissingRoad => "missing_road",
            HardKind::MissingCompound => "missing_compound",
            HardKind::MissingUnit => "missing_unit",
            HardKind::MissingMany => "missing_many_levels",
            HardKind::Rural => "rural_group_house",
            HardKind::Typo => "typo_lookalike",
            HardKind::Homophone => "typo_homophone",
            HardKind::WrongTownship => "wrong_township",
            HardKind::WrongCommunity => "wrong_community",
            HardKind::NoSuchBuilding => "no_such_building",
            HardKind::SharedCompound => "shared_compound",
            HardKind::DoorOffByOne => "door_off_by_one",
            HardKind::Mixed => "mixed",
        }
    }
}

/// What a careful reader can resolve the text to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This unit (index into the unit list).
    Unit(usize),
    /// This building (index into the building list); the unit cannot be told.
    Building(usize),
    /// Nothing: the text names no address of the register, or several equally.
    Abstain,
}

/// One labelled case.
#[derive(Debug, Clone)]
pub struct Case {
    pub text: String,
    pub kind: HardKind,
    pub expect: Expect,
    /// The record's true unit or building (what the generator linked it to), for
    /// reports; the label is `expect`.
    pub truth_building: usize,
}

/// Make `pairs` compound names shared by two communities: each chosen compound (with
/// at least two buildings) is built again, same name and building numbers, in another
/// community (its township, no road or door), with copies of its units under new codes
/// (the original code plus `T`). Real districts have such twins; the generator's names
/// are unique (and at small scales all compounds may sit in one community), so the
/// evaluation plants them. Returns the shared names.
pub fn plant_shared_compounds<R: Rng>(
    buildings: &mut Vec<BuildingEntry>,
    units: &mut Vec<UnitEntry>,
    pairs: usize,
    rng: &mut R,
) -> Vec<String> {
    let mut by_compound: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, b) in buildings.iter().enumerate() {
        if let (Some(c), Some(_)) = (&b.parts.compound, b.parts.building) {
            by_compound.entry(c.clone()).or_default().push(i);
        }
    }
    let mut names: Vec<String> = by_compound
        .iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(k, _)| k.clone())
        .collect();
    names.sort();
    names.shuffle(rng);
    // Every (township, community) of the register, in a stable order.
    let places: Vec<(String, String)> = buildings
        .iter()
        .filter(|b| !b.parts.community.is_empty())
        .map(|b| (b.parts.township.clone(), b.parts.community.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut units_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, u) in units.iter().enumerate() {
        units_of.entry(u.building).or_default().push(i);
    }
    let mut shared = Vec::new();
    for name in names.into_iter().take(pairs) {
        let members = &by_compound[&name];
        let home = buildings[members[0]].parts.community.clone();
        let others: Vec<&(String, String)> = places.iter().filter(|p| p.1 != home).collect();
        if others.is_empty() {
            break;
        }
        let (town, comm) = others[rng.gen_range(0..others.len())].clone();
        for &bi in members {
            let mut copy = buildings[bi].clone();
            copy.code.push('T');
            copy.parts.township = town.clone();
            copy.parts.community = comm.clone();
            copy.parts.road = None;
            copy.parts.door = None;
            let new_index = buildings.len();
            buildings.push(copy);
            for &ui in units_of.get(&bi).map_or(&[][..], Vec::as_slice) {
                let mut u = units[ui].clone();
                u.code.push('T');
                u.building = new_index;
                units.push(u);
            }
        }
        shared.push(name);
    }
    shared
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Town,
    Comm,
    Road,
    Door,
    Compound,
    Building,
    Group,
    House,
}

const FIELDS: [Field; 8] = [
    Field::Town,
    Field::Comm,
    Field::Road,
    Field::Door,
    Field::Compound,
    Field::Building,
    Field::Group,
    Field::House,
];

fn written(w: &AddressParts, f: Field) -> bool {
    match f {
        Field::Town => !w.township.is_empty(),
        Field::Comm => !w.community.is_empty(),
        Field::Road => w.road.is_some(),
        Field::Door => w.door.is_some(),
        Field::Compound => w.compound.is_some(),
        Field::Building => w.building.is_some(),
        Field::Group => w.group.is_some(),
        Field::House => w.house.is_some(),
    }
}

fn agrees(p: &AddressParts, w: &AddressParts, f: Field) -> bool {
    match f {
        Field::Town => p.township == w.township,
        Field::Comm => p.community == w.community,
        Field::Road => p.road == w.road,
        Field::Door => p.door == w.door,
        Field::Compound => p.compound == w.compound,
        Field::Building => p.building == w.building,
        Field::Group => p.group == w.group,
        Field::House => p.house == w.house,
    }
}

/// The labelling reader and the generator of cases over one register's entries.
pub struct HardSet<'a> {
    buildings: &'a [BuildingEntry],
    units: &'a [UnitEntry],
    units_of: Vec<Vec<usize>>,
    by_name: HashMap<&'a str, Vec<usize>>,
    names: HashSet<&'a str>,
    townships: Vec<&'a str>,
    communities_of: HashMap<&'a str, Vec<&'a str>>,
    communities: Vec<&'a str>,
    /// Highest building number per compound name, highest door per road, highest house
    /// per (village, group).
    max_building: HashMap<&'a str, u32>,
    max_door: HashMap<&'a str, u32>,
    max_house: HashMap<(&'a str, u32), u32>,
    shared: HashSet<String>,
    /// Characters by plain pinyin, from the register's names (for homophone typos).
    homophones: HashMap<String, Vec<char>>,
}

impl<'a> HardSet<'a> {
    /// Index the entries the register was built from. `shared` are the compound names
    /// [`plant_shared_compounds`] planted.
    pub fn new(
        buildings: &'a [BuildingEntry],
        units: &'a [UnitEntry],
        shared: &[String],
    ) -> HardSet<'a> {
        let mut units_of = vec![Vec::new(); buildings.len()];
        for (i, u) in units.iter().enumerate() {
            if u.building < buildings.len() {
                units_of[u.building].push(i);
            }
        }
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut names = HashSet::new();
        let mut towns = BTreeSet::new();
        let mut comms = BTreeSet::new();
        let mut communities_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        let mut max_building: HashMap<&str, u32> = HashMap::new();
        let mut max_door: HashMap<&str, u32> = HashMap::new();
        let mut max_house: HashMap<(&str, u32), u32> = HashMap::new();
        for (i, b) in buildings.iter().enumerate() {
            let p = &b.parts;
            let mut add = |n: &'a str| {
                if !n.is_empty() {
                    let v = by_name.entry(n).or_default();
                    if v.last() != Some(&i) {
                        v.push(i);
                    }
                    names.insert(n);
                }
            };
            add(&p.township);
            add(&p.community);
            if let Some(r) = &p.road {
                add(r);
            }
            if let Some(c) = &p.compound {
                add(c);
            }
            if !p.township.is_empty() {
                towns.insert(p.township.as_str());
                if !p.community.is_empty() {
                    communities_of
                        .entry(p.township.as_str())
                        .or_default()
                        .insert(p.community.as_str());
                }
            }
            if !p.community.is_empty() {
                comms.insert(p.community.as_str());
            }
            if let (Some(c), Some(n)) = (&p.compound, p.building) {
                let m = max_building.entry(c.as_str()).or_default();
                *m = (*m).max(n);
            }
            if let (Some(r), Some(d)) = (&p.road, p.door) {
                let m = max_door.entry(r.as_str()).or_default();
                *m = (*m).max(d);
            }
            if let (Some(g), Some(h)) = (p.group, p.house) {
                let m = max_house.entry((p.community.as_str(), g)).or_default();
                *m = (*m).max(h);
            }
        }
        let mut homophones: HashMap<String, Vec<char>> = HashMap::new();
        {
            use pinyin::ToPinyin;
            let mut seen = HashSet::new();
            for n in &names {
                for c in n.chars() {
                    if seen.insert(c)
                        && let Some(py) = c.to_pinyin()
                    {
                        homophones
                            .entry(py.plain().to_string())
                            .or_default()
                            .push(c);
                    }
                }
            }
            for v in homophones.values_mut() {
                v.sort_unstable();
            }
        }
        HardSet {
            buildings,
            units,
            units_of,
            by_name,
            names,
            townships: towns.into_iter().collect(),
            communities: comms.into_iter().collect(),
            communities_of: communities_of
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
            max_building,
            max_door,
            max_house,
            shared: shared.iter().cloned().collect(),
            homophones,
        }
    }

    /// Buildings consistent with every written fact of `w` except `skip`.
    fn consistent(&self, w: &AddressParts, skip: Option<Field>) -> Vec<usize> {
        let anchors: Vec<&str> = [
            (Field::Town, w.township.as_str()),
            (Field::Comm, w.community.as_str()),
            (Field::Road, w.road.as_deref().unwrap_or("")),
            (Field::Compound, w.compound.as_deref().unwrap_or("")),
        ]
        .into_iter()
        .filter(|(f, n)| Some(*f) != skip && !n.is_empty())
        .map(|(_, n)| n)
        .collect();
        // The smallest anchor's buildings are a superset of the answer.
        let Some(pool) = anchors
            .iter()
            .map(|n| self.by_name.get(n).map_or(&[][..], Vec::as_slice))
            .min_by_key(|v| v.len())
        else {
            return Vec::new();
        };
        pool.iter()
            .copied()
            .filter(|&i| {
                let p = &self.buildings[i].parts;
                FIELDS
                    .iter()
                    .all(|&f| Some(f) == skip || !written(w, f) || agrees(p, w, f))
            })
            .collect()
    }

    /// The label of the facts `w` (building-level parts plus unit and room).
    pub fn label(&self, w: &AddressParts) -> Expect {
        let strict = self.consistent(w, None);
        let building = match strict.len() {
            1 => strict[0],
            0 => {
                // A village is a rural address's only name: it is not second-guessed.
                let mut relaxable = vec![Field::Town];
                if w.group.is_none() {
                    relaxable.push(Field::Comm);
                }
                if w.compound.is_some() && w.building.is_some() {
                    relaxable.push(Field::Door);
                }
                let mut found: Vec<usize> = relaxable
                    .into_iter()
                    .filter(|&f| written(w, f))
                    .flat_map(|f| self.consistent(w, Some(f)))
                    .collect();
                found.sort_unstable();
                found.dedup();
                if found.len() != 1 {
                    return Expect::Abstain;
                }
                found[0]
            }
            _ => return Expect::Abstain,
        };
        let us = &self.units_of[building];
        if us.len() == 1 {
            let u = &self.units[us[0]];
            if u.unit.is_none() && u.room.is_none() {
                return Expect::Unit(us[0]);
            }
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
        Expect::Building(building)
    }

    /// A random target: a unit (most records) or a building without units (an
    /// enterprise's address). `filter` restricts the building.
    fn target<R: Rng>(
        &self,
        rng: &mut R,
        filter: &dyn Fn(&AddressParts) -> bool,
    ) -> Option<(AddressParts, usize)> {
        for _ in 0..2_000 {
            if rng.gen_bool(0.85) && !self.units.is_empty() {
                let u = &self.units[rng.gen_range(0..self.units.len())];
                let b = &self.buildings[u.building];
                if !filter(&b.parts) {
                    continue;
                }
                let mut p = b.parts.clone();
                p.unit = u.unit;
                p.room = u.room;
                return Some((p, u.building));
            } else {
                let bi = rng.gen_range(0..self.buildings.len());
                if !self.units_of[bi].is_empty() || !filter(&self.buildings[bi].parts) {
                    continue;
                }
                return Some((self.buildings[bi].parts.clone(), bi));
            }
        }
        None
    }

    /// A typo'd form of `name` (one character of its body), look-alike or homophone,
    /// that is not itself a name of the register.
    fn typo_of<R: Rng>(&self, name: &str, homophone: bool, rng: &mut R) -> Option<String> {
        use pinyin::ToPinyin;
        let body: Vec<char> = name.chars().collect();
        if body.len() < 3 {
            return None;
        }
        let mut positions: Vec<usize> = (0..body.len() - 1).collect();
        positions.shuffle(rng);
        for i in positions {
            let c = body[i];
            let alts: Vec<char> = if homophone {
                c.to_pinyin()
                    .and_then(|py| self.homophones.get(py.plain()))
                    .map(|v| v.iter().copied().filter(|&x| x != c).collect())
                    .unwrap_or_default()
            } else {
                (0..4).filter_map(|k| hanzi::confusable(c, k)).collect()
            };
            if alts.is_empty() {
                continue;
            }
            let sub = alts[rng.gen_range(0..alts.len())];
            let new: String = body
                .iter()
                .enumerate()
                .map(|(j, &x)| if j == i { sub } else { x })
                .collect();
            if !self.names.contains(new.as_str()) {
                return Some(new);
            }
        }
        None
    }

    /// Build one case of `kind`, or `None` when the kind does not fit the target drawn.
    pub fn case<R: Rng>(&self, kind: HardKind, rng: &mut R) -> Option<Case> {
        use HardKind as H;
        let any = |_: &AddressParts| true;
        let compound = |p: &AddressParts| p.compound.is_some() && p.building.is_some();
        let road = |p: &AddressParts| p.road.is_some() && p.door.is_some();
        let rural = |p: &AddressParts| p.group.is_some();
        let shared =
            |p: &AddressParts| p.compound.as_ref().is_some_and(|c| self.shared.contains(c));
        let filter: &dyn Fn(&AddressParts) -> bool = match kind {
            H::Dashed | H::MissingRoad | H::MissingMany => &compound,
            H::MissingCompound => &|p: &AddressParts| compound(p) && road(p),
            H::DoorOffByOne => &road,
            H::Rural => &rural,
            H::SharedCompound => &shared,
            H::MissingUnit => &|p: &AddressParts| compound(p),
            _ => &any,
        };
        let (truth, b) = self.target(rng, filter)?;
        let mut w = truth.clone();
        let mut surface = NoiseKinds::NONE;
        let mut typo: Option<bool> = None; // Some(homophone)
        let mut repeated_prefix = false;
        let structural = |k: HardKind, w: &mut AddressParts, rng: &mut R| -> bool {
            match k {
                H::MissingTownship => {
                    w.township.clear();
                }
                H::MissingCommunity => {
                    if w.group.is_some() {
                        return false;
                    }
                    w.community.clear();
                }
                H::MissingRoad => {
                    if w.compound.is_none() {
                        return false;
                    }
                    w.road = None;
                    w.door = None;
                }
                H::MissingCompound => {
                    if w.road.is_none() {
                        return false;
                    }
                    w.compound = None;
                    w.building = None;
                }
                H::MissingUnit => {
                    if w.unit.is_none() {
                        return false;
                    }
                    w.unit = None;
                }
                H::MissingMany => {
                    w.township.clear();
                    w.community.clear();
                    w.road = None;
                    w.door = None;
                }
                H::WrongTownship => {
                    let others: Vec<&&str> = self
                        .townships
                        .iter()
                        .filter(|t| **t != w.township)
                        .collect();
                    if others.is_empty() || w.township.is_empty() {
                        return false;
                    }
                    w.township = others[rng.gen_range(0..others.len())].to_string();
                }
                H::WrongCommunity => {
                    let near = self
                        .communities_of
                        .get(w.township.as_str())
                        .map(|v| v.iter().filter(|c| **c != w.community).collect::<Vec<_>>())
                        .unwrap_or_default();
                    let pick = if !near.is_empty() && rng.gen_bool(0.7) {
                        near[rng.gen_range(0..near.len())].to_string()
                    } else {
                        let others: Vec<&&str> = self
                            .communities
                            .iter()
                            .filter(|c| **c != w.community)
                            .collect();
                        if others.is_empty() {
                            return false;
                        }
                        others[rng.gen_range(0..others.len())].to_string()
                    };
                    w.community = pick;
                }
                H::NoSuchBuilding => {
                    if let (Some(c), Some(_)) = (&w.compound, w.building) {
                        let max = self.max_building.get(c.as_str()).copied().unwrap_or(0);
                        w.building = Some(max + rng.gen_range(1..=4));
                    } else if let (Some(g), Some(_)) = (w.group, w.house) {
                        let max = self
                            .max_house
                            .get(&(w.community.as_str(), g))
                            .copied()
                            .unwrap_or(0);
                        w.house = Some(max + rng.gen_range(1..=6));
                    } else if let (Some(r), Some(_)) = (&w.road, w.door) {
                        let max = self.max_door.get(r.as_str()).copied().unwrap_or(0);
                        w.door = Some(max + 2 * rng.gen_range(1..=5));
                    } else {
                        return false;
                    }
                }
                H::SharedCompound => {
                    // Usually only the compound is written; sometimes its community too.
                    w.road = None;
                    w.door = None;
                    w.township.clear();
                    if rng.gen_bool(0.6) {
                        w.community.clear();
                    }
                }
                H::DoorOffByOne => match w.door {
                    Some(d) if d > 1 => {
                        w.door = Some(if rng.gen_bool(0.5) { d + 1 } else { d - 1 });
                    }
                    Some(d) => w.door = Some(d + 1),
                    None => return false,
                },
                _ => return false,
            }
            true
        };
        match kind {
            H::Clean => {}
            H::FullWidth => surface.insert(NoiseKind::FullWidth),
            H::ChineseNumerals => surface.insert(NoiseKind::ChineseNumerals),
            H::Synonyms => surface.insert(NoiseKind::Synonyms),
            H::Dashed => {
                w.room?;
                surface.insert(NoiseKind::Dashed);
            }
            H::FloorRoom => {
                if w.room.is_none_or(|r| r < 100) {
                    return None;
                }
                surface.insert(NoiseKind::FloorRoom);
            }
            H::Traditional => surface.insert(NoiseKind::Traditional),
            H::NoiseWords => surface.insert(NoiseKind::ExtraWords),
            H::Punctuation => surface.insert(NoiseKind::Punctuation),
            H::MissingPrefix => surface.insert(NoiseKind::DropPrefix),
            H::RepeatedPrefix => repeated_prefix = true,
            H::Rural => {
                surface.insert(NoiseKind::ChineseNumerals);
                if rng.gen_bool(0.5) {
                    surface.insert(NoiseKind::DropPrefix);
                }
                if rng.gen_bool(0.3) {
                    w.township.clear();
                }
            }
            H::Typo => typo = Some(false),
            H::Homophone => typo = Some(true),
            H::Mixed => {
                let structural_kinds = [
                    H::MissingTownship,
                    H::MissingCommunity,
                    H::MissingRoad,
                    H::MissingCompound,
                    H::MissingUnit,
                    H::WrongTownship,
                    H::WrongCommunity,
                    H::DoorOffByOne,
                    H::NoSuchBuilding,
                ];
                if rng.gen_bool(0.5) {
                    let k = structural_kinds[rng.gen_range(0..structural_kinds.len())];
                    structural(k, &mut w, rng);
                }
                if rng.gen_bool(0.2) {
                    structural(H::MissingTownship, &mut w, rng);
                }
                for k in [
                    NoiseKind::DropPrefix,
                    NoiseKind::FullWidth,
                    NoiseKind::ChineseNumerals,
                    NoiseKind::Synonyms,
                    NoiseKind::Dashed,
                    NoiseKind::FloorRoom,
                    NoiseKind::Traditional,
                    NoiseKind::ExtraWords,
                    NoiseKind::Punctuation,
                ] {
                    if rng.gen_bool(0.3) {
                        surface.insert(k);
                    }
                }
                if rng.gen_bool(0.2) {
                    typo = Some(rng.gen_bool(0.5));
                }
                repeated_prefix = rng.gen_bool(0.05);
            }
            k => {
                if !structural(k, &mut w, rng) {
                    return None;
                }
            }
        }
        let text = self.render(&w, surface, typo, repeated_prefix, rng)?;
        Some(Case {
            text,
            kind,
            expect: self.label(&w),
            truth_building: b,
        })
    }

    fn render<R: Rng>(
        &self,
        w: &AddressParts,
        surface: NoiseKinds,
        typo: Option<bool>,
        repeated_prefix: bool,
        rng: &mut R,
    ) -> Option<String> {
        let mut structural = NoiseKinds::NONE;
        for k in surface.iter() {
            if !matches!(k, NoiseKind::Traditional | NoiseKind::FullWidth) {
                structural.insert(k);
            }
        }
        let (mut text, _) = noise::label_with_kinds(w, structural, rng);
        if let Some(homophone) = typo {
            let mut names: Vec<&str> = [w.compound.as_deref(), w.road.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if !w.community.is_empty() {
                names.push(&w.community);
            }
            names.shuffle(rng);
            let mut done = false;
            for n in names {
                if let Some(t) = self.typo_of(n, homophone, rng)
                    && text.contains(n)
                {
                    text = text.replacen(n, &t, 1);
                    done = true;
                    break;
                }
            }
            if !done {
                return None;
            }
        }
        if repeated_prefix {
            let again = [
                "四川省德阳市",
                "德阳市旌阳区",
                "四川省德阳市旌阳区",
                "旌阳区",
            ];
            text.insert_str(0, again[rng.gen_range(0..again.len())]);
        }
        let mut applied = NoiseKinds::NONE;
        noise::char_noise(
            &mut text,
            surface.contains(NoiseKind::Traditional),
            surface.contains(NoiseKind::FullWidth),
            rng,
            &mut applied,
        );
        Some(text)
    }

    /// `n` cases of every kind (fewer when a kind rarely fits), plus `n_mixed` mixed.
    pub fn cases<R: Rng>(&self, n: usize, n_mixed: usize, rng: &mut R) -> Vec<Case> {
        let mut out = Vec::new();
        for kind in HardKind::ALL {
            let want = if kind == HardKind::Mixed { n_mixed } else { n };
            let mut made = 0;
            let mut tries = 0;
            while made < want && tries < want * 20 {
                tries += 1;
                if let Some(c) = self.case(kind, rng) {
                    out.push(c);
                    made += 1;
                }
            }
        }
        out
    }
}

/// Precision, recall and confident-wrong answers over a set of cases.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub total: u64,
    /// Cases a reader can resolve (building or unit label).
    pub resolvable: u64,
    /// Cases labelled should-abstain, and how many the matcher did abstain on.
    pub should_abstain: u64,
    pub abstained_right: u64,
    pub answered: u64,
    pub building_right: u64,
    pub unit_truths: u64,
    pub unit_answered: u64,
    pub unit_right: u64,
    /// Wrong answers (wrong building, wrong or guessed unit, or an answer where the
    /// label is abstain) with confidence ≥ 0.9.
    pub confident_wrong: u64,
    pub wrong: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Tally {
    /// Score one answer against its label. Returns whether the answer was wrong.
    pub fn add(&mut self, expect: Expect, r: &MatchResult, units: &[UnitEntry]) -> bool {
        self.total += 1;
        match expect {
            Expect::Abstain => self.should_abstain += 1,
            Expect::Building(_) => self.resolvable += 1,
            Expect::Unit(_) => {
                self.resolvable += 1;
                self.unit_truths += 1;
            }
        }
        let Some(b) = r.building.filter(|_| r.code.is_some()) else {
            if expect == Expect::Abstain {
                self.abstained_right += 1;
            }
            return false;
        };
        self.answered += 1;
        let building_ok = match expect {
            Expect::Abstain => false,
            Expect::Building(x) => x == b,
            Expect::Unit(u) => units.get(u).is_some_and(|u| u.building == b),
        };
        self.building_right += u64::from(building_ok);
        let mut unit_ok = true;
        if r.level == Some(Level::Unit) {
            self.unit_answered += 1;
            unit_ok = matches!(expect, Expect::Unit(u) if r.unit == Some(u));
            self.unit_right += u64::from(unit_ok);
        }
        let wrong = !(building_ok && unit_ok);
        if wrong {
            self.wrong += 1;
            if r.confidence >= 0.9 {
                self.confident_wrong += 1;
            }
        }
        wrong
    }

    pub fn merge(&mut self, o: &Tally) {
        self.total += o.total;
        self.resolvable += o.resolvable;
        self.should_abstain += o.should_abstain;
        self.abstained_right += o.abstained_right;
        self.answered += o.answered;
        self.building_right += o.building_right;
        self.unit_truths += o.unit_truths;
        self.unit_answered += o.unit_answered;
        self.unit_right += o.unit_right;
        self.confident_wrong += o.confident_wrong;
        self.wrong += o.wrong;
    }

    pub fn building_precision(&self) -> f64 {
        ratio(self.building_right, self.answered)
    }
    pub fn building_recall(&self) -> f64 {
        ratio(self.building_right, self.resolvable)
    }
    pub fn unit_precision(&self) -> f64 {
        ratio(self.unit_right, self.unit_answered)
    }
    pub fn unit_recall(&self) -> f64 {
        ratio(self.unit_right, self.unit_truths)
    }
    pub fn confident_wrong_rate(&self) -> f64 {
        ratio(self.confident_wrong, self.total)
    }

    /// The goals: building P ≥ 99.5%, R ≥ 97%; unit P ≥ 99%, R ≥ 95%;
    /// confident-wrong ≤ 0.1%.
    pub fn meets_goals(&self) -> bool {
        self.building_precision() >= 0.995
            && self.building_recall() >= 0.97
            && self.unit_precision() >= 0.99
            && self.unit_recall() >= 0.95
            && self.confident_wrong_rate() <= 0.001
    }

    /// One report line (a Markdown table row).
    pub fn row(&self, name: &str) -> String {
        format!(
            "| {name:<20} | {:>6} | {:>5} | {:.4} | {:.4} | {:.4} | {:.4} | {:.5} ({}) | {} / {} |",
            self.total,
            self.resolvable,
            self.building_precision(),
            self.building_recall(),
            self.unit_precision(),
            self.unit_recall(),
            self.confident_wrong_rate(),
            self.confident_wrong,
            self.abstained_right,
            self.should_abstain,
        )
    }

    /// The header of [`Tally::row`].
    pub fn header() -> String {
        "| kind | n | resolvable | bldg P | bldg R | unit P | unit R | conf-wrong (n) | abstained / should |\n|---|---|---|---|---|---|---|---|---|".to_string()
    }
}

/// Match every case; the overall tally, one per kind, and up to `keep` wrong answers
/// (text, label, answer) for inspection.
pub fn evaluate(
    reg: &Register,
    units: &[UnitEntry],
    cases: &[Case],
    keep: usize,
) -> (Tally, Vec<(HardKind, Tally)>, Vec<String>) {
    let mut per: HashMap<HardKind, Tally> = HashMap::new();
    let mut wrong = Vec::new();
    let mut all = Tally::default();
    for c in cases {
        let r = reg.match_address(&c.text);
        let t = per.entry(c.kind).or_default();
        let mut one = Tally::default();
        if one.add(c.expect, &r, units) && wrong.len() < keep {
            wrong.push(format!(
                "[{}] {}  expect {:?}  got {:?} {:?} conf {:.2}",
                c.kind.name(),
                c.text,
                c.expect,
                r.level,
                r.candidates.first().map(|x| x.label.as_str()),
                r.confidence
            ));
        }
        t.merge(&one);
        all.merge(&one);
    }
    let per = HardKind::ALL
        .iter()
        .filter_map(|k| per.get(k).map(|t| (*k, *t)))
        .collect();
    (all, per, wrong)
}

/// A register with planted shared compound names and its drawn, labelled cases.
pub struct Prepared {
    pub register: Register,
    pub units: Vec<UnitEntry>,
    pub cases: Vec<Case>,
    /// Distinct compound names before planting, and the names now shared.
    pub compounds: usize,
    pub shared: Vec<String>,
}

/// Everything from one seed: plant shared compound names (one per 20 compounds, at
/// least 3), build the register, draw `per_kind` cases of every kind and `mixed` mixed
/// ones. Deterministic for a seed and the same entries.
pub fn prepare(
    mut buildings: Vec<BuildingEntry>,
    mut units: Vec<UnitEntry>,
    seed: u64,
    per_kind: usize,
    mixed: usize,
) -> Result<Prepared, crate::RegisterError> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x0004_A2D5);
    let compounds = buildings
        .iter()
        .filter_map(|b| b.parts.compound.as_deref())
        .collect::<HashSet<_>>()
        .len();
    let shared = plant_shared_compounds(
        &mut buildings,
        &mut units,
        (compounds / 20).max(3),
        &mut rng,
    );
    let cases = HardSet::new(&buildings, &units, &shared).cases(per_kind, mixed, &mut rng);
    let register = Register::new(buildings, units.clone())?;
    Ok(Prepared {
        register,
        units,
        cases,
        compounds,
        shared,
    })
}

/// The quality table (Markdown): one row per kind, then the overall row.
pub fn table(all: &Tally, per_kind: &[(HardKind, Tally)]) -> String {
    let mut s = Tally::header();
    for (k, t) in per_kind {
        s.push('\n');
        s.push_str(&t.row(k.name()));
    }
    s.push('\n');
    s.push_str(&all.row("OVERALL"));
    s
}

/// The confidence bands of the reliability table: [0.5, 0.6), …, [0.8, 0.9), then the
/// confident band split in three ([0.9, 0.95), [0.95, 0.99), [0.99, 1.0]) because that
/// is where nearly all answers are. Answers below 0.5 do not exist (the matcher
/// abstains there).
pub const BANDS: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];

/// One confidence band of a reliability table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Band {
    /// Lower edge (inclusive).
    pub lo: f64,
    /// Upper edge (exclusive, except for the last band, which includes 1.0).
    pub hi: f64,
    /// Answers with a confidence in the band.
    pub n: u64,
    /// How many of them were right.
    pub right: u64,
    /// Sum of their confidences.
    pub confidence_sum: f64,
}

impl Band {
    /// The share of right answers.
    pub fn accuracy(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.right as f64 / self.n as f64
        }
    }

    /// The mean stated confidence.
    pub fn mean_confidence(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.confidence_sum / self.n as f64
        }
    }

    /// Calibration error in points of share: |accuracy − mean confidence|.
    pub fn error(&self) -> f64 {
        (self.accuracy() - self.mean_confidence()).abs()
    }

    /// The standard error of the share right if the band were exactly calibrated
    /// (binomial at the mean confidence), to tell a real miscalibration from a band
    /// with too few answers to say.
    pub fn standard_error(&self) -> f64 {
        if self.n == 0 {
            return 1.0;
        }
        let p = self.mean_confidence().clamp(0.001, 0.999);
        (p * (1.0 - p) / self.n as f64).sqrt()
    }
}

/// The reliability table of answers `(confidence, right)` over `edges` (ascending;
/// see [`BANDS`]). Answers outside the edges are left out.
pub fn reliability(answers: &[(f64, bool)], edges: &[f64]) -> Vec<Band> {
    let mut bands: Vec<Band> = edges
        .windows(2)
        .map(|w| Band {
            lo: w[0],
            hi: w[1],
            ..Default::default()
        })
        .collect();
    let last = bands.len().saturating_sub(1);
    for &(c, right) in answers {
        let at = bands
            .iter()
            .position(|b| c >= b.lo && c < b.hi)
            .or_else(|| (bands.last().is_some_and(|b| c == b.hi)).then_some(last));
        if let Some(i) = at {
            let b = &mut bands[i];
            b.n += 1;
            b.right += u64::from(right);
            b.confidence_sum += c;
        }
    }
    bands
}

/// The reliability table as Markdown: band, answers, mean confidence, accuracy,
/// error in points and its standard error in points.
pub fn reliability_table(bands: &[Band]) -> String {
    let mut s = String::from(
        "| band | answers | mean confidence | share right | error (points) | std. error (points) |\n|---|---|---|---|---|---|",
    );
    for b in bands {
        s.push_str(&format!(
            "\n| [{:.2}, {:.2}{} | {} | {:.4} | {:.4} | {:.2} | {:.2} |",
            b.lo,
            b.hi,
            if b.hi >= 1.0 { "]" } else { ")" },
            b.n,
            b.mean_confidence(),
            b.accuracy(),
            100.0 * b.error(),
            100.0 * b.standard_error(),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str, community: &str, compound: &str, b: u32, door: u32) -> BuildingEntry {
        BuildingEntry {
            code: code.into(),
            parts: AddressParts {
                township: "旌阳街道".into(),
                community: community.into(),
                road: Some("长江西路".into()),
                door: Some(door),
                compound: Some(compound.into()),
                building: Some(b),
                ..Default::default()
            },
            lon: 104.4,
            lat: 31.1,
        }
    }

    fn fixture() -> (Vec<BuildingEntry>, Vec<UnitEntry>) {
        let b = vec![
            entry("b0", "文庙社区", "锦绣花园", 1, 18),
            entry("b1", "文庙社区", "锦绣花园", 2, 18),
            entry("b2", "华山社区", "锦绣花园", 1, 40),
            entry("b3", "华山社区", "阳光小区", 1, 19),
            entry("b4", "华山社区", "阳光小区", 2, 19),
        ];
        let u = (0..5)
            .flat_map(|bi| {
                [(1, 502), (2, 502)].map(|(unit, room)| UnitEntry {
                    code: format!("u{bi}{unit}"),
                    building: bi,
                    unit: Some(unit),
                    room: Some(room),
                })
            })
            .collect();
        (b, u)
    }

    #[test]
    fn labels_follow_the_written_facts() {
        let (b, u) = fixture();
        let set = HardSet::new(&b, &u, &[]);
        let mut w = b[0].parts.clone();
        w.unit = Some(2);
        w.room = Some(502);
        assert_eq!(set.label(&w), Expect::Unit(1));
        // Without the unit the room is in two units: building level.
        w.unit = None;
        assert_eq!(set.label(&w), Expect::Building(0));
        // A building that does not exist.
        w.building = Some(9);
        assert_eq!(set.label(&w), Expect::Abstain);
        // The compound name is in two communities and nothing else tells them apart.
        let mut w = AddressParts {
            compound: Some("锦绣花园".into()),
            building: Some(1),
            ..Default::default()
        };
        assert_eq!(set.label(&w), Expect::Abstain);
        w.community = "华山社区".into();
        assert_eq!(set.label(&w), Expect::Building(2));
        // A wrong community is tolerated when the rest is unique...
        let mut w = b[1].parts.clone();
        w.community = "华山社区".into();
        assert_eq!(set.label(&w), Expect::Building(1));
        // ... and so is a door off by one when compound and building agree, even if that
        // door exists (19 is 阳光小区's).
        let mut w = b[0].parts.clone();
        w.door = Some(19);
        assert_eq!(set.label(&w), Expect::Building(0));
        // A door alone that is off by one names the other buildings (阳光小区's two).
        let w = AddressParts {
            road: Some("长江西路".into()),
            door: Some(19),
            ..Default::default()
        };
        assert_eq!(set.label(&w), Expect::Abstain);
        let w = AddressParts {
            road: Some("长江西路".into()),
            door: Some(40),
            ..Default::default()
        };
        assert_eq!(set.label(&w), Expect::Building(2));
    }

    #[test]
    fn every_kind_is_drawn_and_traps_are_labelled_abstain() {
        use rand::SeedableRng;
        let (mut b, mut u) = fixture();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let shared = plant_shared_compounds(&mut b, &mut u, 1, &mut rng);
        assert_eq!(shared.len(), 1);
        let twins: Vec<&BuildingEntry> = b
            .iter()
            .filter(|x| x.parts.compound.as_ref() == Some(&shared[0]))
            .collect();
        let communities: BTreeSet<&str> =
            twins.iter().map(|x| x.parts.community.as_str()).collect();
        assert!(communities.len() >= 2, "{communities:?}");
        // Two units per building, copied with their building.
        assert_eq!(u.len(), 10 + twins.len());
        let set = HardSet::new(&b, &u, &shared);
        for _ in 0..50 {
            if let Some(c) = set.case(HardKind::NoSuchBuilding, &mut rng) {
                assert_eq!(c.expect, Expect::Abstain, "{}", c.text);
            }
        }
        let cases = set.cases(20, 20, &mut rng);
        assert!(cases.iter().any(|c| c.kind == HardKind::Homophone));
        assert!(cases.iter().any(|c| c.kind == HardKind::DoorOffByOne));
    }
}
