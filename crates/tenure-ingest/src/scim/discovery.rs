//! Discovery (RFC 7644 §4): what Tenure's SCIM endpoint supports, so a client (an
//! identity provider, a compliance checker) configures itself instead of guessing.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::error::{ScimError, scim_json};
use super::query::{LIST_SCHEMA, MAX_RESULTS};
use super::schema::{self, ProviderLimits};
use super::{ScimResult, base};
use crate::auth::Scope;
use crate::routes::IngestState;

/// Most operations one `/Bulk` request may carry.
pub const BULK_MAX_OPERATIONS: usize = 1000;

/// The limits the ServiceProviderConfig announces and the endpoints enforce.
pub fn limits() -> ProviderLimits {
    ProviderLimits {
        bulk_max_operations: BULK_MAX_OPERATIONS,
        bulk_max_payload_bytes: crate::MAX_BODY_BYTES,
        filter_max_results: MAX_RESULTS,
    }
}

fn admit(
    state: &IngestState,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
) -> Result<(), ScimError> {
    state
        .credentials
        .admit(headers, method, uri, &[], Scope::Hr)?;
    Ok(())
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub(super) async fn service_provider_config(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> ScimResult {
    admit(&state, &headers, &method, &uri)?;
    let base = base(&headers);
    Ok(scim_json(
        StatusCode::OK,
        &schema::service_provider_config(&base, &limits(), None),
    ))
}

pub(super) async fn schemas(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> ScimResult {
    admit(&state, &headers, &method, &uri)?;
    Ok(scim_json(
        StatusCode::OK,
        &list(schema::schema_documents(&base(&headers))),
    ))
}

pub(super) async fn schema(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> ScimResult {
    admit(&state, &headers, &method, &uri)?;
    schema::schema_documents(&base(&headers))
        .into_iter()
        .find(|s| s["id"].as_str() == Some(id.as_str()))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found("Schema", &id))
}

pub(super) async fn resource_types(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> ScimResult {
    admit(&state, &headers, &method, &uri)?;
    Ok(scim_json(
        StatusCode::OK,
        &list(vec![schema::user_resource_type(&base(&headers))]),
    ))
}

pub(super) async fn resource_type(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> ScimResult {
    admit(&state, &headers, &method, &uri)?;
    let user = schema::user_resource_type(&base(&headers));
    if user["id"].as_str() == Some(id.as_str()) {
        Ok(scim_json(StatusCode::OK, &user))
    } else {
        Err(ScimError::not_found("ResourceType", &id))
    }
}
