//! HTTP errors that tell the sender exactly what to fix.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem with one field of one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// 1-based line of an NDJSON body (1 for a single JSON object).
    pub line: usize,
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    /// A problem with `field` on `line`.
    pub fn new(line: usize, field: &str, problem: impl Into<String>) -> Self {
        FieldProblem {
            line,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

impl From<tenure_core::intake::Problem> for FieldProblem {
    fn from(p: tenure_core::intake::Problem) -> Self {
        FieldProblem {
            line: p.line,
            field: p.field,
            problem: p.problem,
        }
    }
}

/// The core's problems as this API reports them.
pub fn from_core(problems: Vec<tenure_core::intake::Problem>) -> Vec<FieldProblem> {
    problems.into_iter().map(FieldProblem::from).collect()
}

/// A refused request. Nothing of a refused request was published: the sender fixes
/// the named problems (4xx) or retries later (5xx) and may resend the whole request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub problems: Vec<FieldProblem>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldProblem]>::is_empty")]
    problems: &'a [FieldProblem],
}

impl ApiError {
    /// 400: the body cannot be read at all.
    pub fn malformed(message: impl Into<String>, problems: Vec<FieldProblem>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "malformed_request",
            message: message.into(),
            problems,
        }
    }

    /// 422: the body is readable but would create an ungoverned or impossible fact.
    pub fn unprocessable(problems: Vec<FieldProblem>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: format!("{} problem(s) found; nothing was accepted", problems.len()),
            problems,
        }
    }

    /// 401: no credential, or an unknown one. Send the source's bearer token.
    /// The body is larger than the route accepts; send less.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// 403: a known credential without the scope this endpoint needs.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// 503: the identity directory (PostgreSQL) cannot be read; nothing was published. Retry.
    pub fn unavailable_store(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "directory_unavailable",
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// 503: the broker did not acknowledge; nothing is known to be accepted. Retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "broker_unavailable",
            message: message.into(),
            problems: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message: &self.message,
            problems: &self.problems,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Response mapper for the whole HTTP app: an error answer that is not JSON already
/// (axum's own refusals: 404 for an unknown route, 405, 413 for an oversized body,
/// 415, …) is given the same JSON shape as every other error, so a client parses one
/// format. `axum::middleware::map_response(json_errors)`.
pub async fn json_errors(response: Response) -> Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            format!(
                "the body is larger than {} bytes; send smaller batches",
                crate::MAX_BODY_BYTES
            ),
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method (see Allow)".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        StatusCode::UNAUTHORIZED => ("unauthorized", text),
        StatusCode::FORBIDDEN => ("forbidden", text),
        s if s.is_server_error() => ("unavailable", "the service cannot answer now; retry".into()),
        _ => ("malformed_request", text),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        message
    };
    let mut answer = ApiError {
        status,
        code,
        message,
        problems: Vec::new(),
    }
    .into_response();
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}
