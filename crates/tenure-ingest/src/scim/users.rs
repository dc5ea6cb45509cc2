//! The User operations (RFC 7644 §3.3–3.6): create, read, replace, modify, delete,
//! each with its lifecycle meaning decided by the core, the `ETag`/`If-Match`
//! preconditions (§3.14), and `userName` unique without regard to case. The
//! operations are shared by the HTTP handlers and by `/Bulk`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tenure_core::intake::CreateRefusal;
use tenure_core::{EventPayload, IdentityId, IdentityState, LifecycleEvent, ids};

use super::error::{ScimError, scim_json};
use super::{
    ScimResult, admitted, base, load, non_human, parse_body, patch, schema, user, visible,
};
use crate::auth::Scope;
use crate::routes::IngestState;

/// What a User operation answers: its status and, but for a delete, the User.
pub(super) struct Answer {
    pub status: StatusCode,
    pub resource: Option<Value>,
}

impl Answer {
    /// The User's version (its `ETag`), if the answer carries one.
    pub fn version(&self) -> Option<&str> {
        self.resource.as_ref()?["meta"]["version"].as_str()
    }

    /// The User's location, if the answer carries one.
    pub fn location(&self) -> Option<&str> {
        self.resource.as_ref()?["meta"]["location"].as_str()
    }

    fn into_response(self, attributes: Option<&super::query::Selection>) -> Response {
        let Some(resource) = &self.resource else {
            return self.status.into_response();
        };
        let shown = match attributes {
            Some(selection) => selection.apply(resource),
            None => resource.clone(),
        };
        let mut response = scim_json(self.status, &shown);
        if let Some(v) = self.version().and_then(|v| HeaderValue::from_str(v).ok()) {
            response.headers_mut().insert(ETAG, v);
        }
        if self.status == StatusCode::CREATED
            && let Some(l) = self.location().and_then(|l| HeaderValue::from_str(l).ok())
        {
            response.headers_mut().insert(LOCATION, l);
        }
        response
    }
}

/// A deterministic event for a SCIM change: the same request retried at the same
/// version of the person is the same event.
fn event(
    identity_id: IdentityId,
    version: u64,
    payload: EventPayload,
    now: DateTime<Utc>,
) -> LifecycleEvent {
    let digest = Sha256::digest(serde_json::to_vec(&payload).unwrap_or_default());
    let source_event_id = format!("{identity_id}:{version}:{}", hex::encode(&digest[..12]));
    LifecycleEvent {
        event_id: ids::event(super::SCIM_SOURCE, &source_event_id),
        identity_id,
        effective_time: now,
        recorded_time: now,
        source_system: super::SCIM_SOURCE.to_owned(),
        source_event_id,
        causation_id: None,
        payload,
    }
}

/// The events for `payloads`, numbered from `current`'s version.
fn events_of(current: &IdentityState, payloads: Vec<EventPayload>) -> Vec<LifecycleEvent> {
    let now = Utc::now();
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            event(
                current.identity_id,
                current.events_applied + i as u64,
                p,
                now,
            )
        })
        .collect()
}

