//! SCIM 2.0 `/scim/v2/Users` (RFC 7644), so HR-driven provisioning tools can point at
//! Tenure: creating a user is a joiner (or a rehire), a change of role or attributes
//! is a mover, `active: false` or DELETE is a leaver. Every change is a lifecycle
//! event, answered only after the broker has acknowledged it. Reads come from the
//! projection.

pub mod ledger;
mod patch;
mod store;
mod user;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tenure_core::intake::CreateRefusal;
use tenure_core::{EventPayload, IdentityId, IdentityState, LifecycleEvent, ids};

use crate::auth::Scope;
use crate::error::ApiError;
use crate::routes::IngestState;
pub use user::{ENTERPRISE, USER_SCHEMA};

/// SCIM's error message schema.
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The source system SCIM events carry.
pub use tenure_core::intake::source::SCIM_SOURCE;

/// A SCIM error response (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("no User with id {id:?}"),
        )
    }
}

impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        ScimError::new(e.status, None, e.message)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        scim_json(self.status, body)
    }
}

fn scim_json(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/scim+json")],
        body.to_string(),
    )
        .into_response()
}

type ScimResult = Result<Response, ScimError>;

/// The SCIM API; needs the projection (`IngestState::with_directory`) to answer.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/scim/v2/Users", get(list).post(create))
        .route(
            "/scim/v2/Users/{id}",
            get(read).put(replace).patch(modify).delete(remove),
        )
        .with_state(state)
}

fn base(headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default()
}

fn parse_body(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("body is not JSON: {e}"),
        )
    })
}

/// 503: the projection SCIM reads from cannot be reached; the client retries.
fn unavailable(e: impl std::fmt::Display) -> ScimError {
    ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, {
        // The database's own error text is logged, never sent to the caller.
        tracing::warn!(error = %e, "SCIM: the projection cannot be read");
        "the projection cannot be read; retry".to_owned()
    })
}

/// A connection to the projection (ingest must run with a database for SCIM).
async fn projection(state: &IngestState) -> Result<deadpool_postgres::Object, ScimError> {
    let db = state.directory.as_ref().ok_or_else(|| {
        ScimError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "SCIM needs the projection; run ingest with a database",
        )
    })?;
    db.client().await.map_err(unavailable)
}

/// The people `ids` as SCIM must see them: the projection, or this process's own
/// later write where the projector has not folded it in yet (see [`ledger`]).
async fn load(state: &IngestState, ids: &[IdentityId]) -> Result<Vec<IdentityState>, ScimError> {
    let client = projection(state).await?;
    // Where the projector stood *before* the rows are read: a write it had passed
    // then is in the rows read after.
    let mut written = Vec::new();
    for id in ids {
        let Some(w) = state.scim.written(*id) else {
            continue;
        };
        let projected = store::projector_next_offset(&client, w.partition)
            .await
            .map_err(unavailable)?;
        let passed = projected.is_some_and(|next| next > w.offset);
        written.push((*id, w, passed));
    }
    let mut found: HashMap<IdentityId, IdentityState> = store::people(&client, ids)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|stored| {
            stored
                .map(|s| (s.identity_id, s))
                .map_err(|e| unavailable(format!("corrupt state: {e}")))
        })
        .collect::<Result<_, _>>()?;
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

/// Holds `id`'s change lock (if `id` is a User id at all) while a change is decided.
async fn lock_user<'a>(
    state: &'a IngestState,
    id: &str,
) -> Option<tokio::sync::MutexGuard<'a, ()>> {
    match id.parse::<IdentityId>() {
        Ok(identity_id) => Some(state.scim.lock(identity_id).await),
        Err(_) => None,
    }
}

async fn load_one(state: &IngestState, id: &str) -> Result<IdentityState, ScimError> {
    let identity_id: IdentityId = id.parse().map_err(|_| ScimError::not_found(id))?;
    load(state, &[identity_id])
        .await?
        .pop()
        .ok_or_else(|| ScimError::not_found(id))
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
        event_id: ids::event(SCIM_SOURCE, &source_event_id),
        identity_id,
        effective_time: now,
        recorded_time: now,
        source_system: SCIM_SOURCE.to_owned(),
        source_event_id,
        causation_id: None,
        payload,
    }
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

