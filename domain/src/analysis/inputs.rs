//! The models' inputs from the in-memory index: per-building register profiles merged
//! per area, event facts per event generation, areas and polygons.

use super::*;

/// Per-building and per-area register profiles.
pub struct RegisterModels {
    pub(crate) index_id: usize,
    pub reference: YearMonth,
    pub building_population: Vec<PopulationProfile>,
    pub building_housing: Vec<HousingProfile>,
    /// Indexed like `Index::areas`.
    pub area_population: Vec<PopulationProfile>,
    pub area_housing: Vec<HousingProfile>,
    /// Over-crowded units per building and per area (for risk).
    pub building_overcrowded: Vec<u32>,
    pub area_overcrowded: Vec<u32>,
    /// Unit and building codes → building index (to place events by address).
    pub building_of_address: HashMap<String, u32>,
    pub district: Option<u32>,
    /// What callers without personal-data rights get (see [`crate::disclosure`]).
    pub protected: crate::disclosure::ProtectedRegister,
}

/// The events as the models see them.
pub struct EventModels {
    /// (index id, event generation, number of events) they were built from.
    pub(crate) key: (usize, u64, usize),
    pub facts: Vec<EventFacts>,
    pub points: Vec<(f64, f64)>,
    /// Grid index (into `Index::areas`) of each event, if its grid is known.
    pub grid: Vec<Option<u32>>,
    /// Building of each event's address code, if it resolves.
    pub building: Vec<Option<u32>>,
    /// Hash of each event's address code (for repeat disputes).
    pub address: Vec<Option<u64>>,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
}

impl EventModels {
    /// The event generation these facts were built from.
    pub fn generation(&self) -> u64 {
        self.key.1
    }
}

pub(crate) fn sex(male: bool) -> Sex {
    if male { Sex::Male } else { Sex::Female }
}

pub(crate) fn occupancy(s: &str) -> Option<Occupancy> {
    match s {
        "owner" => Some(Occupancy::Owner),
        "rented" => Some(Occupancy::Rented),
        "vacant" => Some(Occupancy::Vacant),
        _ => None,
    }
}

pub(crate) fn enterprise_size(s: &str) -> EnterpriseSize {
    match s {
        "large" => EnterpriseSize::Large,
        "medium" => EnterpriseSize::Medium,
        "small" => EnterpriseSize::Small,
        _ => EnterpriseSize::Micro,
    }
}

/// The area indexes a grid belongs to: itself and its ancestors.
pub(crate) fn chain(ix: &Index, grid: u32) -> Vec<u32> {
    let mut out = vec![grid];
    let mut cur = ix.areas[grid as usize].parent;
    while let Some(p) = cur {
        out.push(p);
        cur = ix.areas[p as usize].parent;
    }
    out
}

pub(crate) fn build_register(
    ix: &Arc<Index>,
    reference: YearMonth,
    rule: CrowdingRule,
) -> RegisterModels {
    let basis = AgeBasis::at(reference);
    let nb = ix.buildings.len();
    let mut building_population = vec![PopulationProfile::new(basis); nb];
    let mut building_housing = vec![HousingProfile::new(rule); nb];
    let mut building_overcrowded = vec![0u32; nb];
    for p in &ix.people {
        let Some(b) = p.building else { continue };
        let (household_size, lives_alone) = match p.unit {
            Some(u) => {
                let n = ix.units[u as usize].residents;
                (n.min(255) as u8, n == 1)
            }
            None => (0, false),
        };
        building_population[b as usize].add(&PersonFacts {
            birth_year: p.birth_year,
            birth_month: p.birth_month,
            sex: sex(p.male),
            registered: !p.floating,
            household_size,
            lives_alone,
            key_groups: p.key_groups,
        });
    }
    for u in &ix.units {
        let Some(occ) = u.occupancy.as_deref().and_then(occupancy) else {
            continue;
        };
        let facts = UnitFacts {
            occupancy: occ,
            residents: u.residents.min(u32::from(u16::MAX)) as u16,
            floor_area_m2: u.floor_area_m2,
        };
        if rule.is_overcrowded(&facts) {
            building_overcrowded[u.building as usize] += 1;
        }
        building_housing[u.building as usize].add_unit(&facts);
    }
    for e in &ix.enterprises {
        let Some(b) = e.building else { continue };
        building_housing[b as usize].add_enterprise(&EnterpriseFacts {
            industry: e
                .industry
                .chars()
                .next()
                .and_then(industry_index)
                .unwrap_or(u8::MAX),
            size: enterprise_size(&e.size),
            employees: e.employees.clamp(0, i64::from(u32::MAX)) as u32,
        });
    }
    let district = ix
        .areas
        .iter()
        .position(|a| a.area.level == AreaLevel::District)
        .map(|i| i as u32);
    let na = ix.areas.len();
    let mut area_population = vec![PopulationProfile::new(basis); na];
    let mut area_housing = vec![HousingProfile::new(rule); na];
    let mut area_overcrowded = vec![0u32; na];
    let mut chains: HashMap<u32, Vec<u32>> = HashMap::new();
    for (b, building) in ix.buildings.iter().enumerate() {
        let members: &[u32] = match building.grid {
            Some(g) => chains.entry(g).or_insert_with(|| chain(ix, g)),
            None => district.as_slice(),
        };
        for &a in members {
            let a = a as usize;
            area_population[a].merge(&building_population[b]);
            area_housing[a].merge(&building_housing[b]);
            area_overcrowded[a] += building_overcrowded[b];
        }
    }
    let mut building_of_address: HashMap<String, u32> = HashMap::with_capacity(ix.units.len() + nb);
    for (b, building) in ix.buildings.iter().enumerate() {
        building_of_address.insert(building.code.clone(), b as u32);
    }
    for u in &ix.units {
        building_of_address.insert(u.code.clone(), u.building);
    }
    let protected = crate::disclosure::ProtectedRegister::build(
        ix,
        &area_population,
        &area_housing,
        &building_population,
        &building_housing,
        district,
    );
    RegisterModels {
        protected,
        index_id: index_id(ix),
        reference,
        building_population,
        building_housing,
        area_population,
        area_housing,
        building_overcrowded,
        area_overcrowded,
        building_of_address,
        district,
    }
}

