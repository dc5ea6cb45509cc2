//! Typed tables of the facts the governance figures count (access requests and issued
//! revocations), kept beside the journal so no query reads JSON paths of the core's
//! serde output.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tenure_core::{
    CommandId, EventPayload, GrantId, GrantOrigin, IdentityId, LifecycleEvent, RequestState,
};
use tenure_store::StoreError;
use tokio_postgres::Transaction;

use crate::sql;

/// What a batch says about one access request, merged over the batch's facts.
#[derive(Debug, Default, PartialEq)]
struct RequestFacts {
    identity_id: IdentityId,
    /// The latest state in the batch, with its effective and recorded times.
    state: Option<(RequestState, DateTime<Utc>, DateTime<Utc>)>,
    requested_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    fulfilled_at: Option<DateTime<Utc>>,
}

/// One decided revocation.
struct Revocation {
    command_id: CommandId,
    grant_id: GrantId,
    identity_id: IdentityId,
    cause: &'static str,
    issued_at: DateTime<Utc>,
}

fn earliest(current: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(current.map_or(at, |c| c.min(at)))
}

/// Merges the batch's request facts per (source system, request id).
fn requests<'a>(
    events: impl IntoIterator<Item = &'a LifecycleEvent>,
) -> BTreeMap<(String, String), RequestFacts> {
    let mut merged: BTreeMap<(String, String), RequestFacts> = BTreeMap::new();
    for event in events {
        let (request_id, change) = match &event.payload {
            EventPayload::AccessRequestChanged {
                request_id, state, ..
            } => (request_id, Some(*state)),
            EventPayload::AccessGranted {
                origin: GrantOrigin::Request { request_id },
                ..
            } => (request_id, None),
            _ => continue,
        };
        let facts = merged
            .entry((event.source_system.clone(), request_id.clone()))
            .or_insert_with(|| RequestFacts {
                identity_id: event.identity_id,
                ..RequestFacts::default()
            });
        let at = event.effective_time;
        match change {
            None => facts.fulfilled_at = earliest(facts.fulfilled_at, at),
            Some(state) => {
                let newer = facts
                    .state
                    .is_none_or(|(_, e, r)| (at, event.recorded_time) >= (e, r));
                if newer {
                    facts.state = Some((state, at, event.recorded_time));
                }
                match state {
                    RequestState::Requested => {
                        facts.requested_at = earliest(facts.requested_at, at)
                    }
                    RequestState::Rejected | RequestState::Cancelled => {
                        facts.closed_at = earliest(facts.closed_at, at)
                    }
                    _ => {}
                }
            }
        }
    }
    merged
}

fn revocations<'a>(events: impl IntoIterator<Item = &'a LifecycleEvent>) -> Vec<Revocation> {
    events
        .into_iter()
        .filter_map(|event| match &event.payload {
            EventPayload::RevocationIssued {
                grant_id,
                command_id,
                cause,
            } => Some(Revocation {
                command_id: *command_id,
                grant_id: *grant_id,
                identity_id: event.identity_id,
                cause: cause.as_str(),
                issued_at: event.effective_time,
            }),
            _ => None,
        })
        .collect()
}

/// Records the access requests and revocations among a batch's newly journaled facts.
pub(crate) async fn record(
    txn: &Transaction<'_>,
    events: &[&LifecycleEvent],
) -> Result<(), StoreError> {
    let requests = requests(events.iter().copied());
    if !requests.is_empty() {
        let mut columns = RequestColumns::default();
        for ((source, request), facts) in requests {
            columns.push(source, request, facts);
        }
        txn.execute(
            sql::RECORD_ACCESS_REQUESTS,
            &[
                &columns.sources,
                &columns.requests,
                &columns.identities,
                &columns.states,
                &columns.state_effective,
                &columns.state_recorded,
                &columns.requested,
                &columns.closed,
                &columns.fulfilled,
            ],
        )
        .await?;
    }
    let revocations = revocations(events.iter().copied());
    if !revocations.is_empty() {
        let commands: Vec<CommandId> = revocations.iter().map(|r| r.command_id).collect();
        let grants: Vec<GrantId> = revocations.iter().map(|r| r.grant_id).collect();
        let identities: Vec<IdentityId> = revocations.iter().map(|r| r.identity_id).collect();
        let causes: Vec<&str> = revocations.iter().map(|r| r.cause).collect();
        let issued: Vec<DateTime<Utc>> = revocations.iter().map(|r| r.issued_at).collect();
        txn.execute(
            sql::RECORD_REVOCATIONS,
            &[&commands, &grants, &identities, &causes, &issued],
        )
        .await?;
    }
    record_discrepancies(txn, events).await
}

