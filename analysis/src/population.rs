//! Model 1 — population structure of an area.
//!
//! # Design: a mergeable accumulator
//!
//! The server keeps compact per-person facts in memory and must answer "what does
//! the population of this grid / community / drawn polygon look like" in
//! milliseconds. Walking 627,000 persons per request is affordable for one query
//! but not for a dashboard of many, so the work is split in two:
//!
//! 1. [`PopulationProfile`] is a fixed-size bag of integer counters. The server
//!    builds one per building ([`PopulationProfile::add`]) when data loads.
//! 2. An area's profile is the [`PopulationProfile::merge`] of its buildings'
//!    profiles, and [`PopulationProfile::finish`] turns counts into figures
//!    (shares, ratios, density).
//!
//! Every counter is an integer and merging is plain addition, so merging is exactly
//! associative and commutative: `profile(a ∪ b) == profile(a).merge(profile(b))`
//! with no floating-point drift, whatever the order the server merges in.
//!
//! Ages depend on a reference date, so the profile carries its [`AgeBasis`]
//! (reference year-month and the "elderly" age used for living-alone counts) and
//! classifies each person when they are added. Merging profiles built on different
//! bases would mix incompatible age bands: it still adds the counts (never panics)
//! but records the clash in [`PopulationProfile::basis_mismatches`], which
//! [`PopulationStructure::basis_mismatches`] reports back. The server rebuilds its
//! per-building profiles when the reference month changes.
//!
//! # Conventions
//!
//! * Age in completed years at the reference `(year, month)`: a person born in the
//!   reference month counts as having had their birthday (day of month is not
//!   stored). Births after the reference date or with a month outside 1..=12 are
//!   counted as `unknown_age` and left out of the age bands and age shares.
//! * Age bands follow Chinese statistical practice: 0–14, 15–59, 60–64, 65–79, 80+;
//!   both "60+" and "65+" shares are reported, as both are used in China.
//! * Households are not stored separately; every person carries the size of their
//!   household, so a household of size *n* is seen as *n* persons and the number of
//!   households of size *n* is `persons / n`. An area boundary that cuts through a
//!   household therefore yields a fractional household count; this is reported as
//!   an `f64` rather than rounded away. Sizes of [`MAX_TRACKED_HOUSEHOLD`] or more
//!   are divided by [`MAX_TRACKED_HOUSEHOLD`] (a slight overestimate of the number of
//!   very large households, which are rare). Size 0 is "unknown".
//! * Key-group counts are exact in [`PopulationStructure`]; call
//!   [`PopulationStructure::suppressed`] before any aggregate leaves the server so
//!   that small counts (which could single someone out) become `None`.

/// Sex as recorded in the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

/// Bits of [`PersonFacts::key_groups`]. A person may belong to several groups.
pub mod key_group {
    /// Drug users (吸毒人员).
    pub const DRUG_USER: u8 = 1 << 0;
    /// People with severe mental disorders (严重精神障碍患者).
    pub const SEVERE_MENTAL_DISORDER: u8 = 1 << 1;
    /// People under community correction (社区矫正对象).
    pub const COMMUNITY_CORRECTION: u8 = 1 << 2;
    /// People released from prison (刑满释放人员).
    pub const RELEASED_FROM_PRISON: u8 = 1 << 3;
    /// Any other list the centre keeps; bits 4..=7 are free for further lists.
    pub const OTHER: u8 = 1 << 4;
    /// Number of bit positions counted (all eight bits of the `u8`).
    pub const COUNT: usize = 8;
}

/// A calendar month, used as the reference date for ages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: u16,
    /// 1..=12.
    pub month: u8,
}

impl YearMonth {
    pub const fn new(year: u16, month: u8) -> Self {
        Self { year, month }
    }
}

