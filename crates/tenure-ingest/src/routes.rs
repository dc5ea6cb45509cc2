//! The HTTP routes and the publish step they share.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde::Serialize;
use tenure_core::{EventId, LifecycleEvent};
use tenure_kafka::Publisher;
use tracing::debug;

use crate::auth::{Credential, Credentials, Scope};
use crate::error::{ApiError, FieldProblem};
use crate::outcomes::OutcomeIn;
use crate::{MAX_BATCH_EVENTS, MAX_BODY_BYTES, body};
use tenure_core::intake::hr::HrEvent;
use tenure_core::intake::itsm::ItsmEvent;
use tenure_core::intake::source::{Announcer, announced_source};

/// What the routes share: the producer that appends to the log.
#[derive(Clone)]
pub struct IngestState {
    publisher: Publisher,
    pub(crate) credentials: Credentials,
    pub(crate) policy: std::sync::Arc<tenure_core::Policy>,
    pub(crate) directory: Option<tenure_store::Database>,
    /// SCIM's read-your-writes memory and per-user locks.
    pub(crate) scim: std::sync::Arc<crate::scim::ledger::ScimLedger>,
    /// How long a request waits for an unreachable broker before its 503.
    answer_bound: std::time::Duration,
}

impl IngestState {
    /// State publishing through `publisher`.
    pub fn new(publisher: Publisher) -> Self {
        IngestState {
            publisher,
            credentials: Credentials::default(),
            policy: Default::default(),
            directory: None,
            scim: Default::default(),
            answer_bound: DEFAULT_ANSWER_BOUND,
        }
    }

    /// Answers 503 after `bound` when the broker is unreachable (a slow but reachable
    /// broker is waited for, up to the publisher's own delivery timeout).
    pub fn with_answer_bound(mut self, bound: std::time::Duration) -> Self {
        self.answer_bound = bound;
        self
    }

    /// Refuses owners that are not known, active identities in `db`'s projection.
    pub fn with_directory(mut self, db: tenure_store::Database) -> Self {
        self.directory = Some(db);
        self
    }

    /// The credentials ingest admits with; the query and operator routes use the same.
    pub fn credentials(&self) -> Credentials {
        self.credentials.clone()
    }

    /// The policy ingest applies (the query API reads its fulfilment SLA from it).
    pub fn policy(&self) -> std::sync::Arc<tenure_core::Policy> {
        self.policy.clone()
    }

    /// Refuses access requests longer than `policy`'s entitlement classes allow.
    pub fn with_policy(mut self, policy: tenure_core::Policy) -> Self {
        self.policy = std::sync::Arc::new(policy);
        self
    }

    /// Requires one of `credentials` on every request (none configured: open).
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }
}

/// How long a request waits for an unreachable broker by default.
pub const DEFAULT_ANSWER_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// The `202` answer: the events the broker acknowledged, in request order.
#[derive(Debug, Serialize)]
struct Accepted {
    accepted: usize,
    event_ids: Vec<EventId>,
}

/// The ingest API's routes, as the OpenAPI document lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/hr/events"),
    ("post", "/v1/itsm/events"),
    ("post", "/v1/connectors/outcomes"),
    ("get", "/scim/v2/Users"),
    ("post", "/scim/v2/Users"),
    ("get", "/scim/v2/Users/{id}"),
    ("put", "/scim/v2/Users/{id}"),
    ("patch", "/scim/v2/Users/{id}"),
    ("delete", "/scim/v2/Users/{id}"),
    ("post", "/scim/v2/Users/.search"),
    ("post", "/scim/v2/.search"),
    ("post", "/scim/v2/Bulk"),
    ("get", "/scim/v2/ServiceProviderConfig"),
    ("get", "/scim/v2/Schemas"),
    ("get", "/scim/v2/Schemas/{id}"),
    ("get", "/scim/v2/ResourceTypes"),
    ("get", "/scim/v2/ResourceTypes/{id}"),
];

