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
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "unavailable", "message": format!("PostgreSQL: {e}")})),
    )
}

async fn status(State(ops): State<Ops>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let client = ops.db.client().await.map_err(unavailable)?;
    let client: &tokio_postgres::Client = &client;
    brake::status(client).await.map(Json).map_err(unavailable)
}

async fn release(State(ops): State<Ops>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let mut client = ops.db.client().await.map_err(unavailable)?;
    let client: &mut tokio_postgres::Client = &mut client;
    let released = brake::release(client, &ops.retry)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({"released": released})))
}
