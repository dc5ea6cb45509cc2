//! The query API: the projection answered over HTTP as JSON.
//!
//! Identities are named by UUID or by natural key `authority:source-id` (e.g.
//! `hr:E100`). Times are RFC 3339. `at` is effective time (when access was held),
//! `as_of` is recorded time (what Tenure believed then; default: now).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenure_core::{CommandId, EventId, GrantId, IdentityId};
use tenure_store::{Database, StoreError};
use uuid::Uuid;

use crate::sql;

/// The query API's routes, as the OpenAPI document lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/identities/{id}"),
    ("get", "/v1/identities/{id}/access"),
    ("get", "/v1/identities/{id}/timeline"),
    ("get", "/v1/grants"),
    ("get", "/v1/access"),
    ("get", "/v1/governance"),
    ("get", "/v1/commands"),
    ("get", "/v1/reconciliation/findings"),
    ("get", "/metrics"),
    ("get", "/dashboard"),
    ("get", "/v1/dashboard/series"),
];

/// A refused query: 400 names the bad parameter, 404 the unknown id, 503 the store.
#[derive(Debug)]
pub struct QueryError {
    status: StatusCode,
    message: String,
}

impl QueryError {
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        QueryError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 503: what is asked for cannot be answered yet; the caller retries.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        QueryError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        QueryError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<StoreError> for QueryError {
    fn from(e: StoreError) -> Self {
        if !e.is_transient() {
            // The database refused a value the caller sent (a NUL character, a number
            // out of range): the caller's to fix, not an outage.
            tracing::debug!(error = %e, "query refused a parameter");
            return QueryError {
                status: StatusCode::BAD_REQUEST,
                message: "a query parameter holds a value that cannot be searched for \
                          (a NUL character, or a number out of range)"
                    .to_owned(),
            };
        }
        tracing::warn!(error = %e, "query failed");
        QueryError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            // The database's own error text is logged above, never sent to the caller.
            message: "the projection cannot be read right now; retry".to_owned(),
        }
    }
}

impl From<tokio_postgres::Error> for QueryError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        let code = if self.status == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "bad_request"
        };
        let code = if self.status.is_server_error() {
            "unavailable"
        } else {
            code
        };
        (
            self.status,
            Json(json!({"error": code, "message": self.message})),
        )
            .into_response()
    }
}

type Answer = Result<Json<Value>, QueryError>;
type Params = Query<HashMap<String, String>>;

/// The query API over `db`; with `with_metrics`, `/metrics` too (else the operator
/// serves it on an admin listener: [`metrics_router`]).
pub fn router(
    db: Database,
    bootstrap: Option<String>,
    policy: &tenure_core::Policy,
    with_metrics: bool,
) -> Router {
    let router = Router::new()
        .route("/v1/identities/{id}", get(identity))
        .route("/v1/identities/{id}/access", get(identity_access))
        .route("/v1/identities/{id}/timeline", get(timeline))
        .route("/v1/grants", get(grants))
        .route("/v1/access", get(resource_access))
        .route("/v1/governance", get(governance))
        .route("/v1/commands", get(commands))
        .route("/v1/reconciliation/findings", get(findings))
        .route("/dashboard", get(crate::dashboard::page))
        .route(
            "/v1/dashboard/series",
            get(crate::dashboard::series_handler),
        )
        .with_state(db.clone());
    if with_metrics {
        router.merge(metrics_router(db, bootstrap, policy))
    } else {
        router
    }
}

/// `/metrics` alone, for the main listener (behind the reader scope) or an admin
/// listener of its own.
pub fn metrics_router(
    db: Database,
    bootstrap: Option<String>,
    policy: &tenure_core::Policy,
) -> Router {
    let cache = crate::metrics::MetricsCache::new(
        db,
        bootstrap,
        policy.requests.fulfilment_sla_hours,
        metrics_refresh_every(),
    );
    Router::new()
        .route("/metrics", get(crate::metrics::metrics))
        .with_state(cache)
}

