//! The reactor's operator API: the safety brake's state, and its release.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tenure_store::Database;

use crate::{RetryPolicy, brake};

/// The reactor API's routes, as the OpenAPI document lists them.
pub const ROUTES: &[(&str, &str)] = &[("get", "/v1/brake"), ("post", "/v1/brake/release")];

#[derive(Clone)]
struct Ops {
    db: Database,
    retry: RetryPolicy,
}

/// The operator API over `db`.
pub fn router(db: Database, retry: RetryPolicy) -> Router {
    Router::new()
        .route("/v1/brake", get(status))
        .route("/v1/brake/release", post(release))
        .with_state(Ops { db, retry })
}

fn unavailable(e: impl std::fmt::Display) -> (StatusCode, Json<Value>) {
    // The database's own error text is logged, never sent to the caller.
    tracing::warn!(error = %e, "the brake's state cannot be read or changed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "unavailable", "message": "the database cannot be reached; retry"})),
    )
}

async fn status(State(ops): State<Ops>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let client = ops.db.client().await.map_err(unavailable)?;
    let client: &tokio_postgres::Client = &client;
    brake::status(client).await.map(Json).map_err(unavailable)
}

/// The credential an authenticated operator request was admitted with; when present it
/// is the actor recorded for the action (whatever the body says).
#[derive(Clone, Debug)]
pub struct Actor(pub String);

/// The body of a release: who releases the brake, and why (both go on the log).
#[derive(serde::Deserialize)]
struct ReleaseBody {
    actor: Option<String>,
    reason: Option<String>,
}

async fn release(
    State(ops): State<Ops>,
    authenticated: Option<axum::Extension<Actor>>,
    body: Option<Json<ReleaseBody>>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let body = body.map(|Json(b)| b).unwrap_or(ReleaseBody {
        actor: None,
        reason: None,
    });
    let request = brake::Release {
        // With credentials configured the operator is who authenticated; only an open
        // (development) installation takes the body's word for it.
        actor: match authenticated {
            Some(axum::Extension(Actor(name))) => name,
            None => body.actor.unwrap_or_default(),
        },
        reason: body.reason.unwrap_or_default(),
    };
    let mut client = ops.db.client().await.map_err(unavailable)?;
    let client: &mut tokio_postgres::Client = &mut client;
    let released = brake::release(client, &ops.retry, &request)
        .await
        .map_err(|e| match e {
            brake::ReleaseError::Invalid(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "invalid_release", "message": message})),
            ),
            brake::ReleaseError::Store(e) => unavailable(e),
        })?;
    Ok(Json(
        json!({"released": released, "actor": request.actor, "reason": request.reason}),
    ))
}
