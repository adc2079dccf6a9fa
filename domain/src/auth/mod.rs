//! Who may see what: accounts, sessions, roles, grid scopes, and the one extractor every
//! handler uses to declare its requirement.
//!
//! A handler takes a [`Caller`] argument (the HTTP crate's extractor): that alone makes
//! the endpoint require a valid bearer token (401 otherwise). It then states what it needs:
//!
//! ```ignore
//! async fn households(caller: Caller, ...) -> Result<..., Error> {
//!     caller.require(Permission::PersonalRead)?;   // 403 if the role lacks it
//!     caller.require_grid(&grid_code)?;            // 403 outside the caller's grids
//!     ...
//! }
//! ```
//!
//! The role × permission matrix is [`Role::allows`]; grid scopes live in `user_grids`.

pub mod limiter;
pub mod password;
pub mod sessions;
pub mod users;

use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

pub use sessions::AuthState;

/// The seven roles. Stored as their snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Command-centre screen: aggregates and maps only, never a personal record.
    Screen,
    /// Grid worker: personal records, tasks and intake of their own grid(s).
    GridWorker,
    /// Mediator: the events assigned to their mediation organisation.
    Mediator,
    /// Leader: everything aggregated; personal records masked; audited unmasking.
    Leader,
    /// Administrator: accounts, roles, scopes, configuration, audit queries.
    Admin,
    /// Reception window (综合受理窗口): registers walk-in visitors, phone calls and 12345
    /// transfers with any of the five sources; reads and routes events district-wide.
    Reception,
    /// The social-risk centre (社会风险研判中心): its queue of escalated events, risk
    /// tiers, case-package leaders, joint reviews. Stored as `risk_centre`.
    RiskCentre,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Screen,
        Role::GridWorker,
        Role::Mediator,
        Role::Leader,
        Role::Admin,
        Role::Reception,
        Role::RiskCentre,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Screen => "screen",
            Role::GridWorker => "grid_worker",
            Role::Mediator => "mediator",
            Role::Leader => "leader",
            Role::Admin => "admin",
            Role::Reception => "reception",
            Role::RiskCentre => "risk_centre",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role matrix (documented in ARCHITECTURE.md; keep both in step).
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match p {
            Aggregates => true,
            KeyGroupAggregates => matches!(self, GridWorker | Leader | Admin),
            PersonalRead => matches!(self, GridWorker | Leader | Admin),
            IdLookup => matches!(self, GridWorker | Leader | Admin),
            Unmask => matches!(self, Leader | Admin),
            EventsRead => matches!(
                self,
                GridWorker | Mediator | Leader | Admin | Reception | RiskCentre
            ),
            EventsWrite => matches!(
                self,
                GridWorker | Mediator | Leader | Reception | RiskCentre
            ),
            Intake => matches!(self, GridWorker | Leader | Reception),
            Tasks => matches!(
                self,
                GridWorker | Mediator | Leader | Reception | RiskCentre
            ),
            Assign => matches!(self, Leader | Reception | RiskCentre),
            Workload => matches!(self, Leader | Admin),
            Export => matches!(self, Leader | Admin),
            ManageUsers => matches!(self, Admin),
            AuditRead => matches!(self, Admin),
            ReviewLinks => matches!(self, Leader | Admin),
            DispatchTasks => matches!(self, Leader),
            KeyGroupRead => matches!(self, GridWorker | Leader | RiskCentre),
            KeyGroupFollowUp => matches!(self, GridWorker | RiskCentre),
        }
    }

    /// Whether the role is limited to the grids in its scope (otherwise: all grids).
    pub fn grid_scoped(self) -> bool {
        matches!(self, Role::GridWorker)
    }
}

/// What an endpoint needs. Grid and organisation scopes are checked separately
/// ([`Caller::require_grid`], [`Caller::can_see_event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Aggregated statistics, area polygons, aggregate map layers, analysis results.
    Aggregates,
    /// Key-group aggregates (always suppressed below 5, see `personal::suppress_key_group_count`).
    KeyGroupAggregates,
    /// Households and residents (masked), within the caller's grids.
    PersonalRead,
    /// Exact lookup of a resident by ID number (blind index), within the caller's grids.
    IdLookup,
    /// Reveal one record unmasked, with a stated reason (audited).
    Unmask,
    /// Event records (lists, details, event points on maps).
    EventsRead,
    /// Transitions, assignment and notes on events.
    EventsWrite,
    /// Creating events and reports (intake).
    Intake,
    /// The caller's own task list.
    Tasks,
    /// The list of accounts work can be assigned to.
    Assign,
    /// Model 5 per owner, organisation and unit.
    Workload,
    /// Exports of records (audited).
    Export,
    /// Accounts, roles, scopes and configuration.
    ManageUsers,
    /// Querying the audit log.
    AuditRead,
    /// The address-link review queue: free-text addresses of unlinked records and their
    /// resolution. Not grid-scoped (unlinked records have no grid yet), so leaders and
    /// admins only.
    ReviewLinks,
    /// Dispatching a task on the grid work list to a grid (admission-checked).
    DispatchTasks,
    /// The people on the six key-group lists (masked), their follow-up plans and visit
    /// records, and exact key-group counts — within the caller's grids
    /// (`personal::key_groups`). Not the admin's: accounts and the audit log are its
    /// work, the lists are not.
    KeyGroupRead,
    /// Recording a visit, counselling or help given to a person on a list (and so
    /// changing their status), within the caller's grids.
    KeyGroupFollowUp,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    /// The account's display name (its username when none was set).
    pub display: String,
    pub role: Role,
    /// Grid codes in scope (meaningful for grid-scoped roles only).
    pub grids: Arc<BTreeSet<String>>,
    /// The mediator's organisation.
    pub mediation_org: Option<String>,
    /// The client address (from the connection; `unknown` in-process).
    pub client: String,
    /// SHA-256 of the bearer token (hex), to revoke this session.
    pub token_hash: String,
}