/// How old the system-wide figures of `/metrics` may grow before a background
/// refresh (`TENURE_METRICS_REFRESH_SECS`, default 15; 0 reads them at every scrape).
fn metrics_refresh_every() -> std::time::Duration {
    let seconds = std::env::var("TENURE_METRICS_REFRESH_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(15);
    std::time::Duration::from_secs(seconds)
}

fn parse_time(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, QueryError> {
    params
        .get(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    QueryError::bad(format!("{name}: {v:?} is not an RFC 3339 time ({e})"))
                })
        })
        .transpose()
}

/// Resolves a UUID or an `authority:source-id` natural key to an identity id.
fn parse_identity(id: &str) -> Result<IdentityId, QueryError> {
    if let Ok(identity_id) = id.parse::<IdentityId>() {
        return Ok(identity_id);
    }
    match id.split_once(':') {
        Some((authority, source)) if !authority.is_empty() && !source.is_empty() => {
            Ok(tenure_core::ids::identity(authority, source))
        }
        _ => Err(QueryError::bad(format!(
            "identity {id:?} is neither a UUID nor authority:source-id (e.g. hr:E100)"
        ))),
    }
}

async fn known_identity(
    client: &tokio_postgres::Client,
    id: &str,
) -> Result<IdentityId, QueryError> {
    let identity_id = parse_identity(id)?;
    if identity_exists(client, identity_id).await? {
        Ok(identity_id)
    } else {
        Err(QueryError::not_found(format!("no identity {id}")))
    }
}

fn grant_json(row: &tokio_postgres::Row) -> Value {
    json!({
        "grant_id": row.get::<_, GrantId>("grant_id"),
        "identity_id": row.get::<_, IdentityId>("identity_id"),
        "entitlement": {"system": row.get::<_, String>("system"), "resource": row.get::<_, String>("resource"),
                        "permission": row.get::<_, String>("permission")},
        "owner": row.get::<_, String>("owner"),
        "business_reason": row.get::<_, String>("business_reason"),
        "revocation": {"expires_at": row.get::<_, Option<DateTime<Utc>>>("expires_at"),
                       "ends_on_role_change": row.get::<_, bool>("ends_on_role_change")},
        "origin": row.get::<_, String>("origin"),
        "status": row.get::<_, String>("status"),
        "granted_at": row.get::<_, DateTime<Utc>>("granted_at"),
        "status_since": row.get::<_, Option<DateTime<Utc>>>("status_since"),
        "revocation_command_id": row.get::<_, Option<CommandId>>("revocation_command_id"),
        "revocation_cause": row.get::<_, Option<String>>("revocation_cause"),
    })
}

async fn identity(State(db): State<Database>, Path(id): Path<String>) -> Answer {
    let client = db.client().await?;
    let identity_id = known_identity(&client, &id).await?;
    let row = identity_row(&client, identity_id).await?;
    let grants = grants_of_identity(&client, identity_id).await?;
    let state = &row.state;
    Ok(Json(json!({
        "identity_id": identity_id,
        "kind": row.kind,
        "status": row.status,
        "role": row.role,
        "display_name": row.display_name,
        "source_person_id": row.source_person_id,
        "attributes": state["attributes"],
        "joined_at": state["joined_at"],
        "left_at": state["left_at"],
        "leave_scheduled_at": state["leave_scheduled_at"],
        "events_applied": row.events_applied,
        "grants": grants,
    })))
}

fn history_json(row: &tokio_postgres::Row) -> Value {
    json!({
        "grant_id": row.get::<_, GrantId>("grant_id"),
        "identity_id": row.get::<_, IdentityId>("identity_id"),
        "entitlement": {"system": row.get::<_, String>("system"), "resource": row.get::<_, String>("resource"),
                        "permission": row.get::<_, String>("permission")},
        "valid_from": row.get::<_, DateTime<Utc>>("valid_from"),
        "valid_to": row.get::<_, Option<DateTime<Utc>>>("valid_to"),
        "recorded_from": row.get::<_, DateTime<Utc>>("recorded_from"),
        "recorded_to": row.get::<_, Option<DateTime<Utc>>>("recorded_to"),
    })
}

