//! The ARM error envelope: `{"error": {"code", "message", "target", "details"}}`.
//!
//! Every failure a client can see goes through [`ArmError`], so the body shape, the status
//! and the `x-ms-failure-cause` header are decided in one place. Internal failures are logged
//! with their cause and rendered as a generic `InternalServerError` without details. The HTTP
//! rendering is the ARM layer's ([`crate::arm::response`]).

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

/// An error as ARM reports it.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ArmError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ArmError>,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ArmError {
            status,
            code: code.to_string(),
            message: message.into(),
            target: None,
            details: Vec::new(),
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn with_details(mut self, details: Vec<ArmError>) -> Self {
        self.details = details;
        self
    }

    /// An unexpected failure: the cause goes to the log, the client gets no internals.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An internal error occurred while processing the request.",
        )
    }

    /// The resource a request names does not exist.
    pub fn resource_not_found(type_name: &str, name: &str, resource_group: &str) -> Self {
        Self::not_found(
            "ResourceNotFound",
            format!(
                "The Resource '{type_name}/{name}' under resource group '{resource_group}' was not found. \
                 For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    pub fn resource_group_not_found(name: &str) -> Self {
        Self::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{name}' could not be found."),
        )
    }

    pub fn invalid_request_content(detail: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )
    }

    /// The JSON body, as ARM writes it.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": self })
    }
}

impl From<sqlx::Error> for ArmError {
    fn from(e: sqlx::Error) -> Self {
        match storage_trouble(&e) {
            Some(why) => {
                tracing::warn!(cause = %e, "store unavailable");
                ArmError::storage_unavailable(why)
            }
            None => ArmError::internal(e),
        }
    }
}

impl ArmError {
    /// The store cannot take a write right now (disk full, read-only, busy): nothing was
    /// changed, and the client should retry. Azure answers such transient failures with 429
    /// `RetryableError` and `Retry-After` (as Network does), which `az` and the SDKs retry.
    pub fn storage_unavailable(why: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RetryableError",
            format!(
                "A retryable error occurred: armlet could not save the change because its data directory {why}. Nothing was changed; retry the request later (free disk space if it is full)."
            ),
        )
    }
}

/// Why a store error is the disk's or the moment's (not a bug): SQLite's primary result
/// codes for a full, read-only, unwritable or busy database, and I/O errors.
fn storage_trouble(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Io(_) => Some("could not be written (I/O error)"),
        sqlx::Error::PoolTimedOut => Some("is busy"),
        sqlx::Error::Database(d) => {
            let code: i64 = d.code()?.parse().ok()?;
            match code & 0xff {
                13 => Some("is on a full disk"),
                8 => Some("is read-only"),
                10 | 14 => Some("could not be written (I/O error)"),
                5 | 6 => Some("is busy"),
                _ => None,
            }
        }
        _ => None,
    }
}

pub type ArmResult<T> = Result<T, ArmError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_code_and_message_and_omits_empty_fields() {
        let e = ArmError::bad_request("InvalidThing", "bad").with_target("name");
        assert_eq!(
            e.body(),
            json!({"error": {"code": "InvalidThing", "message": "bad", "target": "name"}})
        );
    }

    #[test]
    fn a_full_or_busy_store_asks_to_retry_without_a_5xx() {
        let e = ArmError::storage_unavailable("is on a full disk");
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "RetryableError")
        );
        let other: ArmError = sqlx::Error::RowNotFound.into();
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
        let io: ArmError = sqlx::Error::Io(std::io::Error::other("ENOSPC")).into();
        assert_eq!(io.code, "RetryableError");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ArmError::internal("disk on fire");
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("disk"));
    }
}
