//! SCIM 2.0 service provider (RFC 7643/7644) under `/scim/v2`, so HR-driven
//! provisioning tools and identity providers can point at Tenure: creating a User is
//! a joiner (or a rehire), a change of role or attributes is a mover, `active: false`
//! or DELETE is a leaver. Every change is a lifecycle event, answered only after the
//! broker has acknowledged it; the User record is kept as sent, in the log, and read
//! back from the projection.
//!
//! Rooms: [`users`] (the User operations), [`query`] (list, filter, search),
//! [`bulk`], [`discovery`] (ServiceProviderConfig, Schemas, ResourceTypes); the
//! protocol's mechanics over JSON in [`schema`], [`filter`], [`projection`],
//! [`patch`]; [`user`] maps a record to what Tenure decides on; [`store`] and
//! [`ledger`] read what Tenure holds.

mod bulk;
mod discovery;
mod error;
pub mod filter;
pub mod ledger;
pub mod patch;
pub mod problem;
pub mod projection;
mod query;
pub mod schema;
mod store;
pub mod user;
mod users;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{any, get, post};
use serde_json::Value;
use std::collections::HashMap;
use tenure_core::{IdentityId, IdentityState};

use crate::routes::IngestState;
pub use error::ScimError;
pub use user::{ENTERPRISE, USER_SCHEMA};

/// The source system SCIM events carry.
pub use tenure_core::intake::source::SCIM_SOURCE;

/// Where the SCIM API is mounted.
pub const SCIM_ROOT: &str = "/scim/v2";

type ScimResult = Result<axum::response::Response, ScimError>;

/// The SCIM API; needs the projection (`IngestState::with_directory`) to answer.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route(
            "/scim/v2/Users",
            get(users::list)
                .post(users::create)
                .fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/Users/.search",
            post(query::search).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/.search",
            post(query::search).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/Users/{id}",
            get(users::read)
                .put(users::replace)
                .patch(users::modify)
                .delete(users::remove)
                .fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/Bulk",
            post(bulk::bulk).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/Schemas",
            get(discovery::schemas).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/Schemas/{id}",
            get(discovery::schema).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/ResourceTypes",
            get(discovery::resource_types).fallback(error::method_not_allowed),
        )
        .route(
            "/scim/v2/ResourceTypes/{id}",
            get(discovery::resource_type).fallback(error::method_not_allowed),
        )
        .route("/scim/v2", any(error::no_such_endpoint))
        .route("/scim/v2/{*rest}", any(error::no_such_endpoint))
        .with_state(state)
}

/// The SCIM base URL the client reached Tenure by, for `meta.location` and `$ref`.
pub(crate) fn base(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map(|h| format!("{scheme}://{h}{SCIM_ROOT}"))
        .unwrap_or_else(|| SCIM_ROOT.to_owned())
}

/// Authenticates a SCIM request (scope `hr`) and reads its body, refusing one the
/// framework could not read (too large, say) as a SCIM error.
pub(crate) fn admitted(
    state: &IngestState,
    headers: &HeaderMap,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ScimError> {
    let body = body.map_err(error::body_refused)?;
    state
        .credentials
        .admit(headers, method, uri, &body, crate::auth::Scope::Hr)?;
    Ok(body)
}

/// Reads a body as the SCIM message `T` (`name` says which, for the error).
pub(crate) fn message<T: serde::de::DeserializeOwned>(
    body: &[u8],
    name: &str,
) -> Result<T, ScimError> {
    serde_json::from_value(parse_body(body)?)
        .map_err(|e| ScimError::syntax(format!("not a {name} message: {e}")))
}

/// Reads a JSON body, refusing what is not JSON as SCIM's `invalidSyntax`.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| ScimError::syntax(format!("body is not JSON: {e}")))
}

/// 503: the projection SCIM reads from cannot be reached; the client retries.
fn unavailable(e: impl std::fmt::Display) -> ScimError {
    // The database's own error text is logged, never sent to the caller.
    tracing::warn!(error = %e, "SCIM: the projection cannot be read");
    ScimError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        None,
        "the projection cannot be read; retry",
    )
}

/// A connection to the projection (ingest must run with a database for SCIM).
async fn projection(state: &IngestState) -> Result<deadpool_postgres::Object, ScimError> {
    let db = state.directory.as_ref().ok_or_else(|| {
        ScimError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            None,
            "SCIM needs the projection; run ingest with a database",
        )
    })?;
    db.client().await.map_err(unavailable)
}

/// Decodes stored states, refusing (as unreadable) one another version wrote.
fn decoded(stored: Vec<store::StoredState>) -> Result<Vec<IdentityState>, ScimError> {
    stored
        .into_iter()
        .map(|s| s.map_err(|e| unavailable(format!("corrupt state: {e}"))))
        .collect()
}

/// The people `ids` as SCIM must see them: the projection, or this process's own
/// later write where the projector has not folded it in yet (see [`ledger`]).
async fn load(state: &IngestState, ids: &[IdentityId]) -> Result<Vec<IdentityState>, ScimError> {
    let client = projection(state).await?;
    // Where the projector stood *before* the rows are read: a write it had passed
    // then is in the rows read after.
    let mut written = Vec::new();
    let mut projected_by_partition: HashMap<i32, Option<i64>> = HashMap::new();
    for id in ids {
        let Some(w) = state.scim.written(*id) else {
            continue;
        };
        let projected = match projected_by_partition.get(&w.partition) {
            Some(p) => *p,
            None => {
                let p = store::projector_next_offset(&client, w.partition)
                    .await
                    .map_err(unavailable)?;
                projected_by_partition.insert(w.partition, p);
                p
            }
        };
        let passed = projected.is_some_and(|next| next > w.offset);
        written.push((*id, w, passed));
    }
    let mut found: HashMap<IdentityId, IdentityState> =
        decoded(store::people(&client, ids).await.map_err(unavailable)?)?
            .into_iter()
            .map(|s| (s.identity_id, s))
            .collect();
    for (id, w, passed) in written {
        if passed {
            state.scim.forget(id, w.offset);
        } else {
            found.insert(id, w.state);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Whether `id` is a service account, API key or agent Tenure already knows.
async fn non_human(state: &IngestState, id: IdentityId) -> Result<bool, ScimError> {
    if state.directory.is_none() {
        return Ok(false);
    }
    let client = projection(state).await?;
    store::is_known_non_human(&client, id)
        .await
        .map_err(unavailable)
}

/// Whether a person is a User their source can see: not deleted over SCIM.
fn visible(state: &IdentityState) -> bool {
    !tenure_core::intake::is_deleted_at_source(state)
        && state.status != tenure_core::IdentityStatus::Unknown
}
