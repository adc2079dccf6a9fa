//! Domain records shared by the generator, the importer, the stores and the index.
//!
//! These are the shapes of the import files and of the store rows. Personal fields
//! (names, ID numbers, phones, key-group membership) exist only on [`Resident`]; the
//! in-memory index keeps none of them (see `index.rs`).

use serde::{Deserialize, Serialize};

/// The district's six-digit administrative code (旌阳区).
pub const DISTRICT_CODE: &str = "510603";

/// Level of an area polygon in the hierarchy district → township → community → grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    District,
    Township,
    Community,
    Grid,
}

impl AreaLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaLevel::District => "district",
            AreaLevel::Township => "township",
            AreaLevel::Community => "community",
            AreaLevel::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "district" => AreaLevel::District,
            "township" => AreaLevel::Township,
            "community" => AreaLevel::Community,
            "grid" => AreaLevel::Grid,
            _ => return None,
        })
    }
}

/// An area polygon: district, township/street, community/village or grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub level: AreaLevel,
    /// Parent area's code; `None` only for the district.
    pub parent: Option<String>,
    /// `street`/`town` for townships, `community`/`village` for communities,
    /// `urban`/`rural` for grids, `district` for the district.
    pub kind: String,
    pub geometry: geo_types::MultiPolygon<f64>,
}

/// A named road as a line string.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    pub id: i64,
    pub name: String,
    /// `main`, `street`, `rural`, `country` (a village road) or `service` (a compound's lane).
    pub class: String,
    pub geometry: geo_types::LineString<f64>,
}

/// A building (楼幢) address in the unified register.
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    pub code: String,
    pub label: String,
    pub grid_code: String,
    pub road: Option<String>,
    pub door: Option<u32>,
    pub compound: Option<String>,
    pub building_no: Option<u32>,
    pub village_group: Option<u32>,
    pub house_no: Option<u32>,
    /// `highrise`, `walkup`, `shop`, `office`, `townhouse` or `rural`.
    pub kind: String,
    pub floors: u32,
    pub lon: f64,
    pub lat: f64,
}

/// A unit/room (户室) address in the unified register.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub code: String,
    pub building_code: String,
    pub unit_no: Option<u32>,
    pub floor: Option<u32>,
    pub room: Option<u32>,
    pub label: String,
}

/// How a record's free-text address was linked to the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Linked to a unit/room code.
    Unit,
    /// Linked to a building code only.
    Building,
    /// Several candidates; waits for review.
    Ambiguous,
    /// No candidate; waits for review.
    Unmatched,
    /// Free text only and not linked yet (no matcher has run).
    Pending,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Unit => "unit",
            LinkStatus::Building => "building",
            LinkStatus::Ambiguous => "ambiguous",
            LinkStatus::Unmatched => "unmatched",
            LinkStatus::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unit" => LinkStatus::Unit,
            "building" => LinkStatus::Building,
            "ambiguous" => LinkStatus::Ambiguous,
            "unmatched" => LinkStatus::Unmatched,
            "pending" => LinkStatus::Pending,
            _ => return None,
        })
    }
}

/// A housing unit record (one per unit/room address).
#[derive(Debug, Clone, PartialEq)]
pub struct Housing {
    pub id: String,
    pub address: String,
    pub address_code: Option<String>,
    pub link: LinkStatus,
    pub floor_area: f64,
    /// `owner`, `rented` or `vacant`.
    pub occupancy: String,
}

/// A resident record. Personal data: only the store and the personal-records module
/// ever see these fields; the index keeps derived facts only.
#[derive(Debug, Clone, PartialEq)]
pub struct Resident {
    pub id: String,
    pub name: String,
    /// `M` or `F`.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub id_number: String,
    pub phone: String,
    /// `registered` (户籍) or `floating` (流动).
    pub registration: String,
    pub household_id: String,
    pub relation: String,
    pub address: String,
    pub address_code: Option<String>,
    pub link: LinkStatus,
    /// Semicolon-separated key-group codes (`drug;mental`), empty for none.
    pub key_groups: String,
}

