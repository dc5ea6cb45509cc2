//! The replay guard for signed requests: a signature is claimed when its request
//! arrives and released if the request is refused, so a captured signed request cannot
//! be accepted twice while its timestamp is fresh, and a refused one (422, 503) may be
//! resent as it is. Shared by every ingest instance through PostgreSQL; an ingest
//! without a database keeps the claims in its own memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenure_store::Database;

use crate::auth::{SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECS};
use crate::error::ApiError;
use crate::sql;

/// How long a claim is kept: a signature older than the tolerance either side of now
/// is refused as stale anyway.
const CLAIM_SECS: i64 = 2 * SIGNATURE_TOLERANCE_SECS + 60;

/// Where claims live.
#[derive(Clone)]
pub enum ReplayGuard {
    /// Shared by all instances on one database.
    Shared(Box<Database>),
    /// This process only (an ingest run without a database).
    Local(Arc<Mutex<HashMap<String, i64>>>),
}

impl ReplayGuard {
    /// Claims `signature`: false when another request holds it.
    async fn claim(&self, signature: &str) -> Result<bool, ApiError> {
        match self {
            ReplayGuard::Shared(db) => {
                let client = db.client().await.map_err(unavailable)?;
                let seconds = CLAIM_SECS as f64;
                let row = client
                    .query_opt(sql::CLAIM_SIGNATURE, &[&signature, &seconds])
                    .await
                    .map_err(unavailable)?;
                Ok(row.is_some())
            }
            ReplayGuard::Local(claims) => {
                let now = chrono::Utc::now().timestamp();
                let mut claims = claims.lock().unwrap_or_else(|p| p.into_inner());
                claims.retain(|_, until| *until >= now);
                Ok(claims
                    .insert(signature.to_owned(), now + CLAIM_SECS)
                    .is_none())
            }
        }
    }

    /// Releases a refused request's signature; a failure only means the sender must
    /// sign afresh to resend.
    async fn release(&self, signature: &str) {
        match self {
            ReplayGuard::Shared(db) => {
                let released = match db.client().await {
                    Ok(client) => client
                        .execute(sql::RELEASE_SIGNATURE, &[&signature])
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = released {
                    tracing::warn!(error = %e, "a refused request's signature could not be released");
                }
            }
            ReplayGuard::Local(claims) => {
                claims
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(signature);
            }
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "the replay guard cannot be read");
    ApiError::unavailable_store("signed requests cannot be checked right now; resend the request")
}

/// Axum middleware: claims a signed request's signature before it is handled and
/// releases it when the answer is not a success. Unsigned requests pass untouched.
pub async fn guard(State(guard): State<ReplayGuard>, request: Request, next: Next) -> Response {
    let Some(signature) = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return next.run(request).await;
    };
    match guard.claim(&signature).await {
        Ok(true) => {}
        Ok(false) => {
            return ApiError::unauthorized(
                "this signed request was already accepted: sign each request afresh",
            )
            .into_response();
        }
        Err(refusal) => return refusal.into_response(),
    }
    let response = next.run(request).await;
    if !response.status().is_success() {
        guard.release(&signature).await;
    }
    response
}