fn at_and_as_of(
    params: &HashMap<String, String>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), QueryError> {
    let at = parse_time(params, "at")?
        .ok_or_else(|| QueryError::bad("at: required (RFC 3339 effective time)"))?;
    let as_of = parse_time(params, "as_of")?.unwrap_or_else(Utc::now);
    Ok((at, as_of))
}

async fn identity_access(
    State(db): State<Database>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let (at, as_of) = at_and_as_of(&params)?;
    let client = db.client().await?;
    let identity_id = known_identity(&client, &id).await?;
    let status = identity_status_at(&client, identity_id, at, as_of).await?;
    let grants = grants_held_by_identity_at(&client, identity_id, at, as_of).await?;
    Ok(Json(json!({
        "identity_id": identity_id, "at": at, "as_of": as_of,
        "status": status.as_ref().map(|(status, _)| status),
        "role": status.and_then(|(_, role)| role),
        "grants": grants,
    })))
}

async fn resource_access(State(db): State<Database>, Query(params): Params) -> Answer {
    let (at, as_of) = at_and_as_of(&params)?;
    let system = params
        .get("system")
        .ok_or_else(|| QueryError::bad("system: required"))?;
    let resource = params
        .get("resource")
        .ok_or_else(|| QueryError::bad("resource: required"))?;
    let client = db.client().await?;
    let holders = holders_of_resource_at(&client, system, resource, at, as_of).await?;
    Ok(Json(json!({
        "system": system, "resource": resource, "at": at, "as_of": as_of,
        "holders": holders,
    })))
}

async fn grants(State(db): State<Database>, Query(params): Params) -> Answer {
    let system = params
        .get("system")
        .ok_or_else(|| QueryError::bad("system: required (optionally with resource and status)"))?;
    let status = params.get("status").map(String::as_str);
    if let Some(s) = status.filter(|s| !["active", "revocation_pending", "revoked"].contains(s)) {
        return Err(QueryError::bad(format!(
            "status: {s:?} is not one of active, revocation_pending, revoked"
        )));
    }
    let client = db.client().await?;
    let grants = grants_of_system(
        &client,
        system,
        params.get("resource").map(String::as_str),
        status,
    )
    .await?;
    Ok(Json(json!({"grants": grants})))
}

async fn timeline(State(db): State<Database>, Path(id): Path<String>) -> Answer {
    let client = db.client().await?;
    let identity_id = known_identity(&client, &id).await?;
    let events = timeline_of_identity(&client, identity_id).await?;
    Ok(Json(json!({"identity_id": identity_id, "events": events})))
}

/// Governance counters; see the OpenAPI document for each definition.
pub async fn governance_counters(
    client: &tokio_postgres::Client,
    now: DateTime<Utc>,
) -> Result<Value, QueryError> {
    let row = client
        .query_one(
            sql::GOVERNANCE_COUNTERS,
            &[&now, &tenure_core::governance::overdue_before(now)],
        )
        .await?;
    let names = [
        "active_grants",
        "ungoverned_grants",
        "past_expiry_active",
        "pending_revocations_overdue",
        "pending_revocations",
        "unacknowledged_revocations",
        "escalated_revocations",
        "escalated_other_commands",
        "orphaned_non_human_identities",
        "reconciliation_not_removed",
        "reconciliation_out_of_band",
    ];
    let counters: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.to_string(), json!(row.get::<_, i64>(*n))))
        .collect();
    Ok(Value::Object(counters))
}

async fn governance(State(db): State<Database>) -> Answer {
    let client = db.client().await?;
    let now = Utc::now();
    Ok(Json(
        json!({"at": now, "counters": governance_counters(&client, now).await?}),
    ))
}

/// The delivery states `GET /v1/commands` can narrow to.
#[derive(Clone, Copy, Debug)]
enum CommandState {
    /// Neither acknowledged nor escalated yet.
    Unacknowledged,
    /// Escalated (failed permanently or out of retries) and not acknowledged.
    Escalated,
    /// Acknowledged by its connector.
    Acknowledged,
}

