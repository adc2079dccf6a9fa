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

/// The status of each of the domain's errors: the one place that decides it.
impl From<minqing_domain::Error> for ApiError {
    fn from(e: minqing_domain::Error) -> Self {
        use minqing_domain::Error as E;
        match e {
            E::Invalid(m) => ApiError::BadRequest(m),
            E::NotFound(m) => ApiError::NotFound(m),
            E::Unauthenticated(m) => ApiError::Unauthorized(m),
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::Conflict { message, detail } => ApiError::Conflict {
                message,
                details: detail.as_ref().map(detail_json),
            },
            E::TooLarge(m) => ApiError::PayloadTooLarge(m),
            E::Unprocessable(m) => ApiError::Unprocessable(m),
            E::UnprocessableWith { message, detail } => ApiError::UnprocessableWith {
                message,
                details: detail_json(&detail),
            },
            E::RateLimited {
                message,
                retry_after,
            } => ApiError::TooManyRequests {
                message,
                retry_after,
            },
            E::Loading => ApiError::Loading,
            E::Unavailable(m) => ApiError::Unavailable(m),
            E::StorageFull(m) => ApiError::InsufficientStorage(m),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The wire shape of a domain error's facts (`error.details`), kept as the API has
/// always written them.
fn detail_json(detail: &minqing_domain::error::Detail) -> serde_json::Value {
    use minqing_domain::error::Detail as D;
    use serde_json::json;
    match detail {
        D::StaleVersion {
            current_version,
            status,
        } => json!({"current_version": current_version, "status": status}),
        D::StepNotAllowed { status, allowed } => json!({"status": status, "allowed": allowed}),
        D::AddressCandidates(candidates) => json!({"candidates": candidates
            .iter()
            .map(|c| json!({"address_code": c.address_code, "label": c.label}))
            .collect::<Vec<_>>()}),
        D::NotAdmitted { rule, item_code } => json!({"rule": rule, "item_code": item_code}),
        D::AliasRefused { reason } => json!({"reason": reason}),
    }
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full store is a 507 with Retry-After and the `insufficient_storage` code; any
    /// other store failure a 503; an internal error a 500 that never shows its cause.
    #[tokio::test]
    async fn domain_errors_become_the_right_statuses() {
        let full =
            ApiError::from(minqing_domain::Error::StorageFull("full".into())).into_response();
        assert_eq!(full.status().as_u16(), 507);
        assert_eq!(full.headers()["retry-after"], "30");
        let body = http_body_util::BodyExt::collect(full.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "insufficient_storage");
        let down = ApiError::from(minqing_domain::Error::Unavailable("down".into()));
        assert_eq!(down.into_response().status().as_u16(), 503);
        let internal = ApiError::from(minqing_domain::Error::Internal(anyhow::anyhow!(
            "secret table name"
        )))
        .into_response();
        assert_eq!(internal.status().as_u16(), 500);
        let body = http_body_util::BodyExt::collect(internal.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}
