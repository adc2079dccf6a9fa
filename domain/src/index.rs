//! The in-memory index: everything the read path serves, built once from the store.
//!
//! rstar R-trees over building points and event points, an R-tree of grid envelopes
//! with exact point-in-polygon for locating a point's grid, and per-building aggregates
//! (residents, units, enterprises, key-group people) computed at load. Residents are kept
//! as derived facts only (sex, birth month, registration, key-group bits): names, ID
//! numbers and phones never enter the index, so no read path can leak them.

use crate::model::{Area, AreaLevel, Event, LinkStatus, Road};
use crate::store::load::Snapshot;
use geo::{Area as _, BoundingRect, Contains};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use std::collections::HashMap as StdHashMap;

/// The index's code → position maps: foldhash instead of SipHash (the codes come from the
/// store, not from requests, and the maps are built from about 450,000 codes at start).
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

pub type PointEntry = GeomWithData<[f64; 2], u32>;
type RectEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Debug, Clone)]
pub struct AreaEntry {
    pub area: Area,
    /// Index of the parent area.
    pub parent: Option<u32>,
    pub area_km2: f64,
}

#[derive(Debug, Clone, Default)]
pub struct BuildingEntry {
    pub code: String,
    pub label: String,
    pub lon: f64,
    pub lat: f64,
    /// Index of the building's grid in `areas`.
    pub grid: Option<u32>,
    pub kind: String,
    pub floors: u32,
    pub units: u32,
    pub residents: u32,
    pub enterprises: u32,
    pub key_group_people: u32,
}

#[derive(Debug, Clone)]
pub struct UnitEntry {
    pub code: String,
    pub building: u32,
    /// Shared per distinct value (a handful: one allocation per unit was 3.27 million
    /// at --scale 10).
    pub occupancy: Option<std::sync::Arc<str>>,
    /// Floor area of the unit's housing record in m² (0 = unknown or no record).
    pub floor_area_m2: f32,
    pub residents: u32,
}

/// A resident as the index keeps one: no personal identifiers.
#[derive(Debug, Clone, Copy)]
pub struct PersonFacts {
    pub unit: Option<u32>,
    pub building: Option<u32>,
    pub male: bool,
    pub birth_year: u16,
    pub birth_month: u8,
    pub floating: bool,
    pub key_groups: u8,
}

#[derive(Debug, Clone)]
pub struct EnterpriseEntry {
    pub building: Option<u32>,
    pub industry: String,
    pub size: String,
    pub employees: i64,
}

/// Link status totals of the records loaded, for the stats endpoint and the review queue.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkTotals {
    pub unit: u64,
    pub building: u64,
    pub ambiguous: u64,
    pub unmatched: u64,
    pub pending: u64,
}

impl LinkTotals {
    fn remove(&mut self, l: LinkStatus) {
        let n = match l {
            LinkStatus::Unit => &mut self.unit,
            LinkStatus::Building => &mut self.building,
            LinkStatus::Ambiguous => &mut self.ambiguous,
            LinkStatus::Unmatched => &mut self.unmatched,
            LinkStatus::Pending => &mut self.pending,
        };
        *n = n.saturating_sub(1);
    }

    fn add(&mut self, l: LinkStatus) {
        match l {
            LinkStatus::Unit => self.unit += 1,
            LinkStatus::Building => self.building += 1,
            LinkStatus::Ambiguous => self.ambiguous += 1,
            LinkStatus::Unmatched => self.unmatched += 1,
            LinkStatus::Pending => self.pending += 1,
        }
    }
}

/// One record's change of link, as a review resolution made it (see [`Index::relinked`]).
#[derive(Debug, Clone)]
pub struct Relink {
    pub record: RecordFacts,
    pub old_code: Option<String>,
    pub old_link: LinkStatus,
    pub new_code: String,
    pub new_link: LinkStatus,
}

/// The facts of the record that the index keeps (never a name, ID number or phone).
#[derive(Debug, Clone)]
pub enum RecordFacts {
    Resident {
        male: bool,
        birth_year: u16,
        birth_month: u8,
        floating: bool,
        key_groups: u8,
    },
    Housing {
        occupancy: String,
        floor_area: f64,
    },
    Enterprise {
        industry: String,
        size: String,
        employees: i64,
    },
}

