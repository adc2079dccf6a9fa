//! The server side of the five analysis models: feeds `minqing-analysis` from the
//! in-memory index and caches the results.
//!
//! # What is precomputed, what is cached
//!
//! * **Register models** (population, housing): one `PopulationProfile` and one
//!   `HousingProfile` per building, built once per loaded index (and per reference
//!   month, since ages move), and their merge per area (every building is added to its
//!   grid and the grid's community, township and district). An area query is a lookup;
//!   a drawn polygon merges the profiles of the buildings the R-tree finds in its box
//!   whose point lies in the polygon — no full scan.
//! * **Event models** (hotspots, emerging hotspots, risk, efficiency): the events are
//!   turned into plain [`EventFacts`] once per event generation; results are cached per
//!   query. [`Analysis`] holds a receiver of the change bus: every access drains it,
//!   and any `Change::Event` (or a lagged receiver) bumps the generation and drops every
//!   event-dependent cache. Register caches never depend on events.
//! * **Study areas** (the H3 cells whose centre lies in the district) are built once per
//!   resolution and kept.
//!
//! # Approximations (documented in the API responses too)
//!
//! * The index keeps no household ids, so a person's **household size** is the number
//!   of residents registered at their unit, and **living alone** means being the only
//!   resident of the unit. Persons linked to a building but no unit have an unknown
//!   household size. Persons not linked to any building are in no area (only in the
//!   link report).
//! * The synthetic events carry no worker id: the **grid is the unit of workload**.
//! * Housing counts the units that have a housing record (occupancy).
//! * An event counts at building level for risk only when its `address_code` resolves to
//!   a unit or building of the register.
//!
//! Key-group counts below [`KEY_GROUP_MIN`] are suppressed in every output built here.

mod cache;
mod efficiency;
mod gate;
mod hotspots;
mod inputs;
mod population;
mod risk;
mod settings;

pub use cache::*;
pub use efficiency::*;
pub use gate::Priority;
pub(crate) use gate::*;
pub use hotspots::*;
pub use inputs::*;
pub use population::*;
pub use risk::*;
pub use settings::*;

use crate::index::Index;
use crate::model::{AreaLevel, CATEGORIES, SOURCES, is_closed_status};
use crate::{App, Change, Error};
use geo::{BoundingRect, Contains};
use minqing_analysis::efficiency::{EventFacts, Window};
use minqing_analysis::hotspot::{HotspotClass, HotspotReport, StudyArea};
use minqing_analysis::housing::{
    CrowdingRule, EnterpriseFacts, EnterpriseSize, HousingProfile, Occupancy, UnitFacts,
    industry_index,
};
use minqing_analysis::population::{AgeBasis, PersonFacts, PopulationProfile, Sex, YearMonth};
use minqing_analysis::risk::{RiskConfig, RiskInputs, RiskScore, Tier};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Key-group counts below this never leave the server (the analysis crate's constant:
/// there is one 5).
pub const KEY_GROUP_MIN: u32 = minqing_analysis::population::KEY_GROUP_MIN_COUNT;
/// Default H3 resolution of the hot spot analysis.
pub const DEFAULT_RESOLUTION: u8 = 9;
/// Resolutions accepted (coarser is meaningless for a district, finer is too many cells).
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=10;
/// Longest emerging-hotspot cube, in steps.
pub const MAX_STEPS: usize = 520;
pub(crate) const DAY: i64 = 86_400;
/// Entries kept per result cache before it is emptied (queries are cheap to redo).
pub(crate) const MAX_CACHED: usize = 64;
