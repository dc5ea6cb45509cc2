//! The process step: what handling one event does, beyond the decision itself.
//!
//! [`react`] decides; the step around it (fold the event and the decision's facts
//! into the state, find which owner a non-human identity names, decide whether the
//! brake holds a batch, decide what is tracked, retried and escalated) is written
//! once here. The reactor, `tenure simulate`, the workload generator and the tests all
//! run it, so a simulation reaches the reactor's commands by construction rather than
//! by three copies kept in step.

pub mod brake;
pub mod tracking;

use crate::event::{EventPayload, LifecycleEvent};
use crate::policy::Policy;
use crate::react::{Reaction, react};
use crate::state::{IdentityState, apply};

/// What handling one event left behind.
#[derive(Clone, Debug)]
pub struct Step {
    /// The identity after the event and every fact of its decision.
    pub state: IdentityState,
    /// The decision: commands to publish, facts to append, an owner's departure.
    pub reaction: Reaction,
    /// The owner this event (re)registered a live non-human identity under. If that
    /// person has already left, the identity is orphaned from the start
    /// ([`OwnerDeparture::already_gone`](crate::OwnerDeparture::already_gone)); only
    /// the caller, who sees every identity, can tell.
    pub names_owner: Option<String>,
}

/// Handles `event` for the identity in `state` under `policy`: react to the state
/// before the event, then fold the event and the decision's facts in, exactly as they
/// will come back from the log.
pub fn step(state: IdentityState, event: &LifecycleEvent, policy: &Policy) -> Step {
    let reaction = react(&state, event, policy);
    let state = reaction.facts.iter().fold(apply(state, event), apply);
    let names_owner = match event.payload {
        EventPayload::IdentityJoined { .. } | EventPayload::IdentityMoved { .. }
            if state.orphaned_until.is_none() =>
        {
            owner_to_notify(&state).map(str::to_owned)
        }
        _ => None,
    };
    Step {
        state,
        reaction,
        names_owner,
    }
}

/// The person whose departure orphans this identity: set for a live (employed)
/// non-human identity that names an owner, and for nothing else. The caller keeps an
/// index of it to find the identities an [`OwnerDeparture`](crate::OwnerDeparture)
/// must be delivered to.
pub fn owner_to_notify(state: &IdentityState) -> Option<&str> {
    (state.kind.is_non_human() && state.status.is_employed())
        .then_some(state.attributes.owner.as_deref())
        .flatten()
}

/// Whether the system that recorded `event` is Tenure itself deciding or following up
/// (the reactor, the scheduler, the brake, the retrier, an operator's release), or a
/// connector acknowledging. A simulation skips these: it decides its own.
pub fn is_tenure_follow_up(event: &LifecycleEvent) -> bool {
    [
        crate::react::REACTOR_SOURCE,
        crate::simulate::SCHEDULER_SOURCE,
        OPERATOR_SOURCE,
    ]
    .contains(&event.source_system.as_str())
        || event.source_system.starts_with("connector:")
}

/// The source of facts an operator's action records (a brake release); the person is
/// named in the fact itself.
pub const OPERATOR_SOURCE: &str = "tenure-operator";