/// What the model needs to know about one resident. Plain and `Copy` so the server
/// can keep a compact array of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFacts {
    pub birth_year: u16,
    /// 1..=12; anything else makes the age unknown.
    pub birth_month: u8,
    pub sex: Sex,
    /// `true` for registered (户籍) population, `false` for floating (流动) population.
    pub registered: bool,
    /// Size of the person's household, including them; 0 = unknown.
    pub household_size: u8,
    pub lives_alone: bool,
    /// Bit set of [`key_group`] memberships.
    pub key_groups: u8,
}

/// The reference against which ages are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AgeBasis {
    /// Ages are computed at this month.
    pub reference: YearMonth,
    /// Age from which a person counts as elderly for the living-alone figure
    /// (65 by default, as in most Chinese 空巢/独居老人 statistics).
    pub elderly_age: u8,
}

impl AgeBasis {
    /// Basis with the default elderly age of 65.
    pub const fn at(reference: YearMonth) -> Self {
        Self {
            reference,
            elderly_age: 65,
        }
    }
}

/// Age bands reported by the model, in order.
pub const AGE_BAND_LABELS: [&str; 5] = ["0-14", "15-59", "60-64", "65-79", "80+"];

/// Household sizes from 1 up to this value are counted separately; larger ones are
/// folded into this bucket.
pub const MAX_TRACKED_HOUSEHOLD: usize = 15;

/// Completed years of age at `reference`, or `None` for an impossible birth date
/// (month outside 1..=12, or born after the reference month).
pub fn age_at(birth_year: u16, birth_month: u8, reference: YearMonth) -> Option<u16> {
    if !(1..=12).contains(&birth_month) || !(1..=12).contains(&reference.month) {
        return None;
    }
    if (birth_year, birth_month) > (reference.year, reference.month) {
        return None;
    }
    let mut age = reference.year - birth_year;
    if reference.month < birth_month {
        // Not yet had this year's birthday; age > 0 here because the birth is not
        // after the reference month.
        age -= 1;
    }
    Some(age)
}

fn age_band(age: u16) -> usize {
    match age {
        0..=14 => 0,
        15..=59 => 1,
        60..=64 => 2,
        65..=79 => 3,
        _ => 4,
    }
}

/// Mergeable integer counters for a set of persons. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationProfile {
    basis: AgeBasis,
    /// Number of merges that combined profiles built on different age bases.
    pub basis_mismatches: u32,
    pub residents: u32,
    pub age_bands: [u32; 5],
    pub unknown_age: u32,
    pub males: u32,
    pub females: u32,
    pub registered: u32,
    pub floating: u32,
    /// Index `n` (1..=15) = persons living in a household of size `n`
    /// (15 = 15 or more); index 0 = persons with unknown household size.
    pub persons_by_household_size: [u32; MAX_TRACKED_HOUSEHOLD + 1],
    pub elderly: u32,
    pub elderly_alone: u32,
    pub key_groups: [u32; key_group::COUNT],
    /// Persons in at least one key group.
    pub key_group_persons: u32,
}

impl PopulationProfile {
    /// An empty profile: the identity of [`merge`](Self::merge).
    pub fn new(basis: AgeBasis) -> Self {
        Self {
            basis,
            basis_mismatches: 0,
            residents: 0,
            age_bands: [0; 5],
            unknown_age: 0,
            males: 0,
            females: 0,
            registered: 0,
            floating: 0,
            persons_by_household_size: [0; MAX_TRACKED_HOUSEHOLD + 1],
            elderly: 0,
            elderly_alone: 0,
            key_groups: [0; key_group::COUNT],
            key_group_persons: 0,
        }
    }

