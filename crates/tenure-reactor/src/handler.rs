//! Reacting to one batch of lifecycle records.

use tenure_core::process::brake::{self as brake_rule, BrakePolicy};
use tenure_core::process::tracking::{RetryPolicy, Tracked};
use tenure_core::{
    Command, EventId, EventPayload, IdentityId, IdentityState, OwnerDeparture, Policy, process,
};
use tenure_kafka::trace::TraceContext;
use tenure_kafka::{BatchHandler, KafkaAdapterError, Record};
use tracing::info;

use crate::{brake, messages, tables, tracking};

/// Decides with the pure core under one policy; holds no state between batches.
pub struct ReactorHandler {
    policy: Policy,
    retry: RetryPolicy,
    brake: BrakePolicy,
    routes: tenure_kafka::topics::CommandTopics,
}

impl ReactorHandler {
    /// A handler that applies `policy`, tracks revocations under `retry` and holds
    /// mass revocations under `brake`.
    pub fn new(policy: Policy, retry: RetryPolicy, brake: BrakePolicy) -> Self {
        ReactorHandler {
            policy,
            retry,
            brake,
            routes: Default::default(),
        }
    }

    /// Publishes commands on the topics `routes` names.
    pub fn with_command_topics(mut self, routes: tenure_kafka::topics::CommandTopics) -> Self {
        self.routes = routes;
        self
    }
}

