//! Projecting one batch of lifecycle records.

use std::collections::HashSet;

use tenure_core::{EventId, GrantId, IdentityId, LifecycleEvent, apply};
use tenure_kafka::{BatchHandler, KafkaAdapterError, Record};
use tracing::debug;

use crate::{facts, history, tables};

/// Projects batches of lifecycle records; holds no state between batches, so any
/// instance can take over any partition.
#[derive(Default)]
pub struct ProjectionHandler {
    /// A replay up to a point in time skips events recorded after it.
    until: Option<chrono::DateTime<chrono::Utc>>,
}

impl ProjectionHandler {
    /// A handler that projects only events recorded at or before `until` (all if none).
    pub fn until(until: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        ProjectionHandler { until }
    }
}

/// Parks a record that is not a readable lifecycle event.
pub(crate) async fn park(
    txn: &tokio_postgres::Transaction<'_>,
    group: &str,
    record: &Record,
    error: tenure_proto::DecodeError,
) -> Result<(), KafkaAdapterError> {
    let letter = record.dead_letter(error.to_string());
    Ok(tenure_store::dead_letters::park(txn, group, &letter).await?)
}

/// An event together with where it sits on the log.
pub(crate) struct Positioned {
    pub event: LifecycleEvent,
    pub partition: i32,
    pub offset: i64,
}

impl BatchHandler for ProjectionHandler {
    async fn handle(
        &self,
        txn: &tokio_postgres::Transaction<'_>,
        records: &[Record],
    ) -> Result<(), KafkaAdapterError> {
        let mut events = Vec::with_capacity(records.len());
        for record in records {
            match tenure_proto::decode_event(&record.payload) {
                Ok(event) if self.until.is_some_and(|u| event.recorded_time > u) => {}
                Ok(event) => events.push(Positioned {
                    event,
                    partition: record.partition,
                    offset: record.offset,
                }),
                Err(e) => park(txn, crate::GROUP, record, e).await?,
            }
        }
        let started = std::time::Instant::now();
        let fresh: HashSet<EventId> = tables::journal(txn, &events).await?;
        let journaled = started.elapsed();
        let fresh_events: Vec<&LifecycleEvent> = {
            // A duplicate inside the batch is journaled once; fold only its first copy.
            let mut first = HashSet::new();
            events
                .iter()
                .map(|p| &p.event)
                .filter(|e| fresh.contains(&e.event_id) && first.insert(e.event_id))
                .collect()
        };
        if fresh_events.is_empty() {
            return Ok(());
        }
        facts::record(txn, &fresh_events).await?;
        let ids: Vec<IdentityId> = fresh_events.iter().map(|e| e.identity_id).collect();
        let mut states = tables::load_states(txn, &ids).await?;
        let loaded = started.elapsed();
        let (mut grant_versions, mut identity_versions) = (Vec::new(), Vec::new());
        let mut touched_grants = HashSet::new();
        for event in fresh_events {
            let state = states
                .remove(&event.identity_id)
                .unwrap_or_else(|| tenure_core::IdentityState::new(event.identity_id));
            let grant_before = history::grant_of(event).and_then(|g| history::interval(&state, g));
            touched_grants.extend(grant_touched_by(event));
            let state = apply(state, event);
            history::versions(
                event,
                grant_before,
                &state,
                &mut grant_versions,
                &mut identity_versions,
            );
            states.insert(event.identity_id, state);
        }
        let folded = started.elapsed();
        tables::save_states(txn, states.values(), &touched_grants).await?;
        let saved = started.elapsed();
        history::write(txn, &grant_versions, &identity_versions).await?;
        debug!(
            records = records.len(),
            identities = states.len(),
            ?journaled,
            ?loaded,
            ?folded,
            ?saved,
            total = ?started.elapsed(),
            "batch projected"
        );
        Ok(())
    }
}

/// The grant whose row an event can change, if any.
fn grant_touched_by(event: &LifecycleEvent) -> Option<GrantId> {
    use tenure_core::EventPayload as P;
    match &event.payload {
        P::AccessGranted { grant_id, .. }
        | P::RevocationIssued { grant_id, .. }
        | P::AccessRevoked { grant_id, .. }
        | P::CommandFailed { grant_id, .. }
        | P::AccessSuspended { grant_id, .. }
        | P::AccessRestored { grant_id, .. }
        | P::RevocationHeld { grant_id, .. }
        | P::RevocationReleased { grant_id, .. }
        | P::CommandEscalated { grant_id, .. } => Some(*grant_id),
        P::IdentityJoined { .. }
        | P::IdentityMoved { .. }
        | P::IdentityLeft { .. }
        | P::LeaveOfAbsenceStarted { .. }
        | P::LeaveOfAbsenceEnded
        | P::DeadlineReached { .. }
        | P::CredentialRotationIssued { .. }
        | P::OwnerLeft { .. }
        | P::AccessRequestChanged { .. }
        | P::CommandCompleted { .. }
        | P::CommandRepublished { .. }
        | P::AccessDiscrepancyFound { .. } => None,
    }
}