impl CommandState {
    /// The name `sql::TRACKED_COMMANDS` (and the query parameter) uses.
    fn as_str(self) -> &'static str {
        match self {
            CommandState::Unacknowledged => "unacknowledged",
            CommandState::Escalated => "escalated",
            CommandState::Acknowledged => "acknowledged",
        }
    }
}

/// Tracked commands (revocations, suspensions, restorations, rotations) with their
/// delivery state: `state` is `unacknowledged`,
/// `escalated` or `acknowledged` (default: all), newest first.
async fn commands(State(db): State<Database>, Query(params): Params) -> Answer {
    let state = match params.get("state").map(String::as_str) {
        None => None,
        Some("unacknowledged") => Some(CommandState::Unacknowledged),
        Some("escalated") => Some(CommandState::Escalated),
        Some("acknowledged") => Some(CommandState::Acknowledged),
        Some(other) => {
            return Err(QueryError::bad(format!(
                "state: {other:?} is not one of unacknowledged, escalated, acknowledged"
            )));
        }
    };
    let client = db.client().await?;
    let commands = tracked_commands(&client, state).await?;
    Ok(Json(json!({"commands": commands})))
}

/// What reconciliation found: access in a target system that Tenure never granted,
/// access whose confirmed revocation did not stick, and granted access missing from
/// its target. Optional `system` and `kind` narrow it.
async fn findings(State(db): State<Database>, Query(params): Params) -> Answer {
    let kind = match params.get("kind").map(String::as_str) {
        None => None,
        Some(k @ ("out_of_band" | "not_removed" | "missing")) => Some(k.to_owned()),
        Some(other) => {
            return Err(QueryError::bad(format!(
                "kind: {other:?} is not one of out_of_band, not_removed, missing"
            )));
        }
    };
    let system = params.get("system").cloned();
    let client = db.client().await?;
    let rows = client
        .query(sql::RECONCILIATION_FINDINGS, &[&system, &kind])
        .await?;
    let findings: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "event_id": r.get::<_, EventId>(0), "observation_id": r.get::<_, uuid::Uuid>(1),
                "identity_id": r.get::<_, IdentityId>(2), "kind": r.get::<_, String>(3),
                "entitlement": format!("{}:{}:{}", r.get::<_, String>(4), r.get::<_, String>(5), r.get::<_, String>(6)),
                "account": r.get::<_, String>(7), "grant_id": r.get::<_, Option<GrantId>>(8),
                "connector": r.get::<_, String>(9), "observed_at": r.get::<_, DateTime<Utc>>(10),
            })
        })
        .collect();
    Ok(Json(json!({"findings": findings})))
}

// The reads behind the handlers (the repository): one typed function per statement of
// `sql/api/`, each returning what its handler answers with.

/// Whether the projection knows `identity_id`.
async fn identity_exists(
    client: &tokio_postgres::Client,
    identity_id: IdentityId,
) -> Result<bool, QueryError> {
    Ok(client
        .query_opt(sql::IDENTITY_EXISTS, &[&identity_id])
        .await?
        .is_some())
}

/// One identity's projected row.
struct IdentityRow {
    kind: String,
    status: String,
    role: Option<String>,
    display_name: Option<String>,
    source_person_id: Option<String>,
    events_applied: i64,
    /// The folded state, as stored.
    state: Value,
}

/// The projected row of a known identity.
async fn identity_row(
    client: &tokio_postgres::Client,
    identity_id: IdentityId,
) -> Result<IdentityRow, QueryError> {
    let row = client
        .query_one(sql::IDENTITY_BY_ID, &[&identity_id])
        .await?;
    Ok(IdentityRow {
        kind: row.get("kind"),
        status: row.get("status"),
        role: row.get("role"),
        display_name: row.get("display_name"),
        source_person_id: row.get("source_person_id"),
        events_applied: row.get("events_applied"),
        state: row.get("state"),
    })
}

/// Every grant of `identity_id` as projected now, oldest first.
async fn grants_of_identity(
    client: &tokio_postgres::Client,
    identity_id: IdentityId,
) -> Result<Vec<Value>, QueryError> {
    let rows = client
        .query(sql::GRANTS_OF_IDENTITY, &[&identity_id])
        .await?;
    Ok(rows.iter().map(grant_json).collect())
}