pub(crate) fn code_index(list: &[&str], s: &str) -> u8 {
    list.iter()
        .position(|c| *c == s)
        .map_or(u8::MAX, |i| i as u8)
}

pub(crate) fn build_events(
    ix: &Index,
    register: &RegisterModels,
    events: &[crate::model::Event],
    key: (usize, u64, usize),
) -> EventModels {
    let grid_of: HashMap<&str, u32> = ix
        .areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.area.level == AreaLevel::Grid)
        .map(|(i, a)| (a.area.code.as_str(), i as u32))
        .collect();
    let n = events.len();
    let mut m = EventModels {
        key,
        facts: Vec::with_capacity(n),
        points: Vec::with_capacity(n),
        grid: Vec::with_capacity(n),
        building: Vec::with_capacity(n),
        address: Vec::with_capacity(n),
        first_at: None,
        last_at: None,
    };
    for e in events {
        let grid = grid_of.get(e.grid_code.as_str()).copied();
        m.facts.push(EventFacts {
            category: code_index(&CATEGORIES, &e.category),
            source: code_index(&SOURCES, &e.source),
            accepted_at: e.reported_at,
            closed_at: e.closed_at.filter(|_| is_closed_status(&e.status)),
            resolved_by_mediation: e.resolved_by_mediation,
            diverted: e.diversion.is_some(),
            deadline: e.deadline,
            worker: grid,
            area: grid.unwrap_or(u32::MAX),
        });
        m.points.push((e.lon, e.lat));
        m.grid.push(grid);
        m.building.push(
            e.address_code
                .as_ref()
                .and_then(|c| register.building_of_address.get(c).copied()),
        );
        m.address.push(e.address_code.as_ref().map(|c| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            c.hash(&mut h);
            h.finish()
        }));
        m.first_at = Some(m.first_at.map_or(e.reported_at, |f| f.min(e.reported_at)));
        m.last_at = Some(m.last_at.map_or(e.reported_at, |l| l.max(e.reported_at)));
    }
    m
}

pub fn parse_category(s: Option<&str>) -> Result<Option<u8>, Error> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(c) => match code_index(&CATEGORIES, c) {
            u8::MAX => Err(Error::Invalid(format!(
                "category must be one of {}, got {c:?}",
                CATEGORIES.join(", ")
            ))),
            i => Ok(Some(i)),
        },
    }
}

pub fn parse_source(s: Option<&str>) -> Result<Option<u8>, Error> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(c) => match code_index(&SOURCES, c) {
            u8::MAX => Err(Error::Invalid(format!(
                "source must be one of {}, got {c:?}",
                SOURCES.join(", ")
            ))),
            i => Ok(Some(i)),
        },
    }
}

pub fn parse_resolution(s: Option<&str>) -> Result<u8, Error> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_RESOLUTION),
        Some(r) => r
            .parse::<u8>()
            .ok()
            .filter(|r| RESOLUTIONS.contains(r))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "resolution must be an H3 resolution from {} to {}, got {r:?}",
                    RESOLUTIONS.start(),
                    RESOLUTIONS.end()
                ))
            }),
    }
}

/// The area index of a code, 404 if unknown; `None` code → the district.
pub fn resolve_area(ix: &Index, code: Option<&str>) -> Result<u32, Error> {
    match code.filter(|s| !s.is_empty()) {
        Some(c) => ix
            .areas
            .iter()
            .position(|a| a.area.code == c)
            .map(|i| i as u32)
            .ok_or_else(|| Error::NotFound(format!("no area with code {c:?}"))),
        None => ix
            .areas
            .iter()
            .position(|a| a.area.level == AreaLevel::District)
            .map(|i| i as u32)
            .ok_or_else(|| Error::NotFound("no district is loaded".into())),
    }
}

/// Whether grid `grid` lies in area `area` (is it or one of its descendants).
pub fn grid_in_area(ix: &Index, grid: u32, area: u32) -> bool {
    let mut cur = Some(grid);
    while let Some(a) = cur {
        if a == area {
            return true;
        }
        cur = ix.areas[a as usize].parent;
    }
    false
}