impl BatchHandler for ReactorHandler {
    async fn handle(
        &self,
        txn: &tokio_postgres::Transaction<'_>,
        records: &[Record],
    ) -> Result<(), KafkaAdapterError> {
        let mut events = Vec::with_capacity(records.len());
        // Each event's trace (from the request that put it on the log), which its
        // decisions and commands carry on.
        let mut traces: std::collections::HashMap<EventId, TraceContext> = Default::default();
        for record in records {
            match tenure_proto::decode_event(&record.payload) {
                Ok(event) => {
                    let headers = record.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    if let Some(trace) = TraceContext::of_headers(headers) {
                        traces.insert(event.event_id, trace);
                    }
                    events.push(event)
                }
                Err(e) => {
                    let letter = record.dead_letter(e.to_string());
                    tenure_store::dead_letters::park(txn, crate::GROUP, &letter).await?;
                }
            }
        }
        let ids: Vec<EventId> = events.iter().map(|e| e.event_id).collect();
        let fresh = tables::mark_seen(txn, &ids).await?;
        let identities: Vec<IdentityId> = events.iter().map(|e| e.identity_id).collect();
        let mut states = tables::load_states(txn, &identities).await?;
        let issued = chrono::Utc::now();
        let mut outbox = Vec::new();
        let mut decided_facts = Vec::new();
        let mut handled = std::collections::HashSet::new();
        let mut tracked = Vec::new();
        let mut issued_commands = Vec::new();
        let mut active_before: std::collections::HashMap<IdentityId, i64> = Default::default();
        let mut brakeable: Vec<(usize, tenure_core::RevocationCommand)> = Vec::new();
        let mut latest_trigger = chrono::DateTime::<chrono::Utc>::MIN_UTC;
        let mut departures = Vec::new();
        let mut outcomes = Vec::new();
        let mut adoptions = Vec::new();
        for event in events {
            // Redelivered events (and the reactor's own facts coming back) are not re-acted upon.
            if !fresh.contains(&event.event_id) || !handled.insert(event.event_id) {
                continue;
            }
            let state = states
                .remove(&event.identity_id)
                .unwrap_or_else(|| IdentityState::new(event.identity_id));
            active_before
                .entry(event.identity_id)
                .or_insert_with(|| state.active_grants().count() as i64);
            if matches!(
                event.payload,
                EventPayload::AccessRevoked { .. }
                    | EventPayload::CommandFailed { .. }
                    | EventPayload::CommandCompleted { .. }
            ) {
                outcomes.push(event.clone());
            }
            // The event's decisions in a span of the event's trace (exported over OTLP
            // when configured); what they write carries that span as parent.
            let span = tracing::info_span!(
                "reactor.decide",
                event = %event.event_id,
                identity = %event.identity_id
            );
            let caused_by = traces.get(&event.event_id).copied();
            if let Some(t) = caused_by {
                t.adopt(&span);
            }
            let _decide = span.enter();
            let step = process::step(state, &event, &self.policy);
            let trace =
                caused_by.map(|t| TraceContext::of_current_span().unwrap_or_else(|| t.child()));
            let traced = |mut message: tenure_store::OutboxMessage| {
                if let Some(t) = trace {
                    message
                        .headers
                        .push((tenure_kafka::trace::TRACEPARENT.to_owned(), t.header()));
                }
                message
            };
            for fact in &step.reaction.facts {
                outbox.push(traced(messages::fact(fact)));
                decided_facts.push(fact.event_id);
            }
            for command in &step.reaction.commands {
                info!(
                    command = %command.command_id(),
                    r#type = messages::command_type(command),
                    system = command.target_system(),
                    identity = %event.identity_id,
                    trigger = %event.event_id,
                    trace_id = trace.map(|t| t.trace_id()).unwrap_or_default(),
                    "command decided"
                );
                if let Command::Revoke(r) = command
                    && self.brake.applies_to(r.cause)
                {
                    brakeable.push((outbox.len(), r.clone()));
                    latest_trigger =
                        latest_trigger.max(event.recorded_time.max(event.effective_time));
                }
                outbox.push(traced(messages::command(
                    command,
                    event.identity_id,
                    issued,
                    self.routes,
                )));
                issued_commands.push((command.command_id(), command.issued()));
                tracked.extend(Tracked::from_command(command, &event, &self.retry));
            }
            departures.extend(step.reaction.owner_departure);
            if let Some(owner) = step.names_owner {
                adoptions.push((owner, event.clone()));
            }
            states.insert(event.identity_id, step.state);
        }
        // Owners named here are locked (in a fixed order) so that a leave and a
        // registration naming the same owner, handled side by side in two partitions,
        // see each other: the later of the two finds the earlier's committed row.
        let mut owners: Vec<&str> = adoptions
            .iter()
            .map(|(o, _)| o.as_str())
            .chain(departures.iter().map(|d| d.owner.as_str()))
            .collect();
        owners.sort_unstable();
        owners.dedup();
        tables::lock_owners(txn, &owners).await?;
        // A non-human identity registered under an owner who already left is orphaned
        // from the start; the notice comes back through the log like any other.
        if !adoptions.is_empty() {
            let owners: Vec<&str> = adoptions.iter().map(|(o, _)| o.as_str()).collect();
            let gone = tables::departed(txn, &owners).await?;
            for (owner, event) in adoptions.iter().filter(|(o, _)| gone.contains(o)) {
                let departure = OwnerDeparture::already_gone(owner, event, &self.policy);
                outbox.push(messages::fact(&departure.notice_for(event.identity_id)));
            }
        }
        // Notices to orphaned non-human identities go through the log to their own
        // partitions, where the reactor folds them like any other fact.
        if !departures.is_empty() {
            tables::save_owners(txn, states.values()).await?;
            let owners: Vec<&str> = departures.iter().map(|d| d.owner.as_str()).collect();
            for (owner, identity) in tables::owned_by(txn, &owners).await? {
                for departure in departures.iter().filter(|d| d.owner == owner) {
                    outbox.push(messages::fact(&departure.notice_for(identity)));
                }
            }
        }
        // Our own facts are already folded in: reading them back from the log is a no-op.
        tables::mark_seen(txn, &decided_facts).await?;
        tables::save_states(txn, states.values()).await?;
        tables::save_owners(txn, states.values()).await?;
        tables::replace_deadlines(txn, states.values(), &self.policy).await?;
        tables::record_issued_commands(txn, &issued_commands, issued).await?;
        // The brake's verdict takes a lock that every partition's batch with
        // revocations waits for until this transaction commits: only what the brake
        // counts (active grants, revocations tracked) and what its verdict changes (the
        // outbox) are written after it.
        if let Some(reason) =
            brake::verdict(txn, &self.brake, brakeable.len() as i64, latest_trigger).await?
        {
            tracing::warn!(held = brakeable.len(), %reason, "safety brake: revocations held for review");
            // Each hold is a fact on the identity's log; it comes back and is folded
            // like any other.
            for (i, command) in brakeable {
                outbox[i].held = Some(reason.clone());
                outbox.push(messages::fact(&brake_rule::held_fact(
                    &command, &reason, issued,
                )));
            }
        }
        let delta: i64 = active_before
            .iter()
            .map(|(id, before)| {
                states
                    .get(id)
                    .map_or(0, |s| s.active_grants().count() as i64)
                    - before
            })
            .sum();
        if let Some(first) = records.first() {
            brake::add_active(txn, first.partition, delta).await?;
        }
        tracking::record_issued(txn, &tracked).await?;
        // Outcomes after issues: a command and its acknowledgement may share a batch
        // (a replayed history, a very fast connector).
        for event in &outcomes {
            if let Some(escalation) = tracking::record_outcome(txn, event, &self.retry).await? {
                outbox.push(messages::fact(&escalation));
            }
        }
        tenure_store::outbox::insert(txn, &outbox).await?;
        Ok(())
    }
}
