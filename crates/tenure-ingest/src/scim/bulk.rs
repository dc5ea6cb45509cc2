//! `/Bulk` (RFC 7644 §3.7): many User operations in one request, each answered on
//! its own (a bulk request is not a transaction), `failOnErrors` stopping after that
//! many failures, and `bulkId` references, forward ones included: an operation that
//! names `bulkId:x` (in its path or anywhere in its data) runs after the POST that
//! creates `x`, with `x`'s id in its place.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

use super::discovery::BULK_MAX_OPERATIONS;
use super::error::{ScimError, scim_json};
use super::users::{Answer, create_user, delete_user, modify_user, replace_user};
use super::{ScimResult, admitted, base, message};
use crate::routes::IngestState;

use super::schema::{BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA};
const REFERENCE: &str = "bulkId:";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkRequest {
    #[serde(default)]
    schemas: Vec<String>,
    #[serde(default)]
    fail_on_errors: Option<usize>,
    #[serde(rename = "Operations", alias = "operations")]
    operations: Vec<BulkOperation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkOperation {
    method: String,
    #[serde(default)]
    bulk_id: Option<String>,
    #[serde(default)]
    version: Option<String>,
    path: String,
    #[serde(default)]
    data: Option<Value>,
}

/// Every `bulkId` an operation refers to, in its path and its data.
fn references(operation: &BulkOperation) -> HashSet<String> {
    fn walk(value: &Value, found: &mut HashSet<String>) {
        match value {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(REFERENCE) {
                    found.insert(id.to_owned());
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            Value::Object(map) => map.values().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = HashSet::new();
    if let Some(id) = operation
        .path
        .rsplit('/')
        .next()
        .and_then(|s| s.strip_prefix(REFERENCE))
    {
        found.insert(id.to_owned());
    }
    if let Some(data) = &operation.data {
        walk(data, &mut found);
    }
    found
}

/// `value` with every `bulkId:x` replaced by the id `x` was created with.
fn substitute(value: &mut Value, created: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(REFERENCE).and_then(|b| created.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, created)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, created)),
        _ => {}
    }
}

/// The User id a `/Users/{id}` path names.
fn user_id(path: &str) -> Result<&str, ScimError> {
    path.trim_end_matches('/')
        .strip_prefix("/Users/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            ScimError::invalid(format!(
                "path {path:?} does not name a User (/Users/{{id}})"
            ))
        })
}

/// Runs one operation (its references already substituted).
async fn perform(
    state: &IngestState,
    base: &str,
    operation: &BulkOperation,
) -> Result<Answer, ScimError> {
    let data = || {
        operation
            .data
            .clone()
            .ok_or_else(|| ScimError::syntax(format!("{} needs data", operation.method)))
    };
    let version = operation.version.as_deref();
    match operation.method.to_ascii_uppercase().as_str() {
        "POST" if operation.path.trim_end_matches('/') == "/Users" => {
            create_user(state, base, data()?).await
        }
        "POST" => Err(ScimError::invalid(format!(
            "POST is for /Users, not {:?}",
            operation.path
        ))),
        "PUT" => replace_user(state, base, user_id(&operation.path)?, data()?, version).await,
        "PATCH" => modify_user(state, base, user_id(&operation.path)?, data()?, version).await,
        "DELETE" => delete_user(state, base, user_id(&operation.path)?, version).await,
        other => Err(ScimError::invalid(format!(
            "method {other:?} is not POST, PUT, PATCH or DELETE"
        ))),
    }
}

fn outcome(operation: &BulkOperation, answer: Result<Answer, ScimError>) -> Value {
    let mut result = json!({"method": operation.method.to_ascii_uppercase()});
    if let Some(b) = &operation.bulk_id {
        result["bulkId"] = json!(b);
    }
    match answer {
        Ok(answer) => {
            result["status"] = json!(answer.status.as_u16().to_string());
            if let Some(l) = answer.location() {
                result["location"] = json!(l);
            }
            if let Some(v) = answer.version() {
                result["version"] = json!(v);
            }
        }
        Err(e) => {
            result["status"] = json!(e.status.as_u16().to_string());
            result["response"] = e.body();
        }
    }
    result
}