/// Publishes `events` and answers with the User as it will be once they are folded in.
async fn publish_and_show(
    state: &IngestState,
    headers: &HeaderMap,
    current: IdentityState,
    events: Vec<LifecycleEvent>,
    status: StatusCode,
) -> ScimResult {
    refuse_unstorable(&events, &state.policy)?;
    let delivered = crate::routes::publish_events(state, &events).await?;
    let after = events.iter().fold(current, tenure_core::apply);
    if let Some(last) = delivered.last() {
        state.scim.remember(after.clone(), *last);
    }
    let mut body = user::resource(&after, &base(headers));
    body["meta"]["version"] = json!(format!("W/\"{}\"", after.events_applied));
    Ok(scim_json(status, body))
}

/// The event that turns `current` into `wanted` (decided by the core:
/// `tenure_core::intake::person_change`), as a SCIM event of `current`'s version.
fn changes(
    current: &IdentityState,
    wanted: &user::ScimPerson,
    now: DateTime<Utc>,
) -> Vec<LifecycleEvent> {
    tenure_core::intake::person_change(current, wanted)
        .map(|payload| event(current.identity_id, current.events_applied, payload, now))
        .into_iter()
        .collect()
}

async fn create(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: Bytes,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &body, Scope::Hr)?;
    let body_json = parse_body(&body)?;
    let mut person = user::person_from_json(&body_json).map_err(|e| ScimError::invalid(e.0))?;
    if person.role.is_none() {
        person.role = body_json["title"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
    }
    let identity_id = ids::identity(ids::PEOPLE, &person.employee_id);
    let _serialised = state.scim.lock(identity_id).await;
    let registered_non_human = person.active && non_human(&state, identity_id).await?;
    let current = load(&state, &[identity_id])
        .await?
        .pop()
        .unwrap_or_else(|| IdentityState::new(identity_id));
    let joiner = tenure_core::intake::person_created(&current, registered_non_human, &person)
        .map_err(|refusal| match refusal {
            CreateRefusal::NoRole | CreateRefusal::Inactive => {
                ScimError::invalid(refusal.to_string())
            }
            CreateRefusal::NonHuman(_) | CreateRefusal::AlreadyHired(_) => ScimError::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                refusal.to_string(),
            ),
        })?;
    let events = vec![event(
        identity_id,
        current.events_applied,
        joiner,
        Utc::now(),
    )];
    publish_and_show(&state, &headers, current, events, StatusCode::CREATED).await
}

async fn read(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &[], Scope::Hr)?;
    let current = load_one(&state, &id).await?;
    Ok(scim_json(
        StatusCode::OK,
        user::resource(&current, &base(&headers)),
    ))
}

/// `filter` supports `userName eq "…"`, `externalId eq "…"` and `id eq "…"`;
/// `startIndex` (1-based) and `count` page the rest.
async fn list(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Query(params): Query<HashMap<String, String>>,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &[], Scope::Hr)?;
    let start: i64 = params
        .get("startIndex")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let count: i64 = params
        .get("count")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .clamp(0, 1000);
    let base = base(&headers);
    if let Some(filter) = params.get("filter") {
        let (attribute, value) = parse_filter(filter)?;
        let identity = match attribute.as_str() {
            "id" => value.parse::<IdentityId>().ok(),
            _ => Some(ids::identity(ids::PEOPLE, &value)),
        };
        let found = match identity {
            Some(id) => load(&state, &[id]).await?,
            None => Vec::new(),
        };
        let resources: Vec<Value> = found.iter().map(|s| user::resource(s, &base)).collect();
        return Ok(scim_json(
            StatusCode::OK,
            json!({
                "schemas": [LIST_SCHEMA], "totalResults": resources.len(), "startIndex": 1,
                "itemsPerPage": resources.len(), "Resources": resources,
            }),
        ));
    }
    let client = projection(&state).await?;
    let total = store::count_people(&client).await.map_err(unavailable)?;
    let resources: Vec<Value> = store::people_page(&client, start - 1, count)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter_map(Result::ok)
        .map(|s| user::resource(&s, &base))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start,
            "itemsPerPage": resources.len(), "Resources": resources,
        }),
    ))
}

fn parse_filter(filter: &str) -> Result<(String, String), ScimError> {
    let invalid = || {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
            format!(
                "filter {filter:?} is not supported: use userName eq \"…\", externalId eq \"…\" or id eq \"…\""
            ),
        )
    };
    let mut parts = filter.trim().splitn(3, ' ');
    let (Some(attribute), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let attribute = match attribute {
        a if a.eq_ignore_ascii_case("userName") || a.eq_ignore_ascii_case("externalId") => {
            "userName"
        }
        a if a.eq_ignore_ascii_case("id") => "id",
        _ => return Err(invalid()),
    };
    let value = value.trim();
    if !op.eq_ignore_ascii_case("eq")
        || value.len() < 2
        || !value.starts_with('"')
        || !value.ends_with('"')
    {
        return Err(invalid());
    }
    Ok((attribute.to_owned(), value[1..value.len() - 1].to_owned()))
}

