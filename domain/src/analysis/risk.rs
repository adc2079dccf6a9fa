//! Model 4: risk scores per grid and per building, explained by their factors.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskLevel {
    Grid,
    Building,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RiskQuery {
    pub level: RiskLevel,
    pub area: u32,
    pub window: Option<Window>,
}

pub struct RiskUnit {
    /// Area index (grid level) or building index.
    pub unit: u32,
    pub inputs: RiskInputs,
    pub score: RiskScore,
}

impl RiskUnit {
    /// The score as a caller without the right to key-group figures gets it: computed
    /// without the key-group factor (its weight set to 0, the others renormalised), so
    /// no part of it depends on key-group persons — withheld means absent, and the
    /// score minus the other parts has nothing left to reveal.
    pub fn without_key_groups(&self, config: &RiskConfig) -> RiskScore {
        let mut public = *config;
        let kg = minqing_analysis::risk::Factor::ALL
            .iter()
            .position(|f| *f == minqing_analysis::risk::Factor::KeyGroupDensity)
            .expect("the key-group factor is one of the factors");
        public.factors[kg].weight = 0.0;
        minqing_analysis::risk::score(&self.inputs, &public)
    }
}

pub struct RiskResult {
    pub window: Window,
    pub now: i64,
    /// Sorted by score, highest first.
    pub units: Vec<RiskUnit>,
}

pub fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Small => "small",
        Tier::Medium => "medium",
        Tier::Large => "large",
    }
}

/// The default risk window: the year up to the latest event (or now, if earlier).
pub(crate) fn default_risk_window(events: &EventModels, now: i64) -> Window {
    let end = events.last_at.map_or(now, |l| (l + 1).min(now));
    Window::new(end - 365 * DAY, end)
}

/// Risk scores of every grid or building of an area (cached, dropped when events change).
pub fn risk(state: &App, q: RiskQuery) -> Result<Arc<RiskResult>, Error> {
    risk_with(state, q, Priority::Request)
}

/// [`risk`], waiting for a computation with `priority`.
pub fn risk_with(state: &App, q: RiskQuery, priority: Priority) -> Result<Arc<RiskResult>, Error> {
    let ix = state.index()?;
    state
        .analysis
        .cached(|c| &mut c.risk, q, priority, || compute_risk(state, &ix, q))
}

/// Risk scores, uncached, with the generation of the events they read.
pub(crate) fn compute_risk(
    state: &App,
    ix: &Arc<Index>,
    q: RiskQuery,
) -> Result<(u64, RiskResult), Error> {
    use minqing_analysis::efficiency::category;
    let an = &state.analysis;
    let register = an.register(ix);
    let events = an.events(state, ix);
    let now = state.clock.now();
    let window = q
        .window
        .unwrap_or_else(|| default_risk_window(&events, now));
    // Units of the level inside the area.
    let units: Vec<u32> = match q.level {
        RiskLevel::Grid => ix
            .areas
            .iter()
            .enumerate()
            .filter(|(i, a)| a.area.level == AreaLevel::Grid && grid_in_area(ix, *i as u32, q.area))
            .map(|(i, _)| i as u32)
            .collect(),
        RiskLevel::Building => ix
            .buildings
            .iter()
            .enumerate()
            .filter(|(_, b)| match b.grid {
                Some(g) => grid_in_area(ix, g, q.area),
                None => Some(q.area) == register.district,
            })
            .map(|(i, _)| i as u32)
            .collect(),
    };
    let mut inputs: HashMap<u32, RiskInputs> = units
        .iter()
        .map(|&u| {
            let (residents, key_group_persons, overcrowded_units) = match q.level {
                RiskLevel::Grid => {
                    let p = &register.area_population[u as usize];
                    (
                        p.residents,
                        p.key_group_persons,
                        register.area_overcrowded[u as usize],
                    )
                }
                RiskLevel::Building => {
                    let b = &ix.buildings[u as usize];
                    (
                        b.residents,
                        b.key_group_people,
                        register.building_overcrowded[u as usize],
                    )
                }
            };
            (
                u,
                RiskInputs {
                    residents,
                    key_group_persons,
                    overcrowded_units,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut dispute_addresses: HashMap<u32, Vec<u64>> = HashMap::new();
    for (i, f) in events.facts.iter().enumerate() {
        if !window.contains(f.accepted_at) {
            continue;
        }
        let unit = match q.level {
            RiskLevel::Grid => events.grid[i],
            RiskLevel::Building => events.building[i],
        };
        let Some(unit) = unit else { continue };
        let Some(inp) = inputs.get_mut(&unit) else {
            continue;
        };
        let closed = f.is_closed_at(now);
        if !closed {
            inp.unresolved_events += 1;
        }
        let late = match f.closed_at.filter(|_| closed) {
            Some(c) => c > f.deadline,
            None => f.deadline < now,
        };
        if late {
            inp.overdue_events += 1;
        }
        if f.category == category::PETITION {
            inp.petitions += 1;
        }
        if f.category == category::DISPUTE
            && let Some(a) = events.address[i]
        {
            dispute_addresses.entry(unit).or_default().push(a);
        }
    }
    for (unit, addrs) in &dispute_addresses {
        if let Some(inp) = inputs.get_mut(unit) {
            inp.repeat_dispute_addresses = minqing_analysis::risk::repeat_addresses(addrs, 2);
        }
    }
    let config = match q.level {
        RiskLevel::Grid => &an.risk_grid,
        RiskLevel::Building => &an.risk_building,
    };
    let mut scored: Vec<RiskUnit> = units
        .iter()
        .map(|&u| {
            let inputs = inputs[&u];
            RiskUnit {
                unit: u,
                inputs,
                score: minqing_analysis::risk::score(&inputs, config),
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .score
            .total_cmp(&a.score.score)
            .then(a.unit.cmp(&b.unit))
    });
    Ok((
        events.generation(),
        RiskResult {
            window,
            now,
            units: scored,
        },
    ))
}

/// One feature of the `risk` tile layer.
#[derive(Debug, Clone)]
pub enum RiskGeometry {
    /// A grid's polygon.
    Polygon(geo_types::MultiPolygon<f64>),
    /// A building's point (lon, lat).
    Point(f64, f64),
}

#[derive(Debug, Clone)]
pub struct RiskFeature {
    pub code: String,
    pub geometry: RiskGeometry,
    pub score: f64,
    pub tier: &'static str,
}

/// The `risk` tile layer: every grid (polygons) or building (points) of the district
/// with its score and tier over the default window.
pub fn risk_layer(state: &App, level: RiskLevel) -> Result<Vec<RiskFeature>, Error> {
    let ix = state.index()?;
    let area = resolve_area(&ix, None)?;
    let r = risk(
        state,
        RiskQuery {
            level,
            area,
            window: None,
        },
    )?;
    Ok(r.units
        .iter()
        .map(|u| {
            let (code, geometry) = match level {
                RiskLevel::Grid => {
                    let a = &ix.areas[u.unit as usize];
                    (
                        a.area.code.clone(),
                        RiskGeometry::Polygon(a.area.geometry.clone()),
                    )
                }
                RiskLevel::Building => {
                    let b = &ix.buildings[u.unit as usize];
                    (b.code.clone(), RiskGeometry::Point(b.lon, b.lat))
                }
            };
            RiskFeature {
                code,
                geometry,
                score: u.score.score,
                tier: tier_name(u.score.tier),
            }
        })
        .collect())
}