impl Caller {
    /// 403 unless the role has `p`.
    pub fn require(&self, p: Permission) -> Result<(), Error> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "the role {} may not do this",
                self.role.as_str()
            )))
        }
    }

    /// Whether the grid `code` is within the caller's scope.
    pub fn can_see_grid(&self, code: &str) -> bool {
        !self.role.grid_scoped() || self.grids.contains(code)
    }

    /// 403 unless the grid is in scope. Pass `None` for a record that lies in no grid:
    /// only unscoped roles may see it.
    pub fn require_grid(&self, code: Option<&str>) -> Result<(), Error> {
        match code {
            Some(c) if self.can_see_grid(c) => Ok(()),
            None if !self.role.grid_scoped() => Ok(()),
            _ => Err(Error::Forbidden("outside your grids".into())),
        }
    }

    /// Whether the caller may see an event in `grid_code` assigned to `mediation_org`:
    /// mediators see their organisation's events, grid workers their grids' events,
    /// leaders, admins, the reception and the risk centre every event, screens none
    /// (only aggregates). See [`Caller::can_see`] for a whole event (a mediator also
    /// sees the events their organisation owns).
    pub fn can_see_event(&self, grid_code: &str, mediation_org: Option<&str>) -> bool {
        match self.role {
            Role::Screen => false,
            Role::Mediator => {
                self.mediation_org.is_some() && self.mediation_org.as_deref() == mediation_org
            }
            Role::GridWorker => self.grids.contains(grid_code),
            // Exactly the roles of `sees_every_event`.
            Role::Leader | Role::Admin | Role::Reception | Role::RiskCentre => true,
        }
    }

    /// Whether the caller sees every event's record (no grid or organisation scope):
    /// then [`Caller::can_see_event`] holds for every event.
    pub fn sees_every_event(&self) -> bool {
        matches!(
            self.role,
            Role::Leader | Role::Admin | Role::Reception | Role::RiskCentre
        )
    }

    /// Whether the caller may see `event`'s record: [`Caller::can_see_event`] for its
    /// grid and mediation organisation, or (mediators) its owning organisation.
    pub fn can_see(&self, event: &crate::model::Event) -> bool {
        self.can_see_event(&event.grid_code, event.mediation_org.as_deref())
            || (self.role == Role::Mediator
                && event.owner_unit_kind.as_deref() == Some("mediation_org")
                && self.mediation_org.is_some()
                && self.mediation_org == event.owner_unit)
    }

    /// Whether key-group counts may be shown to this caller for `grid_code` (the count
    /// itself must still pass `personal::suppress_key_group_count`).
    pub fn can_see_key_groups(&self, grid_code: Option<&str>) -> bool {
        self.role.allows(Permission::KeyGroupAggregates)
            && (!self.role.grid_scoped() || grid_code.is_some_and(|g| self.grids.contains(g)))
    }
}

/// The caller of an endpoint that also serves anonymous requests: public aggregates
/// (counts, areas, aggregate map layers, address search) are open when the
/// configuration says so (`public_aggregates`, default on), like an open-data portal;
/// everything else needs a token. A request that sends a token must send a valid one:
/// a bad token is a 401, never a silent downgrade to anonymous.
#[derive(Debug, Clone)]
pub enum Access {
    Anonymous { public_aggregates: bool },
    Signed(Caller),
}

impl Access {
    /// The signed-in caller, if any.
    pub fn caller(&self) -> Option<&Caller> {
        match self {
            Access::Signed(c) => Some(c),
            Access::Anonymous { .. } => None,
        }
    }

    /// Whether the caller has `p` (anonymous callers: public aggregates only).
    pub fn allows(&self, p: Permission) -> bool {
        match self {
            Access::Signed(c) => c.role.allows(p),
            Access::Anonymous { public_aggregates } => {
                *public_aggregates && p == Permission::Aggregates
            }
        }
    }

    /// 403 (signed in) or 401 (anonymous) unless the caller has `p`.
    pub fn require(&self, p: Permission) -> Result<(), Error> {
        match self {
            Access::Signed(c) => c.require(p),
            Access::Anonymous { .. } if self.allows(p) => Ok(()),
            Access::Anonymous { .. } => Err(Error::Unauthenticated(
                "sign in first (Authorization: Bearer …)".into(),
            )),
        }
    }

    /// Whether the caller may see this event's record (not only its public summary).
    pub fn can_see_event(&self, grid_code: &str, mediation_org: Option<&str>) -> bool {
        self.caller()
            .is_some_and(|c| c.can_see_event(grid_code, mediation_org))
    }

    /// Whether the caller may see `event`'s record (see [`Caller::can_see`]).
    pub fn can_see(&self, event: &crate::model::Event) -> bool {
        self.caller().is_some_and(|c| c.can_see(event))
    }

    /// Whether key-group counts may be shown for `grid_code` (see [`Caller::can_see_key_groups`]).
    pub fn can_see_key_groups(&self, grid_code: Option<&str>) -> bool {
        self.caller()
            .is_some_and(|c| c.can_see_key_groups(grid_code))
    }
}