fn same_person(current: &IdentityState, person: &user::ScimPerson) -> Result<(), ScimError> {
    match &current.source_person_id {
        Some(p) if *p != person.employee_id => Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("mutability"),
            format!(
                "employeeNumber/userName {p:?} cannot change to {:?}",
                person.employee_id
            ),
        )),
        _ => Ok(()),
    }
}

async fn replace(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &body, Scope::Hr)?;
    let person =
        user::person_from_json(&parse_body(&body)?).map_err(|e| ScimError::invalid(e.0))?;
    let _serialised = lock_user(&state, &id).await;
    let current = load_one(&state, &id).await?;
    same_person(&current, &person)?;
    let events = changes(&current, &person, Utc::now());
    publish_and_show(&state, &headers, current, events, StatusCode::OK).await
}

async fn modify(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &body, Scope::Hr)?;
    let request: patch::PatchRequest = serde_json::from_value(parse_body(&body)?).map_err(|e| {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("not a PatchOp: {e}"),
        )
    })?;
    let _serialised = lock_user(&state, &id).await;
    let current = load_one(&state, &id).await?;
    let mut resource = user::resource(&current, "");
    patch::apply(&mut resource, request)
        .map_err(|e| ScimError::new(StatusCode::BAD_REQUEST, Some("invalidPath"), e.0))?;
    let person = user::person_from_json(&resource).map_err(|e| ScimError::invalid(e.0))?;
    same_person(&current, &person)?;
    let events = changes(&current, &person, Utc::now());
    publish_and_show(&state, &headers, current, events, StatusCode::OK).await
}

async fn remove(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> ScimResult {
    state
        .credentials
        .admit(&headers, &method, &uri, &[], Scope::Hr)?;
    let _serialised = lock_user(&state, &id).await;
    let current = load_one(&state, &id).await?;
    if current.status.is_hired() {
        let leaver = event(
            current.identity_id,
            current.events_applied,
            EventPayload::IdentityLeft {
                reason: "scim: user deleted".into(),
            },
            Utc::now(),
        );
        refuse_unstorable(std::slice::from_ref(&leaver), &state.policy)?;
        let delivered =
            crate::routes::publish_events(&state, std::slice::from_ref(&leaver)).await?;
        if let Some(last) = delivered.last() {
            state
                .scim
                .remember(tenure_core::apply(current, &leaver), *last);
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::{IdentityKind, IdentityStatus};

    #[test]
    fn filters_are_parsed_or_refused_with_scim_type() {
        assert_eq!(
            parse_filter("userName eq \"E100\"").unwrap(),
            ("userName".into(), "E100".into())
        );
        assert_eq!(parse_filter("externalId eq \"x y\"").unwrap().1, "x y");
        let err = parse_filter("title co \"eng\"").unwrap_err();
        assert_eq!(err.scim_type, Some("invalidFilter"));
    }

    #[test]
    fn deactivation_is_a_leaver_and_a_role_change_a_mover() {
        let id = ids::identity(ids::PEOPLE, "E1");
        let mut current = IdentityState::new(id);
        current.status = IdentityStatus::Active;
        current.role = Some("engineer".into());
        current.source_person_id = Some("E1".into());
        current.kind = IdentityKind::Employee;
        let person = |active: bool, role: &str| user::ScimPerson {
            employee_id: "E1".into(),
            active,
            kind: Some(IdentityKind::Employee),
            role: Some(role.into()),
            attributes: Default::default(),
        };
        let now = Utc::now();
        let left = changes(&current, &person(false, "engineer"), now);
        assert!(matches!(left[0].payload, EventPayload::IdentityLeft { .. }));
        let moved = changes(&current, &person(true, "sales"), now);
        assert!(
            matches!(&moved[0].payload, EventPayload::IdentityMoved { role, .. } if role == "sales")
        );
        assert!(changes(&current, &person(true, "engineer"), now).is_empty());
        // The same change retried is the same event.
        let again = changes(&current, &person(true, "sales"), now);
        assert_eq!(moved[0].event_id, again[0].event_id);
    }
}
