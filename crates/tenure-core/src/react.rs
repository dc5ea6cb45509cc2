//! The joiner / mover / leaver / expiry rules: what an event calls for.
//!
//! `react` looks at the state *before* the event and the event itself, and returns
//! the commands for connectors plus the facts that record the decision on the log
//! (`AccessGranted` for birthright, `RevocationIssued` for each revocation). It never
//! reads the clock: all times come from the triggering event, so a replay decides
//! exactly the same, with the same ids.

use std::collections::BTreeSet;

use crate::ids::{CommandId, EventId, GrantId, IdentityId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{GrantTerms, TargetAccount};
use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::*;
use crate::policy::Policy;
use crate::state::{Grant, GrantStatus, IdentityState, IdentityStatus};

/// The system name the reactor's own facts carry as their source.
pub const REACTOR_SOURCE: &str = "tenure-reactor";

/// Take one grant away; the connector for `entitlement.system` executes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationCommand {
    pub command_id: CommandId,
    pub grant_id: GrantId,
    pub identity_id: IdentityId,
    pub entitlement: Entitlement,
    pub cause: RevocationCause,
    pub trigger_event_id: EventId,
    /// The account that holds the access in the target system.
    #[serde(default)]
    pub holder: TargetAccount,
    /// The governance of the grant being revoked, for the target's audit trail.
    #[serde(default)]
    pub terms: GrantTerms,
}

/// Provision one birthright grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCommand {
    pub command_id: CommandId,
    pub grant_id: GrantId,
    pub identity_id: IdentityId,
    pub entitlement: Entitlement,
    pub trigger_event_id: EventId,
    /// The account to give the access to.
    #[serde(default)]
    pub holder: TargetAccount,
    /// Owner, business reason and revocation condition the grant is made under.
    #[serde(default)]
    pub terms: GrantTerms,
}

/// Suspend a grant for a leave of absence, or restore it on return; the grant stays
/// recorded as held throughout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionCommand {
    pub command_id: CommandId,
    pub grant_id: GrantId,
    pub identity_id: IdentityId,
    pub entitlement: Entitlement,
    pub trigger_event_id: EventId,
    /// The account whose access is suspended or restored.
    #[serde(default)]
    pub holder: TargetAccount,
}

/// Rotate a non-human identity's credential in the system that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationCommand {
    pub command_id: CommandId,
    pub identity_id: IdentityId,
    /// The system holding the credential (its connector rotates it).
    pub system: String,
    /// The source's name for the account or key.
    pub account: String,
    pub due_time: DateTime<Utc>,
    pub trigger_event_id: EventId,
    /// The account whose credential is rotated.
    #[serde(default)]
    pub holder: TargetAccount,
}

/// A command for a provisioning connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Revoke(RevocationCommand),
    Grant(GrantCommand),
    Suspend(SuspensionCommand),
    Restore(SuspensionCommand),
    Rotate(RotationCommand),
}

impl Command {
    /// The stable id connectors acknowledge and the outbox deduplicates on.
    pub fn command_id(&self) -> CommandId {
        match self {
            Command::Revoke(c) => c.command_id,
            Command::Grant(c) => c.command_id,
            Command::Suspend(c) | Command::Restore(c) => c.command_id,
            Command::Rotate(c) => c.command_id,
        }
    }

    /// Which kind of command this is, as connectors acknowledge it.
    pub fn command_type(&self) -> CommandType {
        match self {
            Command::Revoke(_) => CommandType::Revoke,
            Command::Grant(_) => CommandType::Grant,
            Command::Suspend(_) => CommandType::Suspend,
            Command::Restore(_) => CommandType::Restore,
            Command::Rotate(_) => CommandType::Rotate,
        }
    }

    /// The identity whose access or credential the command changes.
    pub fn identity_id(&self) -> IdentityId {
        match self {
            Command::Revoke(c) => c.identity_id,
            Command::Grant(c) => c.identity_id,
            Command::Suspend(c) | Command::Restore(c) => c.identity_id,
            Command::Rotate(c) => c.identity_id,
        }
    }

