//! Owners must be people Tenure knows: the check ingest makes against the projection
//! before it accepts a grant, an approval or a non-human identity naming an owner.

use std::collections::{HashMap, HashSet};

use tenure_core::{EventPayload, LifecycleEvent, RequestState, ids};
use tenure_store::Database;
use uuid::Uuid;

use crate::error::{ApiError, FieldProblem};

/// The owner an event names, if it must be a known, active person.
fn named_owner(event: &LifecycleEvent) -> Option<&str> {
    match &event.payload {
        EventPayload::AccessGranted {
            owner,
            origin: tenure_core::GrantOrigin::Request { .. },
            ..
        } => Some(owner),
        EventPayload::AccessRequestChanged {
            state: RequestState::Approved,
            owner,
            ..
        } => owner.as_deref(),
        EventPayload::IdentityJoined { attributes, .. }
        | EventPayload::IdentityMoved { attributes, .. } => attributes.owner.as_deref(),
        _ => None,
    }
}

/// Problems for every owner that is unknown to Tenure or has left. A person hired in
/// the same request counts as known. Fails with 503 when the projection cannot be read.
pub(crate) async fn check_owners(
    db: &Database,
    events: &[(usize, LifecycleEvent)],
) -> Result<Vec<FieldProblem>, ApiError> {
    let hired_here: HashSet<&str> = events
        .iter()
        .filter_map(|(_, e)| match &e.payload {
            EventPayload::IdentityJoined {
                source_person_id, ..
            } => Some(source_person_id.as_str()),
            _ => None,
        })
        .collect();
    let wanted: Vec<(usize, &str)> = events
        .iter()
        .filter_map(|(line, e)| named_owner(e).map(|o| (*line, o)))
        .filter(|(_, o)| !hired_here.contains(o))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let identities: Vec<Uuid> = wanted
        .iter()
        .map(|(_, o)| ids::identity(ids::PEOPLE, o))
        .collect();
    let unavailable = |e: String| {
        ApiError::unavailable_store(format!(
            "the identity directory cannot be read ({e}); resend the request"
        ))
    };
    let client = db.client().await.map_err(|e| unavailable(e.to_string()))?;
    let rows = client
        .query(
            "SELECT source_person_id, CASE WHEN kind IN ('employee', 'contractor') THEN status
                                           ELSE 'non_human' END
               FROM projection_identities WHERE identity_id = ANY($1)",
            &[&identities],
        )
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let status: HashMap<String, String> = rows
        .into_iter()
        .filter_map(|r| Some((r.get::<_, Option<String>>(0)?, r.get(1))))
        .collect();
    Ok(wanted
        .into_iter()
        .filter_map(
            |(line, owner)| match status.get(owner).map(String::as_str) {
                None | Some("unknown") => Some(FieldProblem::new(
                    line,
                    "owner",
                    format!("{owner:?} is not an identity known to Tenure: send its joiner first"),
                )),
                Some("left") => Some(FieldProblem::new(
                    line,
                    "owner",
                    format!("{owner:?} has left: name an active person as owner"),
                )),
                Some("non_human") => Some(FieldProblem::new(
                    line,
                    "owner",
                    format!("{owner:?} is a non-human identity: owners are people"),
                )),
                Some(_) => None,
            },
        )
        .collect())
}

/// The request an event would approve or fulfil, as (source, request id).
fn advanced_request(event: &LifecycleEvent) -> Option<(&str, &str)> {
    match &event.payload {
        EventPayload::AccessGranted {
            origin: tenure_core::GrantOrigin::Request { request_id },
            ..
        }
        | EventPayload::AccessRequestChanged {
            state: RequestState::Approved,
            request_id,
            ..
        } => Some((event.source_system.as_str(), request_id.as_str())),
        _ => None,
    }
}

/// Problems for approvals and fulfilments of requests already rejected or cancelled
/// (in the journal, or earlier in the same request).
pub(crate) async fn check_requests(
    db: &Database,
    events: &[(usize, LifecycleEvent)],
) -> Result<Vec<FieldProblem>, ApiError> {
    let wanted: Vec<(usize, &str, &str)> = events
        .iter()
        .filter_map(|(line, e)| advanced_request(e).map(|(s, r)| (*line, s, r)))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut closed: HashMap<(String, String), String> = HashMap::new();
    let sources: Vec<&str> = wanted.iter().map(|(_, s, _)| *s).collect();
    let requests: Vec<&str> = wanted.iter().map(|(_, _, r)| *r).collect();
    let unavailable = |e: String| {
        ApiError::unavailable_store(format!(
            "the request history cannot be read ({e}); resend the request"
        ))
    };
    let client = db.client().await.map_err(|e| unavailable(e.to_string()))?;
    let rows = client
        .query(
            "SELECT DISTINCT ON (source_system, payload->>'request_id')
                    source_system, payload->>'request_id', payload->>'state'
               FROM projection_events
              WHERE event_type = 'access_request_changed'
                AND (source_system, payload->>'request_id') IN
                    (SELECT * FROM unnest($1::text[], $2::text[]))
              ORDER BY source_system, payload->>'request_id', effective_time DESC, recorded_time DESC",
            &[&sources, &requests],
        )
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    for row in rows {
        let state: Option<String> = row.get(2);
        if let Some(state) = state.filter(|s| s == "rejected" || s == "cancelled") {
            closed.insert(
                (
                    row.get(0),
                    row.get::<_, Option<String>>(1).unwrap_or_default(),
                ),
                state,
            );
        }
    }
    // Later lines of the same request count too.
    let mut problems = Vec::new();
    for (line, event) in events {
        if let EventPayload::AccessRequestChanged {
            state: state @ (RequestState::Rejected | RequestState::Cancelled),
            request_id,
            ..
        } = &event.payload
        {
            closed.insert(
                (event.source_system.clone(), request_id.clone()),
                state.as_str().to_owned(),
            );
            continue;
        }
        if let Some((source, request)) = advanced_request(event)
            && let Some(state) = closed.get(&(source.to_owned(), request.to_owned()))
        {
            problems.push(FieldProblem::new(
                *line,
                "request_id",
                format!("request {request:?} was {state}: it cannot be approved or fulfilled"),
            ));
        }
    }
    Ok(problems)
}