/// Records reconciliation's findings among `events`.
async fn record_discrepancies(
    txn: &Transaction<'_>,
    events: &[&LifecycleEvent],
) -> Result<(), StoreError> {
    let mut c = DiscrepancyColumns::default();
    for event in events {
        if let EventPayload::AccessDiscrepancyFound {
            observation_id,
            kind,
            account,
            entitlement,
            grant_id,
            connector,
        } = &event.payload
        {
            c.events.push(event.event_id);
            c.observations.push(*observation_id);
            c.identities.push(event.identity_id);
            c.kinds.push(kind.as_str());
            c.systems.push(&entitlement.system);
            c.resources.push(&entitlement.resource);
            c.permissions.push(&entitlement.permission);
            c.accounts.push(account);
            c.grants.push((!grant_id.is_nil()).then_some(*grant_id));
            c.connectors.push(connector);
            c.observed.push(event.effective_time);
        }
    }
    if c.events.is_empty() {
        return Ok(());
    }
    txn.execute(
        sql::RECORD_DISCREPANCIES,
        &[
            &c.events,
            &c.observations,
            &c.identities,
            &c.kinds,
            &c.systems,
            &c.resources,
            &c.permissions,
            &c.accounts,
            &c.grants,
            &c.connectors,
            &c.observed,
        ],
    )
    .await?;
    Ok(())
}

/// Reconciliation's findings as parallel arrays, for one `unnest` insert.
#[derive(Default)]
struct DiscrepancyColumns<'a> {
    events: Vec<tenure_core::EventId>,
    observations: Vec<uuid::Uuid>,
    identities: Vec<IdentityId>,
    kinds: Vec<&'static str>,
    systems: Vec<&'a str>,
    resources: Vec<&'a str>,
    permissions: Vec<&'a str>,
    accounts: Vec<&'a str>,
    grants: Vec<Option<GrantId>>,
    connectors: Vec<&'a str>,
    observed: Vec<DateTime<Utc>>,
}

/// The request facts as parallel arrays, for one `unnest` insert.
#[derive(Default)]
struct RequestColumns {
    sources: Vec<String>,
    requests: Vec<String>,
    identities: Vec<IdentityId>,
    states: Vec<Option<&'static str>>,
    state_effective: Vec<Option<DateTime<Utc>>>,
    state_recorded: Vec<Option<DateTime<Utc>>>,
    requested: Vec<Option<DateTime<Utc>>>,
    closed: Vec<Option<DateTime<Utc>>>,
    fulfilled: Vec<Option<DateTime<Utc>>>,
}

impl RequestColumns {
    fn push(&mut self, source: String, request: String, facts: RequestFacts) {
        self.sources.push(source);
        self.requests.push(request);
        self.identities.push(facts.identity_id);
        self.states.push(facts.state.map(|(s, _, _)| s.as_str()));
        self.state_effective.push(facts.state.map(|(_, e, _)| e));
        self.state_recorded.push(facts.state.map(|(_, _, r)| r));
        self.requested.push(facts.requested_at);
        self.closed.push(facts.closed_at);
        self.fulfilled.push(facts.fulfilled_at);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tenure_core::ids;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, hour, 0, 0).unwrap()
    }

    fn change(request: &str, state: RequestState, effective: u32, recorded: u32) -> LifecycleEvent {
        LifecycleEvent {
            event_id: ids::event("itsm", &format!("{request}-{effective}-{recorded}")),
            identity_id: IdentityId::from_u128(1),
            effective_time: at(effective),
            recorded_time: at(recorded),
            source_system: "itsm".into(),
            source_event_id: format!("{request}-{effective}"),
            causation_id: None,
            payload: EventPayload::AccessRequestChanged {
                request_id: request.into(),
                state,
                entitlement: None,
                owner: None,
                detail: String::new(),
            },
        }
    }

    #[test]
    fn the_latest_state_wins_by_effective_time_whatever_the_arrival_order() {
        let approved = change("R1", RequestState::Approved, 5, 6);
        let requested = change("R1", RequestState::Requested, 1, 7);
        let merged = requests([&approved, &requested]);
        let facts = &merged[&("itsm".to_string(), "R1".to_string())];
        assert_eq!(facts.state, Some((RequestState::Approved, at(5), at(6))));
        assert_eq!(facts.requested_at, Some(at(1)));
        assert_eq!(facts.closed_at, None);
    }

    #[test]
    fn a_rejection_closes_the_request_at_its_earliest_time() {
        let first = change("R2", RequestState::Rejected, 3, 3);
        let again = change("R2", RequestState::Cancelled, 2, 9);
        let merged = requests([&first, &again]);
        let facts = &merged[&("itsm".to_string(), "R2".to_string())];
        assert_eq!(facts.closed_at, Some(at(2)));
        assert_eq!(facts.state, Some((RequestState::Rejected, at(3), at(3))));
    }
}