    /// The grant the command is about; nil for a rotation, which names none.
    pub fn grant_id(&self) -> GrantId {
        match self {
            Command::Revoke(c) => c.grant_id,
            Command::Grant(c) => c.grant_id,
            Command::Suspend(c) | Command::Restore(c) => c.grant_id,
            Command::Rotate(_) => GrantId::NIL,
        }
    }

    /// What an acknowledgement of this command must say about it.
    pub fn issued(&self) -> crate::intake::IssuedCommand {
        crate::intake::IssuedCommand {
            command_type: self.command_type(),
            identity_id: self.identity_id(),
            grant_id: self.grant_id(),
            target_system: self.target_system().to_owned(),
        }
    }

    /// The account the command acts on in its target system.
    pub fn holder(&self) -> &TargetAccount {
        match self {
            Command::Revoke(c) => &c.holder,
            Command::Grant(c) => &c.holder,
            Command::Suspend(c) | Command::Restore(c) => &c.holder,
            Command::Rotate(c) => &c.holder,
        }
    }

    fn holder_mut(&mut self) -> &mut TargetAccount {
        match self {
            Command::Revoke(c) => &mut c.holder,
            Command::Grant(c) => &mut c.holder,
            Command::Suspend(c) | Command::Restore(c) => &mut c.holder,
            Command::Rotate(c) => &mut c.holder,
        }
    }

    /// The system whose connector must execute the command.
    pub fn target_system(&self) -> &str {
        match self {
            Command::Revoke(c) => &c.entitlement.system,
            Command::Grant(c) => &c.entitlement.system,
            Command::Suspend(c) | Command::Restore(c) => &c.entitlement.system,
            Command::Rotate(c) => &c.system,
        }
    }
}

/// A person who owned non-human identities left. Which identities they owned is
/// known only across identities, so the adapter looks them up and appends a
/// [`notice`](OwnerDeparture::notice_for) to each one's log.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnerDeparture {
    /// The person's source id, as non-human identities name their owner.
    pub owner: String,
    pub grace_until: DateTime<Utc>,
    trigger: LifecycleEvent,
}

impl OwnerDeparture {
    /// A non-human identity registered (or re-owned) by `trigger` names an owner who
    /// has already left: it is orphaned from the start, with the usual grace period.
    pub fn already_gone(owner: &str, trigger: &LifecycleEvent, policy: &Policy) -> Self {
        let grace = chrono::Duration::days(i64::from(policy.non_human.orphan_grace_days));
        OwnerDeparture {
            owner: owner.to_owned(),
            grace_until: trigger
                .effective_time
                .checked_add_signed(grace)
                .unwrap_or(trigger.effective_time),
            trigger: trigger.clone(),
        }
    }

    /// The `OwnerLeft` fact for one non-human identity the person owned.
    pub fn notice_for(&self, identity_id: IdentityId) -> LifecycleEvent {
        LifecycleEvent {
            event_id: ids::owner_left_notice(identity_id, self.trigger.event_id),
            identity_id,
            effective_time: self.trigger.effective_time,
            recorded_time: self.trigger.recorded_time,
            source_system: REACTOR_SOURCE.to_owned(),
            source_event_id: format!("owner_left:{identity_id}:{}", self.trigger.event_id),
            causation_id: Some(self.trigger.event_id.into()),
            payload: EventPayload::OwnerLeft {
                owner: self.owner.clone(),
                grace_until: self.grace_until,
            },
        }
    }
}

