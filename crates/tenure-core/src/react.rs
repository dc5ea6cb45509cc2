//! The joiner / mover / leaver / expiry rules: what an event calls for.
//!
//! `react` looks at the state *before* the event and the event itself, and returns
//! the commands for connectors plus the facts that record the decision on the log
//! (`AccessGranted` for birthright, `RevocationIssued` for each revocation). It never
//! reads the clock: all times come from the triggering event, so a replay decides
//! exactly the same, with the same ids.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::*;
use crate::policy::Policy;
use crate::state::{Grant, IdentityState, IdentityStatus};

/// The system name the reactor's own facts carry as their source.
pub const REACTOR_SOURCE: &str = "tenure-reactor";

/// Take one grant away; the connector for `entitlement.system` executes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationCommand {
    pub command_id: Uuid,
    pub grant_id: GrantId,
    pub identity_id: IdentityId,
    pub entitlement: Entitlement,
    pub cause: RevocationCause,
    pub trigger_event_id: Uuid,
}

/// Provision one birthright grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCommand {
    pub command_id: Uuid,
    pub grant_id: GrantId,
    pub identity_id: IdentityId,
    pub entitlement: Entitlement,
    pub trigger_event_id: Uuid,
}

/// A command for a provisioning connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Revoke(RevocationCommand),
    Grant(GrantCommand),
}

impl Command {
    /// The stable id connectors acknowledge and the outbox deduplicates on.
    pub fn command_id(&self) -> Uuid {
        match self {
            Command::Revoke(c) => c.command_id,
            Command::Grant(c) => c.command_id,
        }
    }

    /// The system whose connector must execute the command.
    pub fn target_system(&self) -> &str {
        match self {
            Command::Revoke(c) => &c.entitlement.system,
            Command::Grant(c) => &c.entitlement.system,
        }
    }
}

/// What one event calls for: facts to append to the log and commands to publish.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reaction {
    pub facts: Vec<LifecycleEvent>,
    pub commands: Vec<Command>,
}

impl Reaction {
    fn revoke(&mut self, trigger: &LifecycleEvent, grant: &Grant, cause: RevocationCause) {
        let command_id = ids::revocation_command(grant.grant_id, cause, trigger.event_id);
        self.facts.push(decision_fact(
            trigger,
            ids::reactor_event("revocation_issued", command_id),
            command_id,
            EventPayload::RevocationIssued {
                grant_id: grant.grant_id,
                command_id,
                cause,
            },
        ));
        self.commands.push(Command::Revoke(RevocationCommand {
            command_id,
            grant_id: grant.grant_id,
            identity_id: trigger.identity_id,
            entitlement: grant.entitlement.clone(),
            cause,
            trigger_event_id: trigger.event_id,
        }));
    }

    fn grant_birthright(
        &mut self,
        trigger: &LifecycleEvent,
        policy: &Policy,
        role: &str,
        entitlement: &Entitlement,
    ) {
        let Some(role_policy) = policy.role(role) else {
            return;
        };
        let grant_id = ids::birthright_grant(trigger.identity_id, trigger.event_id, entitlement);
        let command_id = ids::grant_command(grant_id);
        self.facts.push(decision_fact(
            trigger,
            ids::reactor_event("access_granted", grant_id),
            command_id,
            EventPayload::AccessGranted {
                grant_id,
                entitlement: entitlement.clone(),
                owner: role_policy.owner.clone(),
                business_reason: format!("birthright access of role {role}"),
                revocation: RevocationCondition {
                    expires_at: None,
                    ends_on_role_change: true,
                },
                origin: GrantOrigin::Birthright {
                    role: role.to_owned(),
                },
            },
        ));
        self.commands.push(Command::Grant(GrantCommand {
            command_id,
            grant_id,
            identity_id: trigger.identity_id,
            entitlement: entitlement.clone(),
            trigger_event_id: trigger.event_id,
        }));
    }
}

/// A fact recording one of the reactor's decisions; its times are the trigger's so
/// that the same log always yields byte-identical facts.
fn decision_fact(
    trigger: &LifecycleEvent,
    event_id: Uuid,
    command_id: Uuid,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id,
        identity_id: trigger.identity_id,
        effective_time: trigger.effective_time,
        recorded_time: trigger.recorded_time,
        source_system: REACTOR_SOURCE.to_owned(),
        source_event_id: command_id.to_string(),
        causation_id: Some(trigger.event_id),
        payload,
    }
}