    /// Profile of all `persons`.
    pub fn of<'a>(basis: AgeBasis, persons: impl IntoIterator<Item = &'a PersonFacts>) -> Self {
        let mut p = Self::new(basis);
        for person in persons {
            p.add(person);
        }
        p
    }

    pub fn basis(&self) -> AgeBasis {
        self.basis
    }

    /// Counts one person. Counters saturate rather than overflow.
    pub fn add(&mut self, p: &PersonFacts) {
        inc(&mut self.residents);
        match age_at(p.birth_year, p.birth_month, self.basis.reference) {
            Some(age) => {
                inc(&mut self.age_bands[age_band(age)]);
                if age >= u16::from(self.basis.elderly_age) {
                    inc(&mut self.elderly);
                    if p.lives_alone {
                        inc(&mut self.elderly_alone);
                    }
                }
            }
            None => inc(&mut self.unknown_age),
        }
        match p.sex {
            Sex::Male => inc(&mut self.males),
            Sex::Female => inc(&mut self.females),
        }
        if p.registered {
            inc(&mut self.registered);
        } else {
            inc(&mut self.floating);
        }
        let size = usize::from(p.household_size).min(MAX_TRACKED_HOUSEHOLD);
        inc(&mut self.persons_by_household_size[size]);
        if p.key_groups != 0 {
            inc(&mut self.key_group_persons);
            for (bit, count) in self.key_groups.iter_mut().enumerate() {
                if p.key_groups & (1 << bit) != 0 {
                    inc(count);
                }
            }
        }
    }

    /// Adds `other`'s counts to `self`. Exactly associative and commutative.
    pub fn merge(&mut self, other: &Self) {
        if other.basis != self.basis {
            inc(&mut self.basis_mismatches);
        }
        self.basis_mismatches = self.basis_mismatches.saturating_add(other.basis_mismatches);
        add(&mut self.residents, other.residents);
        add_all(&mut self.age_bands, &other.age_bands);
        add(&mut self.unknown_age, other.unknown_age);
        add(&mut self.males, other.males);
        add(&mut self.females, other.females);
        add(&mut self.registered, other.registered);
        add(&mut self.floating, other.floating);
        add_all(
            &mut self.persons_by_household_size,
            &other.persons_by_household_size,
        );
        add(&mut self.elderly, other.elderly);
        add(&mut self.elderly_alone, other.elderly_alone);
        add_all(&mut self.key_groups, &other.key_groups);
        add(&mut self.key_group_persons, other.key_group_persons);
    }

    /// Builder-style [`merge`](Self::merge).
    pub fn merged(mut self, other: &Self) -> Self {
        self.merge(other);
        self
    }

    /// Turns the counts into the figures of the model. `area_km2` is the land area
    /// of the region (the caller knows its polygon); a non-positive or non-finite
    /// area gives no density.
    pub fn finish(&self, area_km2: f64) -> PopulationStructure {
        let known_age = self.residents.saturating_sub(self.unknown_age);
        let aged_65 = self.age_bands[3].saturating_add(self.age_bands[4]);
        let aged_60 = self.age_bands[2].saturating_add(aged_65);

        let mut households_by_size = [0.0; 6];
        let mut households = 0.0;
        let mut persons_known_size = 0u32;
        for (size, &persons) in self.persons_by_household_size.iter().enumerate().skip(1) {
            let h = f64::from(persons) / size as f64;
            households_by_size[(size - 1).min(5)] += h;
            households += h;
            persons_known_size = persons_known_size.saturating_add(persons);
        }

        PopulationStructure {
            residents: self.residents,
            age_bands: self.age_bands,
            unknown_age: self.unknown_age,
            share_60_plus: ratio(aged_60, known_age),
            share_65_plus: ratio(aged_65, known_age),
            males: self.males,
            females: self.females,
            sex_ratio: ratio(self.males, self.females).map(|r| r * 100.0),
            registered: self.registered,
            floating: self.floating,
            registered_share: ratio(self.registered, self.residents),
            floating_share: ratio(self.floating, self.residents),
            households_by_size,
            households,
            mean_household_size: (households > 0.0)
                .then(|| f64::from(persons_known_size) / households),
            unknown_household_size: self.persons_by_household_size[0],
            elderly_age: self.basis.elderly_age,
            elderly: self.elderly,
            elderly_alone: self.elderly_alone,
            elderly_alone_share: ratio(self.elderly_alone, self.elderly),
            key_groups: KeyGroupCounts {
                by_group: self.key_groups.map(Some),
                persons: Some(self.key_group_persons),
            },
            area_km2: (area_km2.is_finite() && area_km2 > 0.0).then_some(area_km2),
            density_per_km2: (area_km2.is_finite() && area_km2 > 0.0)
                .then(|| f64::from(self.residents) / area_km2),
            reference: self.basis.reference,
            basis_mismatches: self.basis_mismatches,
        }
    }
}