/// Each built or relinked index gets a new id, so caches keyed by it (the analysis
/// models) never mistake one index for another (an address can be reused after a drop).
static NEXT_INDEX_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_index_id() -> u64 {
    NEXT_INDEX_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Clone)]
pub struct Index {
    /// Unique per built or relinked index (see [`Index::relinked`]).
    pub id: u64,
    pub areas: Vec<AreaEntry>,
    area_by_code: HashMap<String, u32>,
    grid_tree: RTree<RectEntry>,
    pub roads: Vec<Road>,
    /// Water, land use and points of interest (shared: they never change after load).
    pub basemap: std::sync::Arc<crate::basemap::Basemap>,
    pub buildings: Vec<BuildingEntry>,
    building_by_code: HashMap<String, u32>,
    pub building_tree: RTree<PointEntry>,
    pub units: Vec<UnitEntry>,
    pub unit_count: usize,
    pub housing_count: usize,
    pub people: Vec<PersonFacts>,
    pub enterprises: Vec<EnterpriseEntry>,
    pub resident_links: LinkTotals,
    pub housing_links: LinkTotals,
    pub enterprise_links: LinkTotals,
    /// The address matcher's register (search, geocode, linking). Its building `i` is
    /// `buildings[i]`.
    pub register: std::sync::Arc<minqing_address::Register>,
    /// Patrol teams and patrols, grid forces, the work list and dispatched tasks: shared
    /// by every copy of this index (writes apply to it after their commit).
    pub forces: std::sync::Arc<parking_lot::RwLock<crate::forces::ForcesIndex>>,
}

fn km2(mp: &geo_types::MultiPolygon<f64>) -> f64 {
    // Equirectangular area at the polygon's latitude: good to well under 1% at a
    // district's size, and cheap.
    let lat = mp.bounding_rect().map_or(31.0, |r| r.center().y);
    let k = 111.32 * 110.574 * lat.to_radians().cos();
    mp.unsigned_area() * k
}