/// The ingest API.
pub fn router(state: IngestState) -> Router {
    // Each route authenticates its caller from the headers before its body is read,
    // so an anonymous client cannot make ingest buffer megabytes.
    let first = |scope: Scope| {
        axum::middleware::from_fn_with_state(
            (state.credentials.clone(), scope),
            crate::auth::authenticate_first,
        )
    };
    let replay = match &state.directory {
        Some(db) => crate::replay::ReplayGuard::Shared(Box::new(db.clone())),
        None => crate::replay::ReplayGuard::Local(Default::default()),
    };
    Router::new()
        .route(
            "/v1/hr/events",
            post(hr_events).route_layer(first(Scope::Hr)),
        )
        .route(
            "/v1/itsm/events",
            post(itsm_events).route_layer(first(Scope::Itsm)),
        )
        .route(
            "/v1/connectors/outcomes",
            post(connector_outcomes).route_layer(first(Scope::Connector)),
        )
        .with_state(state.clone())
        .merge(crate::scim::router(state.clone()).route_layer(first(Scope::Hr)))
        .layer(axum::middleware::from_fn_with_state(
            replay,
            crate::replay::guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(trace_scope))
}

/// Runs a request's handlers in its trace context (the `traceparent` it came with, or
/// a new trace), so that the events it publishes carry it onto the log.
async fn trace_scope(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tenure_kafka::trace::{TRACEPARENT, TraceContext};
    // The request's own span when spans are exported, else the caller's context.
    let trace = TraceContext::of_current_span()
        .or_else(|| {
            request
                .headers()
                .get(TRACEPARENT)
                .and_then(|v| v.to_str().ok())
                .and_then(TraceContext::parse)
        })
        .unwrap_or_else(TraceContext::new_root);
    tenure_kafka::trace::scope(trace, next.run(request)).await
}

/// Converts every parsed item and asks the core to admit the events, collecting all
/// problems of all lines before refusing.
async fn convert_all<T>(
    state: &IngestState,
    items: Vec<(usize, T)>,
    convert: impl Fn(usize, T) -> Result<Option<LifecycleEvent>, Vec<FieldProblem>>,
) -> Result<Vec<LifecycleEvent>, ApiError> {
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (line, item) in items {
        match convert(line, item) {
            Ok(Some(event)) => events.push((line, event)),
            Ok(None) => {}
            Err(mut p) => problems.append(&mut p),
        }
    }
    match admit(state.directory.as_ref(), events, &[], &state.policy).await? {
        Ok(events) if problems.is_empty() => Ok(events),
        Ok(_) => Err(ApiError::unprocessable(problems)),
        Err(mut refused) => {
            problems.append(&mut refused);
            problems.sort_by_key(|p| p.line);
            Err(ApiError::unprocessable(problems))
        }
    }
}

/// Asks `tenure_core::intake::admit` whether `events` may enter the log, with the view
/// of the projection it needs read from `directory` (none: only the rules that need
/// no view apply). The outer error is a 503 (the projection cannot be read), the
/// inner one the refused fields.
pub(crate) async fn admit(
    directory: Option<&tenure_store::Database>,
    events: Vec<(usize, LifecycleEvent)>,
    joined_before: &[tenure_core::IdentityId],
    policy: &tenure_core::Policy,
) -> Result<Result<Vec<LifecycleEvent>, Vec<FieldProblem>>, ApiError> {
    let role_problems = tenure_core::intake::role_problems(&events, policy);
    let view = match directory {
        Some(db) => {
            let mut view =
                crate::directory::view(db, &tenure_core::intake::lookups(&events)).await?;
            // Joiners accepted just before, not yet recorded (the bridge's batch).
            view.known_subjects.extend(joined_before.iter().copied());
            Some(view)
        }
        None => None,
    };
    let admitted = tenure_core::intake::admit(events, view.as_ref());
    Ok(match (admitted, role_problems.is_empty()) {
        (Ok(events), true) => Ok(events),
        (Ok(_), false) => Err(role_problems),
        (Err(mut problems), _) => {
            problems.extend(role_problems);
            problems.sort_by_key(|p| p.line);
            Err(problems)
        }
    }
    .map_err(|problems| problems.into_iter().map(FieldProblem::from).collect()))
}

/// Appends `events` to the log; returns only once the broker has acknowledged all.
pub(crate) async fn publish_events(
    state: &IngestState,
    events: &[LifecycleEvent],
) -> Result<Vec<tenure_kafka::publisher::Delivered>, ApiError> {
    let delivered = state
        .publisher
        .send_events_within(events, state.answer_bound)
        .await
        .map_err(|e| {
            // The publisher logs the outage once; each refused request is only a debug line.
            debug!(error = %e, "broker did not acknowledge; answering 503");
            ApiError::unavailable(
                "the log's broker did not acknowledge the events in time; resend the request \
                 later, duplicates are recognised",
            )
        })?;
    // The events are accepted whatever happens here: a joiner not recorded is known as
    // soon as the projection has it.
    let joined = crate::directory::joined(events);
    if let (Some(db), false) = (&state.directory, joined.is_empty()) {
        let recorded = match db.client().await {
            Ok(client) => crate::directory::record_joined(&**client, &joined)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "accepted joiners could not be recorded for intake");
        }
    }
    Ok(delivered)
}