/// Refuses, as SCIM's invalidValue naming the attribute, what could not be stored
/// and a role the policy does not define.
fn refuse_unstorable(
    events: &[LifecycleEvent],
    policy: &tenure_core::Policy,
) -> Result<(), ScimError> {
    let lines: Vec<_> = events.iter().cloned().map(|e| (1, e)).collect();
    let mut problems = tenure_core::intake::role_problems(&lines, policy);
    if let Err(mut unstorable) = tenure_core::intake::admit(lines, None) {
        problems.append(&mut unstorable);
    }
    match problems {
        problems if problems.is_empty() => Ok(()),
        problems => Err(ScimError::invalid(
            problems
                .iter()
                .map(|p| format!("{} {}", p.field, p.problem))
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

/// Publishes `events` and answers with the User as it is once they are folded in.
async fn publish_and_show(
    state: &IngestState,
    base: &str,
    current: IdentityState,
    events: Vec<LifecycleEvent>,
    status: StatusCode,
) -> Result<Answer, ScimError> {
    let after = if events.is_empty() {
        current
    } else {
        refuse_unstorable(&events, &state.policy)?;
        let delivered = crate::routes::publish_events(state, &events).await?;
        let after = events.iter().fold(current, tenure_core::apply);
        if let Some(last) = delivered.last() {
            state.scim.remember(after.clone(), *last);
        }
        after
    };
    Ok(Answer {
        status,
        resource: Some(user::resource(&after, base)),
    })
}

/// The User `id` as its source sees it: 404 when unknown or deleted.
async fn load_visible(state: &IngestState, id: &str) -> Result<IdentityState, ScimError> {
    let identity_id: IdentityId = id.parse().map_err(|_| ScimError::not_found("User", id))?;
    load(state, &[identity_id])
        .await?
        .pop()
        .filter(visible)
        .ok_or_else(|| ScimError::not_found("User", id))
}

/// RFC 7644 §3.14: a change names the version it was based on; `*` matches any.
fn precondition(
    current: &IdentityState,
    base: &str,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let Some(wanted) = if_match else {
        return Ok(());
    };
    let version = user::version_of(&user::resource(current, base));
    let strong = version.trim_start_matches("W/");
    let matches = wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == version || tag.trim_start_matches("W/") == strong);
    if matches {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!(
                "the User changed: If-Match names {wanted}, the User is at {version}; read it again"
            ),
        ))
    }
}

/// 409 when another User (not deleted) already has `user_name`, compared without
/// regard to case (RFC 7643 §4.1.1).
async fn refuse_taken_user_name(
    state: &IngestState,
    user_name: &str,
    except: IdentityId,
) -> Result<(), ScimError> {
    let holders = super::query::users_named(state, user_name).await?;
    match holders.iter().find(|h| h.identity_id != except) {
        Some(other) => Err(ScimError::conflict(format!(
            "userName {user_name:?} is already the User {}",
            other.identity_id
        ))),
        None => Ok(()),
    }
}

fn user_name(record: &Value) -> String {
    record["userName"].as_str().unwrap_or_default().to_owned()
}

/// POST /Users: a joiner, a rehire, or a person recorded inactive.
pub(super) async fn create_user(
    state: &IngestState,
    base: &str,
    mut body: Value,
) -> Result<Answer, ScimError> {
    schema::normalize_user(&mut body)?;
    let record = user::record_of(&body);
    let key = user::creation_key(&record).map_err(|e| ScimError::invalid(e.0))?;
    let identity_id = ids::identity(ids::PEOPLE, &key);
    let _serialised = state.scim.lock(identity_id).await;
    refuse_taken_user_name(state, &user_name(&record), identity_id).await?;
    let registered_non_human = non_human(state, identity_id).await?;
    let current = load(state, &[identity_id])
        .await?
        .pop()
        .unwrap_or_else(|| IdentityState::new(identity_id));
    let person = user::person_from_record(&record, &key, Some(&current.attributes), &state.policy)
        .map_err(|e| ScimError::invalid(e.0))?;
    let payloads = tenure_core::intake::person_created(&current, registered_non_human, &person)
        .map_err(|refusal| match refusal {
            CreateRefusal::NonHuman(_) | CreateRefusal::AlreadyHired(_) => {
                ScimError::conflict(refusal.to_string())
            }
        })?;
    let events = events_of(&current, payloads);
    publish_and_show(state, base, current, events, StatusCode::CREATED).await
}

/// The change from `current` to `record` (a PUT's body, or the User after a PATCH).
async fn change_user(
    state: &IngestState,
    base: &str,
    current: IdentityState,
    record: Value,
) -> Result<Answer, ScimError> {
    refuse_taken_user_name(state, &user_name(&record), current.identity_id).await?;
    let key = current.source_person_id.clone().unwrap_or_default();
    let mut person =
        user::person_from_record(&record, &key, Some(&current.attributes), &state.policy)
            .map_err(|e| ScimError::invalid(e.0))?;
    if !person.active && current.status.is_hired() && user::same_but_active(&record, &current) {
        // Only `active` went false, and the leaver says so: no mover for the record
        // (which shows `active` from Tenure's state). A rehire's joiner carries it.
        person.attributes.source_record = None;
    }
    let payloads = tenure_core::intake::person_change(&current, &person);
    let events = events_of(&current, payloads);
    publish_and_show(state, base, current, events, StatusCode::OK).await
}

/// PUT /Users/{id}: the User replaced by the body.
pub(super) async fn replace_user(
    state: &IngestState,
    base: &str,
    id: &str,
    mut body: Value,
    if_match: Option<&str>,
) -> Result<Answer, ScimError> {
    schema::normalize_user(&mut body)?;
    let record = user::record_of(&body);
    let identity_id: IdentityId = id.parse().map_err(|_| ScimError::not_found("User", id))?;
    let _serialised = state.scim.lock(identity_id).await;
    let current = load_visible(state, id).await?;
    precondition(&current, base, if_match)?;
    change_user(state, base, current, record).await
}

/// PATCH /Users/{id}: the operations applied to the User as Tenure holds it.
pub(super) async fn modify_user(
    state: &IngestState,
    base: &str,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> Result<Answer, ScimError> {
    let request: patch::PatchRequest = serde_json::from_value(body)
        .map_err(|e| ScimError::syntax(format!("not a PatchOp message: {e}")))?;
    let identity_id: IdentityId = id.parse().map_err(|_| ScimError::not_found("User", id))?;
    let _serialised = state.scim.lock(identity_id).await;
    let current = load_visible(state, id).await?;
    precondition(&current, base, if_match)?;
    let mut patched = user::record_of(&user::resource(&current, base));
    patch::apply(&mut patched, &request)?;
    schema::normalize_user(&mut patched)?;
    change_user(state, base, current, user::record_of(&patched)).await
}

/// DELETE /Users/{id}: a leaver; the User is gone for its source from then on.
pub(super) async fn delete_user(
    state: &IngestState,
    base: &str,
    id: &str,
    if_match: Option<&str>,
) -> Result<Answer, ScimError> {
    let identity_id: IdentityId = id.parse().map_err(|_| ScimError::not_found("User", id))?;
    let _serialised = state.scim.lock(identity_id).await;
    let current = load_visible(state, id).await?;
    precondition(&current, base, if_match)?;
    let events = events_of(
        &current,
        tenure_core::intake::person_deleted(&current)
            .into_iter()
            .collect(),
    );
    publish_and_show(state, base, current, events, StatusCode::NO_CONTENT).await?;
    Ok(Answer {
        status: StatusCode::NO_CONTENT,
        resource: None,
    })
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) async fn create(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult {
    let body = admitted(&state, &headers, &method, &uri, body)?;
    let selection = super::query::Selection::from_params(&params)?;
    let answer = create_user(&state, &base(&headers), parse_body(&body)?).await?;
    Ok(answer.into_response(Some(&selection)))
}

pub(super) async fn read(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &[], Scope::Hr)?;
    let selection = super::query::Selection::from_params(&params)?;
    let current = load_visible(&state, &id).await?;
    let resource = user::resource(&current, &base(&headers));
    let version = resource["meta"]["version"].as_str().unwrap_or_default();
    if header(&headers, IF_NONE_MATCH).is_some_and(|tags| {
        tags.split(',')
            .map(str::trim)
            .any(|t| t == version || t == "*")
    }) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(version) {
            response.headers_mut().insert(ETAG, v);
        }
        return Ok(response);
    }
    let answer = Answer {
        status: StatusCode::OK,
        resource: Some(resource),
    };
    Ok(answer.into_response(Some(&selection)))
}

pub(super) async fn list(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &[], Scope::Hr)?;
    let request = super::query::ListRequest::from_params(&params)?;
    let body = super::query::run(&state, &base(&headers), request).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn replace(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult {
    let body = admitted(&state, &headers, &method, &uri, body)?;
    let selection = super::query::Selection::from_params(&params)?;
    let answer = replace_user(
        &state,
        &base(&headers),
        &id,
        parse_body(&body)?,
        header(&headers, IF_MATCH),
    )
    .await?;
    Ok(answer.into_response(Some(&selection)))
}

pub(super) async fn modify(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult {
    let body = admitted(&state, &headers, &method, &uri, body)?;
    let selection = super::query::Selection::from_params(&params)?;
    let answer = modify_user(
        &state,
        &base(&headers),
        &id,
        parse_body(&body)?,
        header(&headers, IF_MATCH),
    )
    .await?;
    Ok(answer.into_response(Some(&selection)))
}

pub(super) async fn remove(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &[], Scope::Hr)?;
    let answer = delete_user(&state, &base(&headers), &id, header(&headers, IF_MATCH)).await?;
    Ok(answer.into_response(None))
}