impl Index {
    /// Build the register part of the index; `s.events` is left for [`EventIndex::build`].
    ///
    /// The address matcher's register (the largest single part) is built on a second
    /// thread while this one builds the rest.
    pub fn build(mut s: Snapshot) -> Index {
        let forces = std::mem::take(&mut s.forces);
        let names = crate::address_service::area_names(&s.areas);
        let ix = std::thread::scope(|scope| {
            let register = scope.spawn(|| {
                let started = std::time::Instant::now();
                let r = crate::address_service::build_register(
                    &names,
                    &s.buildings,
                    &s.units,
                    &s.aliases,
                );
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    "address register built"
                );
                r
            });
            let started = std::time::Instant::now();
            let mut ix = Index::build_rest(&s);
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "index built (without the register)"
            );
            let register = register
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            ix.register = std::sync::Arc::new(register.unwrap_or_else(|e| {
                // Codes are primary keys, so this cannot happen with a sound store; serve
                // the rest of the index rather than nothing.
                tracing::error!(error = ?e, "address register not built; search and geocoding are empty");
                minqing_address::Register::new(Vec::new(), Vec::new()).expect("empty register")
            }));
            ix
        });
        // Freeing the snapshot's million-odd strings is a measurable part of the start-up;
        // it need not delay serving.
        std::thread::spawn(move || drop(s));
        let mut ix = ix;
        ix.forces = std::sync::Arc::new(parking_lot::RwLock::new(
            crate::forces::ForcesIndex::build(forces, &ix),
        ));
        ix
    }

    /// Everything but the register (left empty), from a borrowed snapshot so the register
    /// can be built from the same snapshot at the same time.
    fn build_rest(s: &Snapshot) -> Index {
        let mut area_by_code = HashMap::with_capacity_and_hasher(s.areas.len(), Default::default());
        for (i, a) in s.areas.iter().enumerate() {
            area_by_code.insert(a.code.clone(), i as u32);
        }
        let areas: Vec<AreaEntry> = s
            .areas
            .iter()
            .map(|a| AreaEntry {
                parent: a.parent.as_ref().and_then(|p| area_by_code.get(p).copied()),
                area_km2: km2(&a.geometry),
                area: a.clone(),
            })
            .collect();
        let grid_tree = RTree::bulk_load(
            areas
                .iter()
                .enumerate()
                .filter(|(_, a)| a.area.level == AreaLevel::Grid)
                .filter_map(|(i, a)| {
                    let r = a.area.geometry.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i as u32,
                    ))
                })
                .collect(),
        );

        let mut building_by_code =
            HashMap::with_capacity_and_hasher(s.buildings.len(), Default::default());
        let mut buildings: Vec<BuildingEntry> = Vec::with_capacity(s.buildings.len());
        for b in &s.buildings {
            building_by_code.insert(b.code.clone(), buildings.len() as u32);
            buildings.push(BuildingEntry {
                grid: area_by_code.get(&b.grid_code).copied(),
                code: b.code.clone(),
                label: b.label.clone(),
                lon: b.lon,
                lat: b.lat,
                kind: b.kind.clone(),
                floors: b.floors,
                ..Default::default()
            });
        }
        let building_tree = RTree::bulk_load(
            buildings
                .iter()
                .enumerate()
                .map(|(i, b)| GeomWithData::new([b.lon, b.lat], i as u32))
                .collect(),
        );

        // Borrowed keys: the snapshot outlives this build, and at --scale 10 owned ones
        // were 3.27 million allocations (and their fresh pages) thrown away after it.
        let mut unit_by_code: HashMap<&str, u32> =
            HashMap::with_capacity_and_hasher(s.units.len(), Default::default());
        let mut units = Vec::with_capacity(s.units.len());
        for u in &s.units {
            let Some(&b) = building_by_code.get(&u.building_code) else {
                continue;
            };
            buildings[b as usize].units += 1;
            unit_by_code.insert(u.code.as_str(), units.len() as u32);
            units.push(UnitEntry {
                code: u.code.clone(),
                building: b,
                occupancy: None,
                floor_area_m2: 0.0,
                residents: 0,
            });
        }
        let mut housing_links = LinkTotals::default();
        let mut occupancies: HashMap<&str, std::sync::Arc<str>> = HashMap::default();
        for h in &s.housing {
            housing_links.add(h.link);
            if let Some(&u) = h
                .address_code
                .as_ref()
                .and_then(|c| unit_by_code.get(c.as_str()))
            {
                let occupancy = occupancies
                    .entry(h.occupancy.as_str())
                    .or_insert_with(|| h.occupancy.as_str().into());
                units[u as usize].occupancy = Some(occupancy.clone());
                units[u as usize].floor_area_m2 = h.floor_area as f32;
            }
        }
        let unit_building: Vec<u32> = units.iter().map(|u| u.building).collect();
        let resolve = |code: &Option<String>| -> (Option<u32>, Option<u32>) {
            match code {
                Some(c) => match unit_by_code.get(c.as_str()) {
                    Some(&u) => (Some(u), Some(unit_building[u as usize])),
                    None => (None, building_by_code.get(c).copied()),
                },
                None => (None, None),
            }
        };
        let mut resident_links = LinkTotals::default();
        let mut people = Vec::with_capacity(s.residents.len());
        for r in &s.residents {
            resident_links.add(r.link);
            let (unit, building) = resolve(&r.address_code);
            people.push(PersonFacts {
                unit,
                building,
                male: r.male,
                birth_year: r.birth_year,
                birth_month: r.birth_month,
                floating: r.floating,
                key_groups: r.key_groups,
            });
        }
        for p in &people {
            if let Some(u) = p.unit {
                units[u as usize].residents += 1;
            }
            if let Some(b) = p.building {
                let b = &mut buildings[b as usize];
                b.residents += 1;
                if p.key_groups != 0 {
                    b.key_group_people += 1;
                }
            }
        }
        let mut enterprise_links = LinkTotals::default();
        let enterprises: Vec<EnterpriseEntry> = s
            .enterprises
            .iter()
            .map(|e| {
                enterprise_links.add(e.link);
                let (_, building) = resolve(&e.address_code);
                if let Some(b) = building {
                    buildings[b as usize].enterprises += 1;
                }
                EnterpriseEntry {
                    building,
                    industry: e.industry.clone(),
                    size: e.size.clone(),
                    employees: e.employees,
                }
            })
            .collect();
        Index {
            id: next_index_id(),
            areas,
            area_by_code,
            grid_tree,
            roads: s.roads.clone(),
            basemap: std::sync::Arc::new(s.basemap.clone()),
            buildings,
            building_by_code,
            building_tree,
            unit_count: units.len(),
            units,
            housing_count: s.housing.len(),
            people,
            enterprises,
            resident_links,
            housing_links,
            enterprise_links,
            register: std::sync::Arc::new(
                minqing_address::Register::new(Vec::new(), Vec::new()).expect("empty register"),
            ),
            forces: Default::default(),
        }
    }

    /// The record → (unit, building) of a register code, as the load resolves it.
    fn place(&self, code: Option<&str>) -> (Option<u32>, Option<u32>) {
        match code.and_then(|c| self.register.find_code(c)) {
            Some((minqing_address::Level::Unit, u)) => match self.units.get(u) {
                Some(e) => (Some(u as u32), Some(e.building)),
                None => (None, None),
            },
            Some((minqing_address::Level::Building, b)) if b < self.buildings.len() => {
                (None, Some(b as u32))
            }
            _ => (None, None),
        }
    }

    /// A copy of this index with one record's link changed as a review resolution did
    /// in the store: the per-building and per-unit counts, the record's own entry and
    /// the link totals move from the old code to the new one, exactly as a reload would
    /// place them. A record the index does not hold yet (imported after the load) is
    /// added. The register itself is shared, not copied.
    pub fn relinked(&self, change: &Relink) -> Index {
        let mut ix = self.clone();
        ix.id = next_index_id();
        let (old_u, old_b) = ix.place(change.old_code.as_deref());
        let (new_u, new_b) = ix.place(Some(&change.new_code));
        match &change.record {
            RecordFacts::Resident {
                male,
                birth_year,
                birth_month,
                floating,
                key_groups,
            } => {
                ix.resident_links.remove(change.old_link);
                ix.resident_links.add(change.new_link);
                let same = |p: &PersonFacts| {
                    p.unit == old_u
                        && p.building == old_b
                        && p.male == *male
                        && p.birth_year == *birth_year
                        && p.birth_month == *birth_month
                        && p.floating == *floating
                        && p.key_groups == *key_groups
                };
                // Persons with equal facts and link are interchangeable in the index.
                match ix.people.iter().position(same) {
                    Some(i) => {
                        if let Some(u) = old_u {
                            let e = &mut ix.units[u as usize];
                            e.residents = e.residents.saturating_sub(1);
                        }
                        if let Some(b) = old_b {
                            let e = &mut ix.buildings[b as usize];
                            e.residents = e.residents.saturating_sub(1);
                            if *key_groups != 0 {
                                e.key_group_people = e.key_group_people.saturating_sub(1);
                            }
                        }
                        ix.people[i].unit = new_u;
                        ix.people[i].building = new_b;
                    }
                    None => ix.people.push(PersonFacts {
                        unit: new_u,
                        building: new_b,
                        male: *male,
                        birth_year: *birth_year,
                        birth_month: *birth_month,
                        floating: *floating,
                        key_groups: *key_groups,
                    }),
                }
                if let Some(u) = new_u {
                    ix.units[u as usize].residents += 1;
                }
                if let Some(b) = new_b {
                    let e = &mut ix.buildings[b as usize];
                    e.residents += 1;
                    if *key_groups != 0 {
                        e.key_group_people += 1;
                    }
                }
            }
            RecordFacts::Housing {
                occupancy,
                floor_area,
            } => {
                ix.housing_links.remove(change.old_link);
                ix.housing_links.add(change.new_link);
                if let Some(u) = old_u
                    && old_u != new_u
                {
                    let e = &mut ix.units[u as usize];
                    e.occupancy = None;
                    e.floor_area_m2 = 0.0;
                }
                if let Some(u) = new_u {
                    let e = &mut ix.units[u as usize];
                    e.occupancy = Some(occupancy.as_str().into());
                    e.floor_area_m2 = *floor_area as f32;
                }
            }
            RecordFacts::Enterprise {
                industry,
                size,
                employees,
            } => {
                ix.enterprise_links.remove(change.old_link);
                ix.enterprise_links.add(change.new_link);
                let same = |e: &EnterpriseEntry| {
                    e.building == old_b
                        && e.industry == *industry
                        && e.size == *size
                        && e.employees == *employees
                };
                match ix.enterprises.iter().position(same) {
                    Some(i) => {
                        if let Some(b) = old_b {
                            let e = &mut ix.buildings[b as usize];
                            e.enterprises = e.enterprises.saturating_sub(1);
                        }
                        ix.enterprises[i].building = new_b;
                    }
                    None => ix.enterprises.push(EnterpriseEntry {
                        building: new_b,
                        industry: industry.clone(),
                        size: size.clone(),
                        employees: *employees,
                    }),
                }
                if let Some(b) = new_b {
                    ix.buildings[b as usize].enterprises += 1;
                }
            }
        }
        ix
    }

    pub fn area(&self, code: &str) -> Option<&AreaEntry> {
        self.area_by_code
            .get(code)
            .map(|&i| &self.areas[i as usize])
    }

    pub fn building(&self, code: &str) -> Option<&BuildingEntry> {
        self.building_by_code
            .get(code)
            .map(|&i| &self.buildings[i as usize])
    }

    /// The register's label for an address code: a building's own, or for a unit
    /// (its building's code and six digits) its building's.
    pub fn address_label(&self, code: &str) -> Option<&str> {
        self.building(code)
            .or_else(|| {
                let cut = code.len().checked_sub(6)?;
                self.building(code.get(..cut)?)
            })
            .map(|b| b.label.as_str())
    }

    /// The grid containing a point (exact point-in-polygon).
    pub fn grid_at(&self, lon: f64, lat: f64) -> Option<&AreaEntry> {
        let p = geo_types::Point::new(lon, lat);
        self.grid_tree
            .locate_all_at_point(&[lon, lat])
            .map(|e| &self.areas[e.data as usize])
            .find(|a| a.area.geometry.contains(&p))
    }

    /// The chain grid → community → township → district of an area.
    pub fn ancestors<'a>(&'a self, area: &'a AreaEntry) -> Vec<&'a AreaEntry> {
        let mut out = vec![area];
        let mut cur = area.parent;
        while let Some(p) = cur {
            let a = &self.areas[p as usize];
            out.push(a);
            cur = a.parent;
        }
        out
    }

    /// The nearest building to a point.
    pub fn nearest_building(&self, lon: f64, lat: f64) -> Option<&BuildingEntry> {
        self.building_tree
            .nearest_neighbor(&[lon, lat])
            .map(|e| &self.buildings[e.data as usize])
    }

    /// Buildings whose point lies in a lon/lat box.
    pub fn buildings_in(
        &self,
        min: [f64; 2],
        max: [f64; 2],
    ) -> impl Iterator<Item = &BuildingEntry> {
        self.building_tree
            .locate_in_envelope(&AABB::from_corners(min, max))
            .map(|e| &self.buildings[e.data as usize])
    }

    pub fn count_level(&self, level: AreaLevel) -> usize {
        self.areas.iter().filter(|a| a.area.level == level).count()
    }
}