/// The status and role of `identity_id` at effective time `at`, as believed at `as_of`.
async fn identity_status_at(
    client: &tokio_postgres::Client,
    identity_id: IdentityId,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Option<(String, Option<String>)>, QueryError> {
    let row = client
        .query_opt(sql::IDENTITY_STATUS_AT, &[&identity_id, &at, &as_of])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The grants `identity_id` held at effective time `at`, as believed at `as_of`.
async fn grants_held_by_identity_at(
    client: &tokio_postgres::Client,
    identity_id: IdentityId,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Vec<Value>, QueryError> {
    let rows = client
        .query(
            sql::GRANTS_HELD_BY_IDENTITY_AT,
            &[&at, &as_of, &identity_id],
        )
        .await?;
    Ok(rows.iter().map(history_json).collect())
}

/// Who held `resource` on `system` at effective time `at`, as believed at `as_of`.
async fn holders_of_resource_at(
    client: &tokio_postgres::Client,
    system: &str,
    resource: &str,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Vec<Value>, QueryError> {
    let rows = client
        .query(
            sql::HOLDERS_OF_RESOURCE_AT,
            &[&at, &as_of, &system, &resource],
        )
        .await?;
    Ok(rows.iter().map(history_json).collect())
}

/// The grants on `system`, narrowed to `resource` and `status` when given (at most 10,000).
async fn grants_of_system(
    client: &tokio_postgres::Client,
    system: &str,
    resource: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<Value>, QueryError> {
    let rows = client
        .query(sql::GRANTS_OF_SYSTEM, &[&system, &resource, &status])
        .await?;
    Ok(rows.iter().map(grant_json).collect())
}

/// Every journaled event of `identity_id`, in effective-time order.
async fn timeline_of_identity(
    client: &tokio_postgres::Client,
    identity_id: IdentityId,
) -> Result<Vec<Value>, QueryError> {
    let rows = client
        .query(sql::TIMELINE_OF_IDENTITY, &[&identity_id])
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "event_id": r.get::<_, EventId>(0), "type": r.get::<_, String>(1),
                "effective_time": r.get::<_, DateTime<Utc>>(2), "recorded_time": r.get::<_, DateTime<Utc>>(3),
                "source_system": r.get::<_, String>(4), "source_event_id": r.get::<_, String>(5),
                "caused_by": r.get::<_, Option<Uuid>>(6), "payload": r.get::<_, Value>(7),
            })
        })
        .collect())
}

/// Tracked commands in `state` (all when none), newest first (at most 1,000).
async fn tracked_commands(
    client: &tokio_postgres::Client,
    state: Option<CommandState>,
) -> Result<Vec<Value>, QueryError> {
    let rows = client
        .query(sql::TRACKED_COMMANDS, &[&state.map(CommandState::as_str)])
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let issued: DateTime<Utc> = r.get(6);
            let acknowledged: Option<DateTime<Utc>> = r.get(9);
            json!({
                "command_id": r.get::<_, CommandId>(0), "identity_id": r.get::<_, IdentityId>(1),
                "grant_id": r.get::<_, GrantId>(2), "target_system": r.get::<_, String>(3),
                "cause": r.get::<_, String>(4), "trigger_event_id": r.get::<_, EventId>(5),
                "issued_at": issued, "attempts": r.get::<_, i32>(7),
                "next_attempt_at": r.get::<_, DateTime<Utc>>(8), "acknowledged_at": acknowledged,
                "time_to_revoke_ms": acknowledged.map(|a| (a - issued).num_milliseconds()),
                "outcome": r.get::<_, Option<String>>(10), "failures": r.get::<_, i32>(11),
                "last_failure": r.get::<_, Option<String>>(12),
                "escalated_at": r.get::<_, Option<DateTime<Utc>>>(13),
                "escalation_reason": r.get::<_, Option<String>>(14),
                "command_type": r.get::<_, String>(15),
            })
        })
        .collect())
}