async fn publish(
    state: &IngestState,
    events: Vec<LifecycleEvent>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    publish_events(state, &events).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted: events.len(),
            event_ids: events.iter().map(|e| e.event_id).collect(),
        }),
    ))
}

/// Binds each event to the source its caller speaks for (see
/// `tenure_core::intake::source`); any event naming a source its caller may not speak
/// for refuses the whole request with 403, naming the lines.
fn bind_sources<T>(
    items: &mut [(usize, T)],
    default: &str,
    credential: Option<&Credential>,
    claimed: impl Fn(&T) -> Option<&str>,
    announce_as: impl Fn(&mut T, String),
) -> Result<(), ApiError> {
    let announcer = match credential {
        Some(c) => Announcer::Credential {
            name: &c.name,
            sources: c.speaks_for(),
        },
        None => Announcer::Open,
    };
    let mut refusals = Vec::new();
    for (line, item) in items.iter_mut() {
        match announced_source(claimed(item), default, announcer) {
            Ok(source) => announce_as(item, source),
            Err(refusal) => refusals.push(format!("line {line}: {refusal}")),
        }
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "nothing was accepted: {}",
            refusals.join("; ")
        )))
    }
}

async fn hr_events(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let credential = state
        .credentials
        .admit(&headers, &method, &uri, &body, Scope::Hr)?;
    let now = Utc::now();
    let mut items = body::parse::<HrEvent>(&headers, &body, MAX_BATCH_EVENTS)?;
    bind_sources(
        &mut items,
        "hr",
        credential.as_deref(),
        HrEvent::claimed_source,
        HrEvent::announce_as,
    )?;
    let events = convert_all(&state, items, |line, e| {
        e.into_event(line, now)
            .map(Some)
            .map_err(crate::error::from_core)
    })
    .await?;
    publish(&state, events).await
}

async fn itsm_events(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let credential = state
        .credentials
        .admit(&headers, &method, &uri, &body, Scope::Itsm)?;
    let now = Utc::now();
    let mut items = body::parse::<ItsmEvent>(&headers, &body, MAX_BATCH_EVENTS)?;
    bind_sources(
        &mut items,
        "itsm",
        credential.as_deref(),
        ItsmEvent::claimed_source,
        ItsmEvent::announce_as,
    )?;
    let policy = state.policy.clone();
    let events = convert_all(&state, items, |line, e| {
        e.into_event(line, now, &policy)
            .map(Some)
            .map_err(crate::error::from_core)
    })
    .await?;
    publish(&state, events).await
}

async fn connector_outcomes(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let credential = state
        .credentials
        .admit(&headers, &method, &uri, &body, Scope::Connector)?;
    let systems = credential.and_then(|c| c.systems.clone());
    let now = Utc::now();
    let acks: Vec<_> = body::parse::<OutcomeIn>(&headers, &body, MAX_BATCH_EVENTS)?
        .into_iter()
        .map(|(line, outcome)| (line, outcome.acknowledgement()))
        .collect();
    // Only a command Tenure issued can be acknowledged, and only as it was issued.
    match state.directory.as_ref() {
        Some(db) => {
            if let Err(refusals) = crate::outcomes::verify(db, &acks, systems.as_deref()).await? {
                return Err(crate::outcomes::refused(refusals));
            }
        }
        // Without the store, a credential limited to some systems cannot be checked.
        None if systems.is_some() => {
            return Err(ApiError::unavailable_store(
                "this ingest cannot read the issued commands, so a credential limited to some \
                 systems cannot be checked; run it with its database",
            ));
        }
        None => {}
    }
    let events = convert_all(&state, acks, |line, ack| {
        crate::outcomes::into_event(ack, line, now)
    })
    .await?;
    publish(&state, events).await
}
