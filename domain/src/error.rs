//! The domain's one error type. It says what went wrong in the domain's own words; the
//! HTTP crate alone decides which status each variant becomes. Internal causes are kept
//! for the log and never shown to a caller.

/// What a domain operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed (a parameter that does not parse, a missing field).
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (or is not the caller's to know about).
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials, but outside the caller's role or scope.
    #[error("{0}")]
    Forbidden(String),
    /// A state conflict such as a stale version or an illegal transition, with optional
    /// facts the caller can act on (e.g. the allowed steps).
    #[error("{message}")]
    Conflict {
        message: String,
        detail: Option<Detail>,
    },
    /// The input is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but semantically invalid input.
    #[error("{0}")]
    Unprocessable(String),
    /// Semantically invalid input, with the facts the caller can act on (e.g. the
    /// matcher's candidates).
    #[error("{message}")]
    UnprocessableWith { message: String, detail: Detail },
    /// Too many attempts; retry after this many seconds.
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// The data is still loading.
    #[error("the data is still loading")]
    Loading,
    /// A dependency (the store) is down; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The store's disk is full: nothing was written; retry once space is freed.
    #[error("{0}")]
    StorageFull(String),
    /// A bug or an unexpected failure; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Facts beside an error's message that a caller can act on, typed here; the HTTP crate
/// decides how they are written on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// The record is at another version now, in this status.
    StaleVersion {
        current_version: i64,
        status: String,
    },
    /// The step is not allowed from `status`; these are (for this caller).
    StepNotAllowed {
        status: String,
        allowed: Vec<&'static str>,
    },
    /// A typed address could not be placed with confidence; these are its candidates.
    AddressCandidates(Vec<AddressCandidate>),
    /// An admission rule (by its stable name) refused this work-list item.
    NotAdmitted {
        rule: &'static str,
        item_code: String,
    },
    /// An alias the register could not use, with a stable reason code.
    AliasRefused { reason: &'static str },
}

/// One candidate building or unit for an address that could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressCandidate {
    pub address_code: String,
    pub label: String,
}

/// The domain's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An internal error from any error value.
    pub fn internal(e: impl Into<anyhow::Error>) -> Error {
        Error::Internal(e.into())
    }
}
