//! SCIM's error responses (RFC 7644 §3.12): every refusal of the SCIM API, Tenure's
//! own and the web framework's (unknown path, method, oversized body), answers with
//! a SCIM error body naming the problem and, for a 400, its `scimType`.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::problem::ScimProblem;
use crate::error::ApiError;

pub use super::schema::ERROR_SCHEMA;

/// A refusal of the SCIM API; the client reads `status`, `scimType` and `detail`.
#[derive(Debug)]
pub struct ScimError {
    pub(super) status: StatusCode,
    pub(super) scim_type: Option<&'static str>,
    pub(super) detail: String,
}

impl ScimError {
    /// An error with SCIM's fields.
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 `invalidValue`: the request names a value Tenure cannot take.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    /// 400 `invalidSyntax`: the body is not the message the endpoint takes.
    pub fn syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    /// 404: no such User (or one its source deleted).
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!(
                "no {what} with id {:?}",
                id.chars().take(128).collect::<String>()
            ),
        )
    }

    /// 409 `uniqueness`: another User holds the value.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    /// The error as SCIM's JSON body (also a bulk operation's `response`).
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        body
    }
}

impl From<ScimProblem> for ScimError {
    fn from(p: ScimProblem) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some(p.scim_type), p.detail)
    }
}

impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        ScimError::new(e.status, None, e.message)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        scim_json(self.status, &self.body())
    }
}

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/scim+json")],
        body.to_string(),
    )
        .into_response()
}

/// The framework's refusal of a body (too large, unreadable) as a SCIM error.
pub fn body_refused(rejection: axum::extract::rejection::BytesRejection) -> ScimError {
    let status = rejection.status();
    let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the body is larger than the {} bytes this endpoint takes",
            crate::MAX_BODY_BYTES
        )
    } else {
        format!("the body cannot be read: {}", rejection.body_text())
    };
    let scim_type = (status == StatusCode::BAD_REQUEST).then_some("invalidSyntax");
    ScimError::new(status, scim_type, detail)
}

/// 404 for a path the SCIM API does not serve.
pub async fn no_such_endpoint(uri: axum::http::Uri) -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        format!(
            "{} is not a SCIM endpoint of Tenure (Users, Bulk, ServiceProviderConfig, Schemas, ResourceTypes)",
            uri.path().chars().take(256).collect::<String>()
        ),
    )
}

/// 405 for a method an endpoint does not take.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!(
            "{method} is not supported on {}",
            uri.path().chars().take(256).collect::<String>()
        ),
    )
}