/// The list's order: report time, then code (both ascending).
fn time_order(a: &Event, b: &Event) -> std::cmp::Ordering {
    a.reported_at
        .cmp(&b.reported_at)
        .then_with(|| a.code.cmp(&b.code))
}

/// A value outside its vocabulary, or no owner: matches no filter value.
pub const NO_ID: u32 = u32::MAX;

/// What the list's filters and counts read of one event, packed: the list scans every
/// event of the district for each page, and half a million full records (each a few
/// hundred bytes behind a dozen pointers) do not stay in cache, while these 40-byte keys,
/// kept in time order, are read front to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListKey {
    pub reported_at: i64,
    pub deadline: i64,
    /// Position in [`EventIndex::events`].
    pub event: u32,
    /// The grid code's id in [`EventIndex::grid_id`].
    pub grid: u32,
    /// The owner's id in [`EventIndex::owner_id`], or [`NO_ID`].
    pub owner: u32,
    /// Positions in `model::STATUSES`, `model::CATEGORIES`, `model::SOURCES` and
    /// `events::RISK_TIERS` (`u8::MAX`: not among them).
    pub status: u8,
    pub category: u8,
    pub source: u8,
    pub tier: u8,
    pub escalated: bool,
    pub supervised: bool,
}

/// `v`'s position in `vocabulary`, or `u8::MAX`.
pub fn vocabulary_index(vocabulary: &[&str], v: &str) -> u8 {
    vocabulary
        .iter()
        .position(|x| *x == v)
        .map_or(u8::MAX, |i| i as u8)
}