/// Key-group counts, per bit of [`key_group`] and for persons in any group.
/// `None` means suppressed (see [`suppress_small`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupCounts {
    pub by_group: [Option<u32>; key_group::COUNT],
    /// Persons in at least one group (a person in two groups counts once here, so
    /// this is not the sum of `by_group`).
    pub persons: Option<u32>,
}

/// The figures of model 1 for one area.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationStructure {
    pub residents: u32,
    /// Persons per band of [`AGE_BAND_LABELS`].
    pub age_bands: [u32; 5],
    /// Persons whose birth date is missing or impossible; excluded from age shares.
    pub unknown_age: u32,
    /// Share aged 60 or over among persons of known age.
    pub share_60_plus: Option<f64>,
    /// Share aged 65 or over among persons of known age.
    pub share_65_plus: Option<f64>,
    pub males: u32,
    pub females: u32,
    /// Males per 100 females; `None` without females.
    pub sex_ratio: Option<f64>,
    pub registered: u32,
    pub floating: u32,
    pub registered_share: Option<f64>,
    pub floating_share: Option<f64>,
    /// Households of size 1, 2, 3, 4, 5, 6+ (fractional when a boundary cuts a
    /// household, see the module docs).
    pub households_by_size: [f64; 6],
    pub households: f64,
    /// Persons of known household size per household.
    pub mean_household_size: Option<f64>,
    pub unknown_household_size: u32,
    /// The age from which `elderly` counts.
    pub elderly_age: u8,
    pub elderly: u32,
    pub elderly_alone: u32,
    pub elderly_alone_share: Option<f64>,
    pub key_groups: KeyGroupCounts,
    pub area_km2: Option<f64>,
    pub density_per_km2: Option<f64>,
    pub reference: YearMonth,
    /// Non-zero when profiles of different age bases were merged: the age figures
    /// are then unreliable.
    pub basis_mismatches: u32,
}

/// Default minimum count that may be shown for a key group.
pub const KEY_GROUP_MIN_COUNT: u32 = 5;

/// `Some(count)` when `count >= threshold`, else `None`. Zero is suppressed too
/// (with the default threshold): "nobody in this building is on a list" is itself
/// a disclosure about every resident.
pub fn suppress_small(count: u32, threshold: u32) -> Option<u32> {
    (count >= threshold).then_some(count)
}

impl PopulationStructure {
    /// A copy whose key-group counts below `threshold` are `None`. Apply before any
    /// aggregate leaves the server; [`KEY_GROUP_MIN_COUNT`] is the default.
    ///
    /// Limitation: only primary suppression. Because a person may be in several
    /// groups, the group counts do not sum to `persons`, so a suppressed cell
    /// cannot be derived from the others by subtraction within one result; a
    /// caller showing the same groups for nested areas must still guard against
    /// differencing (e.g. a grid and the community minus that grid).
    pub fn suppressed(&self, threshold: u32) -> Self {
        let mut out = self.clone();
        let sup = |c: Option<u32>| c.and_then(|c| suppress_small(c, threshold));
        out.key_groups.by_group = self.key_groups.by_group.map(sup);
        out.key_groups.persons = sup(self.key_groups.persons);
        out
    }
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

/// `num / den`, `None` when `den` is zero.
pub(crate) fn ratio(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}
