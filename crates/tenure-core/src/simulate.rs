//! Running the rules over a history without the clock: each identity's deadlines fire
//! in time order before the next event recorded after them, exactly as the scheduler
//! would have fired them. Policy simulation and the workload generator use it to
//! decide what a policy does to a recorded or generated history.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::*;
use crate::policy::Policy;
use crate::process;
use crate::react::{OwnerDeparture, Reaction};
use crate::state::{Deadline, IdentityState};

/// The scheduler's name as the source of deadline events.
pub const SCHEDULER_SOURCE: &str = "tenure-scheduler";

/// The event the scheduler appends when `deadline` falls due.
pub fn deadline_event(deadline: &Deadline) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::deadline_event(deadline.deadline_id),
        identity_id: deadline.identity_id,
        effective_time: deadline.due_time,
        recorded_time: deadline.due_time,
        source_system: SCHEDULER_SOURCE.to_owned(),
        source_event_id: deadline.deadline_id.to_string(),
        causation_id: None,
        payload: EventPayload::DeadlineReached {
            kind: deadline.kind,
            grant_id: deadline.grant_id,
            due_time: deadline.due_time,
        },
    }
}

/// One decision: the event (a source fact or a deadline) and what it called for.
#[derive(Clone, Debug)]
pub struct Decision {
    pub trigger: LifecycleEvent,
    pub reaction: Reaction,
}

/// The reactor's rules under one policy, fed a history in log order.
pub struct Simulation<'p> {
    policy: &'p Policy,
    states: HashMap<IdentityId, IdentityState>,
    seen: std::collections::HashSet<crate::ids::EventId>,
}

impl<'p> Simulation<'p> {
    /// A simulation under `policy`, starting from no identities.
    pub fn new(policy: &'p Policy) -> Self {
        Simulation {
            policy,
            states: HashMap::new(),
            seen: Default::default(),
        }
    }

    fn decide(
        &mut self,
        state: IdentityState,
        trigger: LifecycleEvent,
        out: &mut Vec<Decision>,
    ) -> (IdentityState, Option<String>) {
        let step = process::step(state, &trigger, self.policy);
        out.push(Decision {
            trigger,
            reaction: step.reaction,
        });
        (step.state, step.names_owner)
    }

    fn fire_until(
        &mut self,
        mut state: IdentityState,
        until: DateTime<Utc>,
        out: &mut Vec<Decision>,
    ) -> IdentityState {
        loop {
            let due = state
                .deadlines_under(self.policy)
                .into_iter()
                .filter(|d| d.due_time <= until)
                .min_by_key(|d| d.due_time);
            let Some(deadline) = due else { return state };
            state = self.decide(state, deadline_event(&deadline), out).0;
        }
    }

    /// Feeds one event of the history. The reactor's own facts, the scheduler's
    /// deadline events and connectors' outcomes are skipped (this simulation decides
    /// and issues its own), as are redeliveries. Returns the decisions made,
    /// deadlines first, then the notices to identities an owner's leave orphaned.
    pub fn feed(&mut self, event: &LifecycleEvent) -> Vec<Decision> {
        let mut out = Vec::new();
        if process::is_tenure_follow_up(event) || !self.seen.insert(event.event_id) {
            return out;
        }
        let state = self
            .states
            .remove(&event.identity_id)
            .unwrap_or_else(|| IdentityState::new(event.identity_id));
        let state = self.fire_until(state, event.recorded_time, &mut out);
        let (state, names_owner) = self.decide(state, event.clone(), &mut out);
        let orphaned_at_birth = names_owner
            .filter(|owner| self.has_left(owner))
            .map(|owner| OwnerDeparture::already_gone(&owner, event, self.policy));
        self.states.insert(event.identity_id, state);
        if let Some(departure) = orphaned_at_birth {
            self.deliver(&departure, event.identity_id, &mut out);
        }
        self.notify_owned(&mut out, 0);
        out
    }

    /// Whether the person with HR id `person` has left.
    fn has_left(&self, person: &str) -> bool {
        self.states
            .get(&ids::identity(ids::PEOPLE, person))
            .is_some_and(|o| o.status == crate::state::IdentityStatus::Left)
    }

    fn deliver(
        &mut self,
        departure: &OwnerDeparture,
        identity: IdentityId,
        out: &mut Vec<Decision>,
    ) {
        if let Some(state) = self.states.remove(&identity) {
            let notice = departure.notice_for(identity);
            let state = self.fire_until(state, notice.recorded_time, out);
            let (state, _) = self.decide(state, notice, out);
            self.states.insert(identity, state);
        }
    }

    /// Delivers the notices of the owner departures among `out[from..]`, as the
    /// reactor does across partitions.
    fn notify_owned(&mut self, out: &mut Vec<Decision>, from: usize) {
        let departures: Vec<OwnerDeparture> = out[from..]
            .iter()
            .filter_map(|d| d.reaction.owner_departure.clone())
            .collect();
        for departure in departures {
            let mut owned: Vec<IdentityId> = self
                .states
                .values()
                .filter(|s| process::owner_to_notify(s) == Some(departure.owner.as_str()))
                .map(|s| s.identity_id)
                .collect();
            owned.sort();
            for identity in owned {
                self.deliver(&departure, identity, out);
            }
        }
    }

    /// Fires every deadline due by `until`, for every identity, until none is left
    /// (a leave firing late may orphan identities whose grace then ends too).
    pub fn finish(&mut self, until: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::new();
        loop {
            let before = out.len();
            let mut ids: Vec<IdentityId> = self.states.keys().copied().collect();
            ids.sort();
            for id in ids {
                if let Some(state) = self.states.remove(&id) {
                    let from = out.len();
                    let state = self.fire_until(state, until, &mut out);
                    self.states.insert(id, state);
                    self.notify_owned(&mut out, from);
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }

    /// The state reached for one identity.
    pub fn state(&self, identity: IdentityId) -> Option<&IdentityState> {
        self.states.get(&identity)
    }
}