/// Strings numbered in the order they were first seen.
#[derive(Default)]
struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.0.get(s) {
            return id;
        }
        let id = self.0.len() as u32;
        self.0.insert(s.to_string(), id);
        id
    }
}

/// The events, which change at run time: kept apart from the register so a write takes
/// a short lock on this alone and never copies the register.
#[derive(Default)]
pub struct EventIndex {
    pub events: Vec<Event>,
    by_code: HashMap<String, u32>,
    pub tree: RTree<PointEntry>,
    /// Every event's [`ListKey`], ordered by (`reported_at`, `code`), oldest first: the
    /// list reads it backwards, newest first, and never sorts the district per request.
    by_time: Vec<ListKey>,
    grids: Interner,
    owners: Interner,
    /// When each event first reached each stage of the funnel, from its history (set
    /// at load from `event_steps`, kept by [`EventIndex::upsert`]); see
    /// `crate::events::work::funnel`.
    pub reached: StdHashMap<String, crate::events::work::Reached>,
}

impl EventIndex {
    pub fn build(events: Vec<Event>) -> EventIndex {
        let by_code = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.code.clone(), i as u32))
            .collect();
        let tree = RTree::bulk_load(
            events
                .iter()
                .enumerate()
                .map(|(i, e)| GeomWithData::new([e.lon, e.lat], i as u32))
                .collect(),
        );
        let mut order: Vec<u32> = (0..events.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| time_order(&events[a as usize], &events[b as usize]));
        let mut ix = EventIndex {
            events,
            by_code,
            tree,
            by_time: Vec::with_capacity(order.len()),
            grids: Interner::default(),
            owners: Interner::default(),
            reached: StdHashMap::new(),
        };
        for i in order {
            let key = ix.key_of(i);
            ix.by_time.push(key);
        }
        ix
    }

    /// The key of `events[i]` (numbering its grid and owner if they are new).
    fn key_of(&mut self, i: u32) -> ListKey {
        let e = &self.events[i as usize];
        ListKey {
            reported_at: e.reported_at,
            deadline: e.deadline,
            event: i,
            grid: self.grids.id(&e.grid_code),
            owner: e.owner.as_deref().map_or(NO_ID, |o| self.owners.id(o)),
            status: vocabulary_index(&crate::model::STATUSES, &e.status),
            category: vocabulary_index(&crate::model::CATEGORIES, &e.category),
            source: vocabulary_index(&crate::model::SOURCES, &e.source),
            tier: vocabulary_index(&crate::events::RISK_TIERS, &e.risk_tier),
            escalated: e.escalated,
            supervised: e.supervision.is_some(),
        }
    }

    /// The id of a grid code in [`ListKey::grid`] (`None`: no event has that grid).
    pub fn grid_id(&self, code: &str) -> Option<u32> {
        self.grids.0.get(code).copied()
    }

    /// The id of an owner in [`ListKey::owner`] (`None`: no event has that owner).
    pub fn owner_id(&self, username: &str) -> Option<u32> {
        self.owners.0.get(username).copied()
    }

    /// Number of grid ids handed out (every [`ListKey::grid`] is below it).
    pub fn grid_ids(&self) -> usize {
        self.grids.0.len()
    }

    /// The keys of the events reported in `from..to` (Unix seconds), newest first (equal
    /// times by code, higher first); `i64::MIN..i64::MAX` for every event.
    pub fn keys_newest_first(&self, from: i64, to: i64) -> impl Iterator<Item = &ListKey> {
        let at = |t: i64| self.by_time.partition_point(|k| k.reported_at < t);
        self.by_time[at(from)..at(to)].iter().rev()
    }

    /// The events reported in `from..to`, newest first (see [`Self::keys_newest_first`]).
    pub fn newest_first(&self, from: i64, to: i64) -> impl Iterator<Item = &Event> {
        self.keys_newest_first(from, to)
            .map(|k| &self.events[k.event as usize])
    }

    /// Where `e` belongs in `by_time`: after every event ordered before it.
    fn time_slot(&self, e: &Event) -> usize {
        self.by_time.partition_point(|k| {
            time_order(&self.events[k.event as usize], e) == std::cmp::Ordering::Less
        })
    }

    pub fn get(&self, code: &str) -> Option<&Event> {
        self.by_code.get(code).map(|&i| &self.events[i as usize])
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Insert a new event or replace the stored one with the same code (moving its point
    /// in the tree if it moved). Returns the previous version, if any.
    pub fn upsert(&mut self, event: Event) -> Option<Event> {
        let moved_on = self
            .get(&event.code)
            .is_none_or(|old| old.status != event.status);
        if moved_on && crate::events::work::funnel_stage(&event.status) > 0 {
            // The change's time is when the event entered its new status.
            self.reached
                .entry(event.code.clone())
                .or_insert(crate::events::work::Reached::NONE)
                .note(&event.status, event.updated_at);
        }
        match self.by_code.get(&event.code).copied() {
            Some(i) => {
                // Codes are unique, so the old event's slot is where it stands.
                let at = self.time_slot(&self.events[i as usize]);
                debug_assert_eq!(self.by_time.get(at).map(|k| k.event), Some(i));
                let old = std::mem::replace(&mut self.events[i as usize], event);
                let key = self.key_of(i);
                if old.reported_at == key.reported_at {
                    self.by_time[at] = key;
                } else {
                    // A corrected report time moves the event in the time order.
                    self.by_time.remove(at);
                    let to = self.time_slot(&self.events[i as usize]);
                    self.by_time.insert(to, key);
                }
                let new = &self.events[i as usize];
                if (old.lon, old.lat) != (new.lon, new.lat) {
                    self.tree.remove(&GeomWithData::new([old.lon, old.lat], i));
                    self.tree.insert(GeomWithData::new([new.lon, new.lat], i));
                }
                Some(old)
            }
            None => {
                let i = self.events.len() as u32;
                self.tree
                    .insert(GeomWithData::new([event.lon, event.lat], i));
                self.by_code.insert(event.code.clone(), i);
                // New reports are usually the newest: the slot is then the end.
                let to = self.time_slot(&event);
                self.events.push(event);
                let key = self.key_of(i);
                self.by_time.insert(to, key);
                None
            }
        }
    }

    /// Events whose point lies in a lon/lat box.
    pub fn in_box(&self, min: [f64; 2], max: [f64; 2]) -> impl Iterator<Item = &Event> {
        self.tree
            .locate_in_envelope(&AABB::from_corners(min, max))
            .map(|e| &self.events[e.data as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(code: &str, reported_at: i64) -> Event {
        Event {
            code: code.into(),
            reported_at,
            status: "accepted".into(),
            ..Default::default()
        }
    }

    fn order(ix: &EventIndex, from: i64, to: i64) -> Vec<String> {
        ix.newest_first(from, to).map(|e| e.code.clone()).collect()
    }

    #[test]
    fn events_stay_newest_first_through_upserts() {
        let mut ix = EventIndex::build(vec![
            event("c", 30),
            event("a", 10),
            event("d", 30),
            event("b", 20),
        ]);
        // Equal times by code, higher first.
        assert_eq!(order(&ix, i64::MIN, i64::MAX), ["d", "c", "b", "a"]);
        // A new report, the newest; one reported late, in the past.
        ix.upsert(event("e", 40));
        ix.upsert(event("f", 15));
        assert_eq!(
            order(&ix, i64::MIN, i64::MAX),
            ["e", "d", "c", "b", "f", "a"]
        );
        // A step that keeps the time keeps the place; a corrected time moves it.
        let mut moved = event("c", 30);
        moved.status = "mediating".into();
        ix.upsert(moved);
        assert_eq!(
            order(&ix, i64::MIN, i64::MAX),
            ["e", "d", "c", "b", "f", "a"]
        );
        let key_of = |ix: &EventIndex, code: &str| {
            *ix.keys_newest_first(i64::MIN, i64::MAX)
                .find(|k| ix.events[k.event as usize].code == code)
                .unwrap()
        };
        assert_eq!(key_of(&ix, "c").status, 1, "the key follows the step");
        ix.upsert(event("c", 5));
        assert_eq!(key_of(&ix, "c").status, 0);
        assert_eq!(
            order(&ix, i64::MIN, i64::MAX),
            ["e", "d", "b", "f", "a", "c"]
        );
        // A window is half-open: from included, to left out.
        assert_eq!(order(&ix, 15, 30), ["b", "f"]);
        assert_eq!(order(&ix, 30, 41), ["e", "d"]);
        assert!(order(&ix, 41, 50).is_empty());
        assert_eq!(ix.len(), 6);
    }
}