/// Decides what `event` calls for, given the identity's state before it.
pub fn react(before: &IdentityState, event: &LifecycleEvent, policy: &Policy) -> Reaction {
    let mut reaction = Reaction::default();
    match &event.payload {
        EventPayload::IdentityJoined { role, .. } => {
            // A rehire starts from nothing: grants held before the leave stay revoked.
            // A future start date waits for its deadline; a late joiner for an
            // employment that already ended grants nothing.
            let ended = before.status == IdentityStatus::Left
                && before.left_at.is_some_and(|l| event.effective_time < l);
            if !before.status.is_employed() && !ended && event.is_effective_when_recorded() {
                for entitlement in policy.birthright(role) {
                    reaction.grant_birthright(event, policy, role, entitlement);
                }
            }
        }
        EventPayload::IdentityMoved { role: new_role, .. } => {
            // A future-dated move waits for its deadline.
            if event.is_effective_when_recorded() {
                move_to(&mut reaction, before, event, new_role, policy);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::MoveEffective,
            due_time,
            ..
        } => {
            if let Some(scheduled) = &before.move_scheduled
                && same_instant(Some(scheduled.at), *due_time)
            {
                move_to(&mut reaction, before, event, &scheduled.role, policy);
            }
        }
        EventPayload::IdentityLeft { .. } => {
            // Whatever the status (a withdrawn pre-hire may hold requested access),
            // a leave in effect takes everything away.
            if before.status != IdentityStatus::Left
                && !before.predates_employment(event)
                && event.is_effective_when_recorded()
            {
                revoke_all(&mut reaction, before, event);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::LeaveEffective,
            due_time,
            ..
        } => {
            if before.status != IdentityStatus::Left
                && same_instant(before.leave_scheduled_at, *due_time)
            {
                revoke_all(&mut reaction, before, event);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::JoinEffective,
            due_time,
            ..
        } => {
            if before.status == IdentityStatus::PreHire
                && same_instant(before.joined_at, *due_time)
                && let Some(role) = &before.role
            {
                for entitlement in policy.birthright(role) {
                    reaction.grant_birthright(event, policy, role, entitlement);
                }
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::GrantExpiry,
            grant_id: Some(grant_id),
            due_time,
        } => {
            if let Some(grant) = before.grants.get(grant_id)
                && grant.is_active()
                && same_instant(grant.revocation.expires_at, *due_time)
            {
                reaction.revoke(event, grant, RevocationCause::Expiry);
            }
        }
        EventPayload::AccessGranted { grant_id, .. } => {
            // A grant reported for someone who has already left (a late ITSM delivery,
            // or a back-dated fulfilment) must not outlive the leave.
            if before.status == IdentityStatus::Left && !before.grants.contains_key(grant_id) {
                let after = crate::state::apply(before.clone(), event);
                if let Some(grant) = after.grants.get(grant_id) {
                    reaction.revoke(event, grant, RevocationCause::Leaver);
                }
            }
        }
        EventPayload::DeadlineReached { .. }
        | EventPayload::LeaveOfAbsenceStarted { .. }
        | EventPayload::LeaveOfAbsenceEnded
        | EventPayload::RevocationIssued { .. }
        | EventPayload::AccessRevoked { .. }
        | EventPayload::CommandFailed { .. } => {}
    }
    reaction
}

/// The mover rule: the old role's birthright the new role does not grant, and requested
/// access marked to end on a role change, are revoked; the new role's birthright not
/// already held is granted; everything else is kept.
fn move_to(
    reaction: &mut Reaction,
    before: &IdentityState,
    event: &LifecycleEvent,
    new_role: &str,
    policy: &Policy,
) {
    if !before.status.is_employed() || before.role.as_deref() == Some(new_role) {
        return;
    }
    let keep: BTreeSet<&Entitlement> = policy.birthright(new_role).iter().collect();
    let mut held: BTreeSet<&Entitlement> = BTreeSet::new();
    for grant in before.active_grants() {
        let belongs_to_old_role = match &grant.origin {
            GrantOrigin::Birthright { .. } => !keep.contains(&grant.entitlement),
            GrantOrigin::Request { .. } => grant.revocation.ends_on_role_change,
        };
        if belongs_to_old_role {
            reaction.revoke(event, grant, RevocationCause::Mover);
        } else {
            held.insert(&grant.entitlement);
        }
    }
    for entitlement in policy.birthright(new_role) {
        if !held.contains(entitlement) {
            reaction.grant_birthright(event, policy, new_role, entitlement);
        }
    }
}

fn revoke_all(reaction: &mut Reaction, before: &IdentityState, event: &LifecycleEvent) {
    for grant in before.active_grants() {
        reaction.revoke(event, grant, RevocationCause::Leaver);
    }
}

#[cfg(test)]
mod tests;
