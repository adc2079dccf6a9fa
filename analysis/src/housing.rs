//! Model 2 — housing and enterprises of an area.
//!
//! Same shape as [`crate::population`]: a [`HousingProfile`] of integer counters
//! that the server fills per building ([`HousingProfile::add_unit`],
//! [`HousingProfile::add_enterprise`]), merges per area (exactly associative, as all
//! counters are integers) and turns into figures with [`HousingProfile::finish`].
//!
//! # Definitions
//!
//! * **Occupancy** is the register's classification of a unit: owner-occupied,
//!   rented or vacant. Shares are of all units; the **rental share** is rented units
//!   among *occupied* (owner + rented) units, the figure usually quoted for rental
//!   pressure.
//! * **Over-crowded units (群租)** follow a [`CrowdingRule`] fixed when the profile
//!   is created (the rule is applied as units are added, so profiles stay integer):
//!   a unit is over-crowded when it has at least `min_residents` residents, or less
//!   than `min_area_per_person_m2` of floor area per resident. With
//!   `rented_only` (the default) only rented units can be over-crowded, because
//!   群租 is a rental problem; a large owner family is not. A missing, zero or
//!   non-finite floor area disables the area test for that unit (counted in
//!   `unknown_area`).
//! * **Mismatches** are units classified vacant that nonetheless have residents
//!   registered at them: either the occupancy or the residents' addresses are wrong,
//!   and both are worth a grid worker's visit.
//! * **Enterprises** are counted by GB/T 4754-2017 section (index 0 = A …
//!   19 = T, see [`INDUSTRY_SECTIONS`]; anything else counts as unknown) and by size
//!   class, with employee totals.

/// How the register classifies a housing unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occupancy {
    Owner,
    Rented,
    Vacant,
}

/// What the model needs to know about one housing unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitFacts {
    pub occupancy: Occupancy,
    /// Residents registered at the unit.
    pub residents: u16,
    /// Floor (building) area in m²; 0 or non-finite = unknown.
    pub floor_area_m2: f32,
}

/// Enterprise size classes (大型/中型/小型/微型, per the national classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnterpriseSize {
    Micro,
    Small,
    Medium,
    Large,
}

impl EnterpriseSize {
    /// All classes in the order used by [`EnterpriseStructure::by_size`].
    pub const ALL: [EnterpriseSize; 4] = [Self::Micro, Self::Small, Self::Medium, Self::Large];

    fn index(self) -> usize {
        match self {
            Self::Micro => 0,
            Self::Small => 1,
            Self::Medium => 2,
            Self::Large => 3,
        }
    }
}

/// What the model needs to know about one enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterpriseFacts {
    /// GB/T 4754 section index: 0 = A (agriculture) … 19 = T (international
    /// organisations).
    pub industry: u8,
    pub size: EnterpriseSize,
    pub employees: u32,
}

/// Section letters of GB/T 4754-2017, indexed by [`EnterpriseFacts::industry`].
pub const INDUSTRY_SECTIONS: [char; 20] = [
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S',
    'T',
];

/// Section letter for an industry index, `None` if out of range.
pub fn industry_section(index: u8) -> Option<char> {
    INDUSTRY_SECTIONS.get(usize::from(index)).copied()
}

/// Section index for a letter (case-insensitive), `None` if not a section.
pub fn industry_index(section: char) -> Option<u8> {
    let c = section.to_ascii_uppercase();
    INDUSTRY_SECTIONS
        .iter()
        .position(|&s| s == c)
        .and_then(|i| u8::try_from(i).ok())
}

/// When a unit counts as over-crowded (群租). See the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrowdingRule {
    /// Residents at or above this make a unit over-crowded; 0 disables the test.
    pub min_residents: u16,
    /// Floor area per resident below this makes a unit over-crowded; 0 disables.
    pub min_area_per_person_m2: f32,
    /// Apply the rule to rented units only.
    pub rented_only: bool,
}

impl Default for CrowdingRule {
    /// ≥ 6 residents, or < 8 m² per person, in a rented unit.
    fn default() -> Self {
        Self {
            min_residents: 6,
            min_area_per_person_m2: 8.0,
            rented_only: true,
        }
    }
}

