//! The API's one error type: a status, a stable code and a message for the client;
//! internal causes are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials, but outside the caller's role or scope (403).
    #[error("{0}")]
    Forbidden(String),
    /// A state conflict such as a stale version or an illegal transition (409), with
    /// optional machine-readable details (e.g. the allowed transitions).
    #[error("{message}")]
    Conflict {
        message: String,
        details: Option<serde_json::Value>,
    },
    /// The body is larger than allowed (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Well-formed but semantically invalid input (422).
    #[error("{0}")]
    Unprocessable(String),
    /// A 422 with machine-readable details (e.g. the matcher's candidates).
    #[error("{message}")]
    UnprocessableWith {
        message: String,
        details: serde_json::Value,
    },
    /// Too many attempts (429), with a retry delay in seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("the data is still loading")]
    Loading,
    /// A dependency (the store) is down; retry later (503).
    #[error("{0}")]
    Unavailable(String),
    /// The store's disk is full (507): nothing was written; retry once space is freed.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unprocessable(_) | ApiError::UnprocessableWith { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable")
            }
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::Loading => (StatusCode::SERVICE_UNAVAILABLE, "loading"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::InsufficientStorage(_) => {
                (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage")
            }
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let details = match &self {
            ApiError::Conflict { details, .. } => details.clone(),
            ApiError::UnprocessableWith { details, .. } => Some(details.clone()),
            _ => None,
        };
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            ApiError::Loading | ApiError::Unavailable(_) => Some(2),
            ApiError::InsufficientStorage(_) => Some(30),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: self.to_string(),
                details,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(secs));
        }
        resp
    }
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