/// What one event calls for: facts to append to the log and commands to publish.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reaction {
    pub facts: Vec<LifecycleEvent>,
    pub commands: Vec<Command>,
    /// Set when the event ends the employment of someone who may own non-human identities.
    pub owner_departure: Option<OwnerDeparture>,
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
            holder: TargetAccount::default(),
            terms: GrantTerms::of(grant),
        }));
    }

    /// Revokes again a grant whose confirmed revocation reconciliation found undone,
    /// naming the account as the target listed it.
    fn reissue_revocation(&mut self, trigger: &LifecycleEvent, grant: &Grant, account: &str) {
        self.revoke(trigger, grant, RevocationCause::Reconciliation);
        if let Some(Command::Revoke(command)) = self.commands.last_mut() {
            command.holder.name = account.to_owned();
        }
    }

    /// Revokes access reconciliation found in its target that Tenure never granted,
    /// where the policy says so. The grant it names is derived from the holder and the
    /// access: no grant of Tenure's changes, and each pass's finding asks again.
    fn revoke_out_of_band(
        &mut self,
        trigger: &LifecycleEvent,
        account: &str,
        entitlement: &Entitlement,
    ) {
        let grant = Grant {
            grant_id: ids::out_of_band_grant(trigger.identity_id, account, entitlement),
            entitlement: entitlement.clone(),
            owner: String::new(),
            business_reason: "granted outside Tenure (found by reconciliation)".into(),
            revocation: RevocationCondition::default(),
            origin: GrantOrigin::Request {
                request_id: String::new(),
            },
            granted_at: trigger.effective_time,
            status: crate::state::GrantStatus::Active,
            failed_attempts: 0,
            escalated: false,
            suspended: false,
            held_by_brake: false,
            found_not_removed: 0,
        };
        self.reissue_revocation(trigger, &grant, account);
    }

    fn suspend(&mut self, trigger: &LifecycleEvent, grant: &Grant, restore: bool) {
        let action = if restore { "restore" } else { "suspend" };
        let command_id = ids::suspension_command(grant.grant_id, action, trigger.event_id);
        let (kind, payload) = if restore {
            (
                "access_restored",
                EventPayload::AccessRestored {
                    grant_id: grant.grant_id,
                    command_id,
                },
            )
        } else {
            (
                "access_suspended",
                EventPayload::AccessSuspended {
                    grant_id: grant.grant_id,
                    command_id,
                },
            )
        };
        self.facts.push(decision_fact(
            trigger,
            ids::reactor_event(kind, command_id),
            command_id,
            payload,
        ));
        let command = SuspensionCommand {
            command_id,
            grant_id: grant.grant_id,
            identity_id: trigger.identity_id,
            entitlement: grant.entitlement.clone(),
            trigger_event_id: trigger.event_id,
            holder: TargetAccount::default(),
        };
        self.commands.push(if restore {
            Command::Restore(command)
        } else {
            Command::Suspend(command)
        });
    }

    fn rotate(&mut self, trigger: &LifecycleEvent, before: &IdentityState, due: DateTime<Utc>) {
        let command_id = ids::rotation_command(before.identity_id, due);
        self.facts.push(decision_fact(
            trigger,
            ids::reactor_event("credential_rotation_issued", command_id),
            command_id,
            EventPayload::CredentialRotationIssued {
                command_id,
                due_time: due,
            },
        ));
        self.commands.push(Command::Rotate(RotationCommand {
            command_id,
            identity_id: before.identity_id,
            system: before
                .attributes
                .credential_system
                .clone()
                .unwrap_or_else(|| trigger.source_system.clone()),
            account: before.source_person_id.clone().unwrap_or_default(),
            due_time: due,
            trigger_event_id: trigger.event_id,
            holder: TargetAccount::default(),
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
        let terms = GrantTerms {
            owner: role_policy.owner.clone(),
            business_reason: format!("birthright access of role {role}"),
            revocation: RevocationCondition {
                expires_at: None,
                ends_on_role_change: true,
            },
            birthright_role: Some(role.to_owned()),
            request_id: None,
        };
        self.facts.push(decision_fact(
            trigger,
            ids::reactor_event("access_granted", grant_id),
            command_id,
            EventPayload::AccessGranted {
                grant_id,
                entitlement: entitlement.clone(),
                owner: terms.owner.clone(),
                business_reason: terms.business_reason.clone(),
                revocation: terms.revocation.clone(),
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
            holder: TargetAccount::default(),
            terms,
        }));
    }
}

/// A fact recording one of the reactor's decisions; its times are the trigger's so
/// that the same log always yields byte-identical facts.
fn decision_fact(
    trigger: &LifecycleEvent,
    event_id: EventId,
    command_id: CommandId,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id,
        identity_id: trigger.identity_id,
        effective_time: trigger.effective_time,
        recorded_time: trigger.recorded_time,
        source_system: REACTOR_SOURCE.to_owned(),
        source_event_id: command_id.to_string(),
        causation_id: Some(trigger.event_id.into()),
        payload,
    }
}

/// Decides what `event` calls for, given the identity's state before it. Every
/// command names the account it acts on, as the identity is known once `event` holds.
pub fn react(before: &IdentityState, event: &LifecycleEvent, policy: &Policy) -> Reaction {
    let mut reaction = decide(before, event, policy);
    for command in &mut reaction.commands {
        let resolved = TargetAccount::of(before, event, command.target_system());
        let holder = command.holder_mut();
        // A rule that knows the account better (reconciliation's) keeps its name.
        let name = std::mem::take(&mut holder.name);
        *holder = resolved;
        if !name.is_empty() {
            holder.name = name;
        }
    }
    reaction
}

/// What `event` calls for, before the commands are addressed to their accounts.
fn decide(before: &IdentityState, event: &LifecycleEvent, policy: &Policy) -> Reaction {
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
                revoke_all(&mut reaction, before, event, RevocationCause::Leaver);
                reaction.owner_departure = owner_departure(before, event, policy);
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
                revoke_all(&mut reaction, before, event, RevocationCause::Leaver);
                reaction.owner_departure = owner_departure(before, event, policy);
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
        EventPayload::AccessDiscrepancyFound {
            kind: DiscrepancyKind::NotRemoved,
            grant_id,
            account,
            ..
        } => {
            // A revocation its connector confirmed did not stick: ask again, once; if
            // reconciliation finds it there again, a person must look.
            if let Some(grant) = before.grants.get(grant_id)
                && let GrantStatus::Revoked { command_id, .. } = &grant.status
            {
                if grant.found_not_removed == 0 {
                    reaction.reissue_revocation(event, grant, account);
                } else {
                    reaction
                        .facts
                        .push(crate::process::tracking::escalated_fact(
                            event.identity_id,
                            grant.grant_id,
                            *command_id,
                            format!(
                                "{} still holds {} after its revocation was confirmed twice",
                                account, grant.entitlement
                            ),
                            event.recorded_time,
                        ));
                }
            }
        }
        EventPayload::AccessDiscrepancyFound {
            kind: DiscrepancyKind::OutOfBand,
            account,
            entitlement,
            ..
        } if policy.reconciliation.revokes_out_of_band(entitlement) => {
            reaction.revoke_out_of_band(event, account, entitlement);
        }
        EventPayload::AccessGranted {
            grant_id,
            entitlement,
            ..
        } => {
            // A grant reported for someone who has already left (a late ITSM delivery,
            // or a back-dated fulfilment) must not outlive the leave; one fulfilled
            // during a leave of absence is suspended like the rest.
            let left = before.status == IdentityStatus::Left;
            let away = before.status == IdentityStatus::OnLeave
                && policy.leave_of_absence.suspends(entitlement);
            if (left || away) && !before.grants.contains_key(grant_id) {
                let after = crate::state::apply(before.clone(), event);
                if let Some(grant) = after.grants.get(grant_id) {
                    if left {
                        reaction.revoke(event, grant, RevocationCause::Leaver);
                    } else {
                        reaction.suspend(event, grant, false);
                    }
                }
            }
        }
        EventPayload::DeadlineReached {
            kind: kind @ (DeadlineKind::CredentialExpiry | DeadlineKind::OrphanGrace),
            due_time,
            ..
        } => {
            if before.ends_non_human_at(*kind, *due_time) {
                let cause = match kind {
                    DeadlineKind::OrphanGrace => RevocationCause::OrphanedOwner,
                    _ => RevocationCause::Expiry,
                };
                revoke_all(&mut reaction, before, event, cause);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::PolicyLimit,
            grant_id: Some(grant_id),
            due_time,
        } => {
            if let Some(grant) = before.grants.get(grant_id)
                && grant.is_active()
                && same_instant(IdentityState::policy_limit(grant, policy), *due_time)
            {
                reaction.revoke(event, grant, RevocationCause::Policy);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::CredentialRotation,
            due_time,
            ..
        } => {
            if before.status.is_employed()
                && before
                    .rotation_due()
                    .is_some_and(|d| same_instant(Some(d), *due_time))
            {
                reaction.rotate(event, before, *due_time);
            }
        }
        EventPayload::LeaveOfAbsenceStarted { .. } if event.is_effective_when_recorded() => {
            if before.status == IdentityStatus::Active {
                go_on_leave(&mut reaction, before, event, policy);
            }
        }
        EventPayload::LeaveOfAbsenceEnded if event.is_effective_when_recorded() => {
            if before.status == IdentityStatus::OnLeave {
                come_back(&mut reaction, before, event);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::AbsenceStart,
            due_time,
            ..
        } => {
            if before.status == IdentityStatus::Active
                && same_instant(before.absence_from, *due_time)
            {
                go_on_leave(&mut reaction, before, event, policy);
            }
        }
        EventPayload::DeadlineReached {
            kind: DeadlineKind::AbsenceEnd,
            due_time,
            ..
        } => {
            if before.status == IdentityStatus::OnLeave
                && same_instant(before.absence_until, *due_time)
            {
                come_back(&mut reaction, before, event);
            }
        }
        EventPayload::DeadlineReached { .. }
        | EventPayload::LeaveOfAbsenceStarted { .. }
        | EventPayload::LeaveOfAbsenceEnded
        | EventPayload::RevocationIssued { .. }
        | EventPayload::AccessRevoked { .. }
        | EventPayload::CommandFailed { .. }
        | EventPayload::AccessSuspended { .. }
        | EventPayload::AccessRestored { .. }
        | EventPayload::CredentialRotationIssued { .. }
        | EventPayload::OwnerLeft { .. }
        | EventPayload::AccessRequestChanged { .. }
        | EventPayload::CommandCompleted { .. }
        | EventPayload::RevocationHeld { .. }
        | EventPayload::RevocationReleased { .. }
        | EventPayload::CommandRepublished { .. }
        | EventPayload::CommandEscalated { .. }
        | EventPayload::AccessDiscrepancyFound { .. } => {}
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

/// Suspends the active grants the leave-of-absence policy covers.
fn go_on_leave(
    reaction: &mut Reaction,
    before: &IdentityState,
    event: &LifecycleEvent,
    policy: &Policy,
) {
    for grant in before
        .active_grants()
        .filter(|g| !g.suspended && policy.leave_of_absence.suspends(&g.entitlement))
    {
        reaction.suspend(event, grant, false);
    }
}

/// Restores exactly what the leave suspended.
fn come_back(reaction: &mut Reaction, before: &IdentityState, event: &LifecycleEvent) {
    for grant in before.active_grants().filter(|g| g.suspended) {
        reaction.suspend(event, grant, true);
    }
}

fn revoke_all(
    reaction: &mut Reaction,
    before: &IdentityState,
    event: &LifecycleEvent,
    cause: RevocationCause,
) {
    for grant in before.active_grants() {
        reaction.revoke(event, grant, cause);
    }
}

/// A person (not a machine) who leaves leaves their non-human identities orphaned.
fn owner_departure(
    before: &IdentityState,
    event: &LifecycleEvent,
    policy: &Policy,
) -> Option<OwnerDeparture> {
    if before.kind.is_non_human() {
        return None;
    }
    let owner = before.source_person_id.clone()?;
    let effective = match &event.payload {
        EventPayload::DeadlineReached { due_time, .. } => *due_time,
        _ => event.effective_time,
    };
    let grace = chrono::Duration::days(i64::from(policy.non_human.orphan_grace_days));
    Some(OwnerDeparture {
        owner,
        grace_until: effective.checked_add_signed(grace).unwrap_or(effective),
        trigger: event.clone(),
    })
}

#[cfg(test)]
mod tests;