impl CrowdingRule {
    /// Whether `unit` is over-crowded under this rule.
    pub fn is_overcrowded(&self, unit: &UnitFacts) -> bool {
        if unit.residents == 0 || (self.rented_only && unit.occupancy != Occupancy::Rented) {
            return false;
        }
        if self.min_residents > 0 && unit.residents >= self.min_residents {
            return true;
        }
        area_known(unit)
            && self.min_area_per_person_m2 > 0.0
            && unit.floor_area_m2 / f32::from(unit.residents) < self.min_area_per_person_m2
    }
}

fn area_known(unit: &UnitFacts) -> bool {
    unit.floor_area_m2.is_finite() && unit.floor_area_m2 > 0.0
}

/// Mergeable integer counters for housing units and enterprises.
///
/// The rule is compared (bitwise on its fields) when merging; merging profiles
/// built under different rules adds the counts but records the clash in
/// `rule_mismatches`.
#[derive(Debug, Clone, PartialEq)]
pub struct HousingProfile {
    rule: CrowdingRule,
    pub rule_mismatches: u32,
    /// Units by occupancy: owner, rented, vacant.
    pub units: [u32; 3],
    /// Residents by occupancy of their unit: owner, rented, vacant.
    pub residents: [u32; 3],
    pub overcrowded_units: u32,
    pub overcrowded_residents: u32,
    pub unknown_area: u32,
    /// Vacant units with at least one registered resident.
    pub vacant_with_residents: u32,
    pub enterprises_by_section: [u32; 20],
    pub enterprises_unknown_section: u32,
    pub enterprises_by_size: [u32; 4],
    pub employees_by_size: [u64; 4],
}

impl Default for HousingProfile {
    fn default() -> Self {
        Self::new(CrowdingRule::default())
    }
}

impl HousingProfile {
    /// An empty profile (identity of [`merge`](Self::merge)) using `rule`.
    pub fn new(rule: CrowdingRule) -> Self {
        Self {
            rule,
            rule_mismatches: 0,
            units: [0; 3],
            residents: [0; 3],
            overcrowded_units: 0,
            overcrowded_residents: 0,
            unknown_area: 0,
            vacant_with_residents: 0,
            enterprises_by_section: [0; 20],
            enterprises_unknown_section: 0,
            enterprises_by_size: [0; 4],
            employees_by_size: [0; 4],
        }
    }

    pub fn rule(&self) -> CrowdingRule {
        self.rule
    }

    pub fn add_unit(&mut self, unit: &UnitFacts) {
        let i = match unit.occupancy {
            Occupancy::Owner => 0,
            Occupancy::Rented => 1,
            Occupancy::Vacant => 2,
        };
        inc(&mut self.units[i]);
        add(&mut self.residents[i], u32::from(unit.residents));
        if unit.occupancy == Occupancy::Vacant && unit.residents > 0 {
            inc(&mut self.vacant_with_residents);
        }
        if !area_known(unit) {
            inc(&mut self.unknown_area);
        }
        if self.rule.is_overcrowded(unit) {
            inc(&mut self.overcrowded_units);
            add(&mut self.overcrowded_residents, u32::from(unit.residents));
        }
    }

    pub fn add_enterprise(&mut self, e: &EnterpriseFacts) {
        match self.enterprises_by_section.get_mut(usize::from(e.industry)) {
            Some(c) => inc(c),
            None => inc(&mut self.enterprises_unknown_section),
        }
        let s = e.size.index();
        inc(&mut self.enterprises_by_size[s]);
        self.employees_by_size[s] =
            self.employees_by_size[s].saturating_add(u64::from(e.employees));
    }

    /// Adds `other`'s counts to `self`. Exactly associative and commutative.
    pub fn merge(&mut self, other: &Self) {
        if !same_rule(&self.rule, &other.rule) {
            inc(&mut self.rule_mismatches);
        }
        add(&mut self.rule_mismatches, other.rule_mismatches);
        add_all(&mut self.units, &other.units);
        add_all(&mut self.residents, &other.residents);
        add(&mut self.overcrowded_units, other.overcrowded_units);
        add(&mut self.overcrowded_residents, other.overcrowded_residents);
        add(&mut self.unknown_area, other.unknown_area);
        add(&mut self.vacant_with_residents, other.vacant_with_residents);
        add_all(
            &mut self.enterprises_by_section,
            &other.enterprises_by_section,
        );
        add(
            &mut self.enterprises_unknown_section,
            other.enterprises_unknown_section,
        );
        add_all(&mut self.enterprises_by_size, &other.enterprises_by_size);
        for (a, b) in self
            .employees_by_size
            .iter_mut()
            .zip(other.employees_by_size)
        {
            *a = a.saturating_add(b);
        }
    }