pub(super) async fn bulk(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult {
    let body = admitted(&state, &headers, &method, &uri, body)?;
    let request: BulkRequest = message(&body, "BulkRequest")?;
    if !request.schemas.is_empty() && !request.schemas.iter().any(|s| s == BULK_REQUEST_SCHEMA) {
        return Err(ScimError::syntax(format!(
            "schemas must list {BULK_REQUEST_SCHEMA}"
        )));
    }
    if request.operations.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            format!(
                "{} operations; a bulk request carries at most {BULK_MAX_OPERATIONS}",
                request.operations.len()
            ),
        ));
    }
    let base = base(&headers);
    let defined: HashSet<String> = request
        .operations
        .iter()
        .filter(|o| o.method.eq_ignore_ascii_case("POST"))
        .filter_map(|o| o.bulk_id.clone())
        .collect();
    let mut results: Vec<Option<Value>> = vec![None; request.operations.len()];
    let mut pending: Vec<usize> = (0..request.operations.len()).collect();
    let mut created: HashMap<String, String> = HashMap::new();
    let mut failed: HashSet<String> = HashSet::new();
    let mut errors = 0usize;
    let stop_after = request.fail_on_errors.filter(|n| *n > 0);
    while !pending.is_empty() && stop_after.is_none_or(|n| errors < n) {
        // The first operation, in request order, whose references are all settled.
        let ready = pending.iter().position(|i| {
            references(&request.operations[*i])
                .iter()
                .all(|b| created.contains_key(b) || failed.contains(b) || !defined.contains(b))
        });
        let Some(at) = ready else {
            // What is left refers in a circle: none of it can run.
            for i in pending.drain(..) {
                let e = ScimError::new(
                    StatusCode::CONFLICT,
                    Some("invalidValue"),
                    "circular bulkId references: this operation waits on one that waits on it",
                );
                results[i] = Some(outcome(&request.operations[i], Err(e)));
            }
            break;
        };
        let index = pending.remove(at);
        let mut operation = request.operations[index].clone();
        let unsettled: Vec<String> = references(&operation)
            .into_iter()
            .filter(|b| !created.contains_key(b))
            .collect();
        let answer = if let Some(b) = unsettled.first() {
            Err(ScimError::new(
                StatusCode::CONFLICT,
                Some("invalidValue"),
                if failed.contains(b) {
                    format!("bulkId {b:?} names an operation of this request that failed")
                } else {
                    format!("bulkId {b:?} is not the bulkId of a POST in this request")
                },
            ))
        } else {
            if let Some(data) = operation.data.as_mut() {
                substitute(data, &created);
            }
            let mut path = Value::String(operation.path.clone());
            substitute_path(&mut path, &created);
            operation.path = path.as_str().unwrap_or_default().to_owned();
            perform(&state, &base, &operation).await
        };
        match (&answer, &operation.bulk_id) {
            (Ok(a), Some(b)) => {
                if let Some(id) = a.resource.as_ref().and_then(|r| r["id"].as_str()) {
                    created.insert(b.clone(), id.to_owned());
                }
            }
            (Err(_), Some(b)) => {
                failed.insert(b.clone());
            }
            _ => {}
        }
        if answer.is_err() {
            errors += 1;
        }
        results[index] = Some(outcome(&operation, answer));
    }
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [BULK_RESPONSE_SCHEMA],
            "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
        }),
    ))
}

/// A path's `bulkId:x` segment replaced by `x`'s id.
fn substitute_path(path: &mut Value, created: &HashMap<String, String>) {
    if let Value::String(p) = path
        && let Some((head, last)) = p.rsplit_once('/')
        && let Some(id) = last.strip_prefix(REFERENCE).and_then(|b| created.get(b))
    {
        *p = format!("{head}/{id}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_paths_and_data_and_substituted() {
        let operation: BulkOperation = serde_json::from_value(json!({
            "method": "PATCH", "path": "/Users/bulkId:a",
            "data": {"Operations": [{"op": "add", "path": "manager", "value": {"value": "bulkId:b"}}]}
        }))
        .unwrap();
        let found = references(&operation);
        assert_eq!(found, HashSet::from(["a".to_owned(), "b".to_owned()]));
        let created = HashMap::from([("b".to_owned(), "id-b".to_owned())]);
        let mut data = operation.data.clone().unwrap();
        substitute(&mut data, &created);
        assert_eq!(data["Operations"][0]["value"]["value"], "id-b");
        let mut path = json!("/Users/bulkId:b");
        substitute_path(&mut path, &created);
        assert_eq!(path, "/Users/id-b");
        assert!(user_id("/Groups/x").is_err());
    }
}