/// An enterprise record.
#[derive(Debug, Clone, PartialEq)]
pub struct Enterprise {
    pub id: String,
    pub name: String,
    pub credit_code: String,
    /// GB/T 4754 section letter (A–T).
    pub industry: String,
    /// `micro`, `small`, `medium` or `large`.
    pub size: String,
    pub employees: u32,
    pub address: String,
    pub address_code: Option<String>,
    pub link: LinkStatus,
}

/// A dispute event (矛盾纠纷 and the other categories) in the closed loop.
///
/// The case fields after `updated_at` (owner, owning unit, case-package leader,
/// supervision, satisfaction, duplicate, next visit) came with migration 0007; they
/// default to empty so that older outbox records and import files still read.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub code: String,
    pub category: String,
    pub source: String,
    pub status: String,
    pub risk_tier: String,
    pub title: String,
    pub description: String,
    pub lon: f64,
    pub lat: f64,
    pub address_code: Option<String>,
    pub grid_code: String,
    /// Unix seconds.
    pub reported_at: i64,
    pub deadline: i64,
    pub mediation_org: Option<String>,
    pub diversion: Option<String>,
    pub resolved_by_mediation: bool,
    pub escalated: bool,
    pub closed_at: Option<i64>,
    pub version: i64,
    pub updated_at: i64,
    /// The account that owns the case (its username), if any.
    #[serde(default)]
    pub owner: Option<String>,
    /// That account's display name when it was made owner.
    #[serde(default)]
    pub owner_display: Option<String>,
    /// The owning unit's kind: one of [`UNIT_KINDS`].
    #[serde(default)]
    pub owner_unit_kind: Option<String>,
    /// The owning unit: a mediation organisation's or a department's name, a grid's
    /// code, or the reception's / risk centre's name.
    #[serde(default)]
    pub owner_unit: Option<String>,
    /// 包案领导 of a large-risk matter.
    #[serde(default)]
    pub case_leader: Option<String>,
    /// The latest supervision (督办).
    #[serde(default)]
    pub supervision: Option<Supervision>,
    /// The reporter's satisfaction at closure: one of [`SATISFACTION`].
    #[serde(default)]
    pub satisfaction: Option<String>,
    /// The event this one duplicates (it was closed as a duplicate).
    #[serde(default)]
    pub duplicate_of: Option<String>,
    /// The next follow-up visit, `YYYY-MM-DD` (CST).
    #[serde(default)]
    pub next_visit: Option<String>,
    /// When the risk tier last became `large` (unix seconds), for the large-risk alert.
    #[serde(default)]
    pub large_since: Option<i64>,
}

/// A leader's supervision (督办) of an event: a note and a new deadline.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Supervision {
    pub note: String,
    /// The new deadline, `YYYY-MM-DD` (CST; the event's deadline is the end of that day).
    pub deadline: String,
    /// The supervising account's username.
    pub by: String,
    /// Unix seconds.
    pub at: i64,
}

/// Kinds of owning unit.
pub const UNIT_KINDS: [&str; 5] = [
    "mediation_org",
    "department",
    "grid",
    "risk_centre",
    "reception",
];

/// The reporter's satisfaction at closure.
pub const SATISFACTION: [&str; 3] = ["satisfied", "basically_satisfied", "dissatisfied"];

/// Kinds of follow-up visit (回访): 常态走访, 思想疏导, 帮扶救助.
pub const VISIT_KINDS: [&str; 3] = ["routine", "counselling", "assistance"];

/// One step of an event's history. History is append-only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventStep {
    pub event_code: String,
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: String,
}

/// The five event categories of PRODUCT.md.
pub const CATEGORIES: [&str; 5] = [
    "dispute",
    "petition",
    "consultation",
    "public_safety",
    "service_request",
];

/// The five intake sources of PRODUCT.md.
pub const SOURCES: [&str; 5] = [
    "higher_level",
    "township",
    "department",
    "grid_worker",
    "visitor",
];

/// Event statuses in the closed loop. `closed` and `followed_up` both count as closed.
pub const STATUSES: [&str; 6] = [
    "accepted",
    "mediating",
    "resolved",
    "diverted",
    "closed",
    "followed_up",
];

/// Whether a status counts as closed for the closure rate.
pub fn is_closed_status(status: &str) -> bool {
    matches!(status, "closed" | "followed_up")
}

/// Key-group codes (重点人群).
pub const KEY_GROUPS: [&str; 5] = ["drug", "mental", "correction", "released", "other"];