    /// Builder-style [`merge`](Self::merge).
    pub fn merged(mut self, other: &Self) -> Self {
        self.merge(other);
        self
    }

    /// The figures of model 2.
    pub fn finish(&self) -> HousingStructure {
        let [owner, rented, vacant] = self.units;
        let total = owner.saturating_add(rented).saturating_add(vacant);
        let occupied = owner.saturating_add(rented);
        let enterprises = self
            .enterprises_by_size
            .iter()
            .fold(0u32, |a, &b| a.saturating_add(b));
        HousingStructure {
            units: total,
            owner_occupied: owner,
            rented,
            vacant,
            owner_share: ratio(owner, total),
            rented_share: ratio(rented, total),
            vacant_share: ratio(vacant, total),
            rental_share_of_occupied: ratio(rented, occupied),
            residents: self
                .residents
                .iter()
                .fold(0u32, |a, &b| a.saturating_add(b)),
            overcrowded_units: self.overcrowded_units,
            overcrowded_residents: self.overcrowded_residents,
            overcrowded_share_of_rented: ratio(self.overcrowded_units, rented),
            unknown_area: self.unknown_area,
            mismatched_units: self.vacant_with_residents,
            mismatched_residents: self.residents[2],
            enterprises: EnterpriseStructure {
                total: enterprises,
                by_section: self.enterprises_by_section,
                unknown_section: self.enterprises_unknown_section,
                by_size: self.enterprises_by_size,
                employees_by_size: self.employees_by_size,
                employees: self
                    .employees_by_size
                    .iter()
                    .fold(0u64, |a, &b| a.saturating_add(b)),
            },
            rule_mismatches: self.rule_mismatches,
        }
    }
}

fn same_rule(a: &CrowdingRule, b: &CrowdingRule) -> bool {
    a.min_residents == b.min_residents
        && a.min_area_per_person_m2.to_bits() == b.min_area_per_person_m2.to_bits()
        && a.rented_only == b.rented_only
}

/// The figures of model 2 for one area.
#[derive(Debug, Clone, PartialEq)]
pub struct HousingStructure {
    pub units: u32,
    pub owner_occupied: u32,
    pub rented: u32,
    pub vacant: u32,
    pub owner_share: Option<f64>,
    pub rented_share: Option<f64>,
    pub vacant_share: Option<f64>,
    /// Rented among occupied (owner + rented) units.
    pub rental_share_of_occupied: Option<f64>,
    /// Residents registered at all units of the area.
    pub residents: u32,
    pub overcrowded_units: u32,
    pub overcrowded_residents: u32,
    pub overcrowded_share_of_rented: Option<f64>,
    /// Units whose floor area is unknown (the area test could not run).
    pub unknown_area: u32,
    /// Vacant units with at least one registered resident.
    pub mismatched_units: u32,
    /// Residents registered at vacant units.
    pub mismatched_residents: u32,
    pub enterprises: EnterpriseStructure,
    /// Non-zero when profiles built under different crowding rules were merged.
    pub rule_mismatches: u32,
}

/// Enterprise counts of an area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseStructure {
    pub total: u32,
    /// Indexed like [`INDUSTRY_SECTIONS`].
    pub by_section: [u32; 20],
    pub unknown_section: u32,
    /// Indexed like [`EnterpriseSize::ALL`].
    pub by_size: [u32; 4],
    pub employees_by_size: [u64; 4],
    pub employees: u64,
}

fn inc(x: &mut u32) {
    *x = x.saturating_add(1);
}

fn add(x: &mut u32, y: u32) {
    *x = x.saturating_add(y);
}

fn add_all<const N: usize>(x: &mut [u32; N], y: &[u32; N]) {
    for (a, b) in x.iter_mut().zip(y) {
        add(a, *b);
    }
}

fn ratio(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}
