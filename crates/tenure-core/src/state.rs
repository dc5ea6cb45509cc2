//! An identity's entitlement state and the fold that builds it from events.

use std::collections::BTreeMap;

use crate::ids::{CommandId, DeadlineId, GrantId, IdentityId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::*;

/// Where an identity stands in its lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityStatus {
    /// Only seen in events that precede its joiner (late or out-of-order delivery).
    #[default]
    Unknown,
    /// Hired with a future start date: no access until the start.
    PreHire,
    Active,
    /// Away on a leave of absence, still employed.
    OnLeave,
    Left,
}

impl IdentityStatus {
    /// The stable lowercase name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityStatus::Unknown => "unknown",
            IdentityStatus::PreHire => "pre_hire",
            IdentityStatus::Active => "active",
            IdentityStatus::OnLeave => "on_leave",
            IdentityStatus::Left => "left",
        }
    }

    /// Hired: employed, or hired for a future start. A leaver ends it, a SCIM User
    /// shows it as `active`, and a new joiner for someone hired is a conflict.
    pub fn is_hired(self) -> bool {
        self.is_employed() || self == IdentityStatus::PreHire
    }

    /// Employed and started: access rules for movers and leavers apply.
    pub fn is_employed(self) -> bool {
        matches!(self, IdentityStatus::Active | IdentityStatus::OnLeave)
    }
}

/// Where a grant stands: access is only "gone" once a connector confirms it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GrantStatus {
    Active,
    RevocationPending {
        command_id: CommandId,
        cause: RevocationCause,
        since: DateTime<Utc>,
    },
    Revoked {
        command_id: CommandId,
        /// Why, when Tenure issued the revocation (none for one it did not decide).
        cause: Option<RevocationCause>,
        revoked_at: DateTime<Utc>,
    },
}

impl GrantStatus {
    /// The stable lowercase name used in JSON and SQL.
    pub fn as_str(&self) -> &'static str {
        match self {
            GrantStatus::Active => "active",
            GrantStatus::RevocationPending { .. } => "revocation_pending",
            GrantStatus::Revoked { .. } => "revoked",
        }
    }
}

/// One governed grant of access and everything needed to explain and end it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grant_id: GrantId,
    pub entitlement: Entitlement,
    pub owner: String,
    pub business_reason: String,
    pub revocation: RevocationCondition,
    pub origin: GrantOrigin,
    pub granted_at: DateTime<Utc>,
    pub status: GrantStatus,
    /// Failed connector attempts at the current command, and whether one was permanent.
    pub failed_attempts: u32,
    pub escalated: bool,
    /// Taken away for a leave of absence and due back on return (still held).
    #[serde(default)]
    pub suspended: bool,
    /// Its revocation is held back by the safety brake until an operator releases it.
    #[serde(default)]
    pub held_by_brake: bool,
    /// Reconciliation found it still in its target after its revocation was
    /// confirmed this many times (the first re-issues the revocation, a second escalates).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub found_not_removed: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Grant {
    /// Active means the holder can still use it and nothing has been decided yet.
    pub fn is_active(&self) -> bool {
        self.status == GrantStatus::Active
    }
}

/// A role change announced for a future date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledMove {
    pub at: DateTime<Utc>,
    pub role: String,
    pub attributes: Attributes,
    #[serde(default)]
    pub kind: Option<IdentityKind>,
}

/// A point in time at which the scheduler must append a `DeadlineReached` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub deadline_id: DeadlineId,
    pub kind: DeadlineKind,
    pub identity_id: IdentityId,
    pub grant_id: Option<GrantId>,
    pub due_time: DateTime<Utc>,
}

/// The version of [`IdentityState`]'s serialised shape, stored beside each state
/// document the adapters keep. Raise it with any change that would make an older
/// document misread: readers then refuse older documents, naming both versions, instead
/// of silently reading them wrong; rebuilding from the log writes the new shape.
pub const STATE_DOCUMENT_VERSION: i16 = 1;

/// Everything Tenure knows about one identity, folded from its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityState {
    pub identity_id: IdentityId,
    pub kind: IdentityKind,
    pub status: IdentityStatus,
    pub role: Option<String>,
    pub attributes: Attributes,
    pub source_person_id: Option<String>,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    /// Why the identity last left, as its source said: a source that deleted the
    /// person (see [`crate::intake::DELETED_AT_SOURCE`]) no longer shows them.
    #[serde(default)]
    pub left_reason: Option<String>,
    /// A future-dated leave waiting for its deadline.
    pub leave_scheduled_at: Option<DateTime<Utc>>,
    /// A future-dated move waiting for its deadline.
    #[serde(default)]
    pub move_scheduled: Option<ScheduledMove>,
    pub grants: BTreeMap<GrantId, Grant>,
    /// Non-human identities: when the credential was last created or rotated.
    #[serde(default)]
    pub credential_rotated_at: Option<DateTime<Utc>>,
    /// Non-human identities whose owner left: revoked at this time unless re-owned.
    #[serde(default)]
    pub orphaned_until: Option<DateTime<Utc>>,
    /// A leave of absence announced to begin at this time.
    #[serde(default)]
    pub absence_from: Option<DateTime<Utc>>,
    /// The announced return from a leave of absence.
    #[serde(default)]
    pub absence_until: Option<DateTime<Utc>>,
    /// How many distinct events were folded in: a double application would show here.
    pub events_applied: u64,
    /// Revocation acknowledgements that matched no revocation Tenure had decided for
    /// the grant (a forged or misrouted report, or one from an older version's log):
    /// ignored, and counted here so that they can be found.
    #[serde(default)]
    pub unmatched_acknowledgements: u32,
}

impl IdentityState {
    /// The state of an identity before any event about it.
    pub fn new(identity_id: IdentityId) -> Self {
        IdentityState {
            identity_id,
            kind: IdentityKind::default(),
            status: IdentityStatus::Unknown,
            role: None,
            attributes: Attributes::default(),
            source_person_id: None,
            joined_at: None,
            left_at: None,
            left_reason: None,
            leave_scheduled_at: None,
            move_scheduled: None,
            grants: BTreeMap::new(),
            credential_rotated_at: None,
            orphaned_until: None,
            absence_from: None,
            absence_until: None,
            events_applied: 0,
            unmatched_acknowledgements: 0,
        }
    }

    /// True for a leave dated before the current employment began: it belongs to an
    /// earlier employment (a late delivery after a rehire) and must not end this one.
    /// (Before the start date, a leave is a withdrawn offer and does apply.)
    pub fn predates_employment(&self, event: &LifecycleEvent) -> bool {
        self.status.is_employed()
            && self
                .joined_at
                .is_some_and(|joined| event.effective_time < joined)
    }

    /// True when a non-human identity's expiry or orphan grace at `due` ends it now.
    pub fn ends_non_human_at(&self, kind: DeadlineKind, due: DateTime<Utc>) -> bool {
        let scheduled = match kind {
            DeadlineKind::CredentialExpiry => self.attributes.credential_expires_at,
            DeadlineKind::OrphanGrace => self.orphaned_until,
            _ => return false,
        };
        self.kind.is_non_human() && self.status.is_employed() && same_instant(scheduled, due)
    }

    /// Grants the identity can still use.
    pub fn active_grants(&self) -> impl Iterator<Item = &Grant> {
        self.grants.values().filter(|g| g.is_active())
    }

    fn push_non_human_deadlines(&self, out: &mut Vec<Deadline>) {
        let due = [
            (DeadlineKind::CredentialRotation, self.rotation_due()),
            (
                DeadlineKind::CredentialExpiry,
                self.attributes.credential_expires_at,
            ),
            (DeadlineKind::OrphanGrace, self.orphaned_until),
        ];
        for (kind, due) in due {
            if let Some(due) = due {
                out.push(Deadline {
                    deadline_id: ids::deadline(kind, self.identity_id, None, due),
                    kind,
                    identity_id: self.identity_id,
                    grant_id: None,
                    due_time: due,
                });
            }
        }
    }

    /// When a grant reaches its class's longest allowed duration under `policy`, if
    /// that comes before its own expiry.
    pub fn policy_limit(grant: &Grant, policy: &crate::policy::Policy) -> Option<DateTime<Utc>> {
        // Birthright lasts as long as the role: it would only be granted again.
        if matches!(grant.origin, GrantOrigin::Birthright { .. }) {
            return None;
        }
        let (_, max) = policy.max_duration(&grant.entitlement)?;
        let limit = grant.granted_at.checked_add_signed(max)?;
        match grant.revocation.expires_at {
            Some(expiry) if expiry <= limit => None,
            _ => Some(limit),
        }
    }

    /// The deadlines this state waits for under `policy`: its own, and the policy's
    /// limits on grants longer than their class allows (granted before the policy
    /// tightened, or registered from a source that bypasses ingest).
    pub fn deadlines_under(&self, policy: &crate::policy::Policy) -> Vec<Deadline> {
        let mut out = self.pending_deadlines();
        for grant in self.active_grants() {
            if let Some(due) = Self::policy_limit(grant, policy) {
                let kind = DeadlineKind::PolicyLimit;
                out.push(Deadline {
                    deadline_id: ids::deadline(kind, self.identity_id, Some(grant.grant_id), due),
                    kind,
                    identity_id: self.identity_id,
                    grant_id: Some(grant.grant_id),
                    due_time: due,
                });
            }
        }
        out
    }

    /// When the non-human credential is next due for rotation, if it rotates at all.
    pub fn rotation_due(&self) -> Option<DateTime<Utc>> {
        let period = self.attributes.rotation_period_days?;
        if !self.kind.is_non_human() || period == 0 {
            return None;
        }
        self.credential_rotated_at?
            .checked_add_signed(chrono::Duration::days(i64::from(period)))
    }

    /// The deadlines this state is waiting for, derived so they can never drift from it.
    pub fn pending_deadlines(&self) -> Vec<Deadline> {
        let mut out = Vec::new();
        if self.kind.is_non_human() && self.status.is_employed() {
            self.push_non_human_deadlines(&mut out);
        }
        let absence = [
            (
                DeadlineKind::AbsenceStart,
                self.absence_from
                    .filter(|_| self.status == IdentityStatus::Active),
            ),
            (
                DeadlineKind::AbsenceEnd,
                self.absence_until.filter(|_| {
                    self.status == IdentityStatus::OnLeave || self.absence_from.is_some()
                }),
            ),
        ];
        for (kind, due) in absence {
            if let Some(due) = due.filter(|_| self.status.is_employed()) {
                out.push(Deadline {
                    deadline_id: ids::deadline(kind, self.identity_id, None, due),
                    kind,
                    identity_id: self.identity_id,
                    grant_id: None,
                    due_time: due,
                });
            }
        }
        if let (IdentityStatus::PreHire, Some(start)) = (self.status, self.joined_at) {
            out.push(Deadline {
                deadline_id: ids::deadline(
                    DeadlineKind::JoinEffective,
                    self.identity_id,
                    None,
                    start,
                ),
                kind: DeadlineKind::JoinEffective,
                identity_id: self.identity_id,
                grant_id: None,
                due_time: start,
            });
        }
        if let (true, Some(scheduled)) = (self.status.is_employed(), &self.move_scheduled) {
            out.push(Deadline {
                deadline_id: ids::deadline(
                    DeadlineKind::MoveEffective,
                    self.identity_id,
                    None,
                    scheduled.at,
                ),
                kind: DeadlineKind::MoveEffective,
                identity_id: self.identity_id,
                grant_id: None,
                due_time: scheduled.at,
            });
        }
        let can_leave = self.status.is_employed() || self.status == IdentityStatus::PreHire;
        if let (true, Some(due)) = (can_leave, self.leave_scheduled_at) {
            out.push(Deadline {
                deadline_id: ids::deadline(
                    DeadlineKind::LeaveEffective,
                    self.identity_id,
                    None,
                    due,
                ),
                kind: DeadlineKind::LeaveEffective,
                identity_id: self.identity_id,
                grant_id: None,
                due_time: due,
            });
        }
        for grant in self.active_grants() {
            if let Some(due) = grant.revocation.expires_at {
                out.push(Deadline {
                    deadline_id: ids::deadline(
                        DeadlineKind::GrantExpiry,
                        self.identity_id,
                        Some(grant.grant_id),
                        due,
                    ),
                    kind: DeadlineKind::GrantExpiry,
                    identity_id: self.identity_id,
                    grant_id: Some(grant.grant_id),
                    due_time: due,
                });
            }
        }
        out
    }
}

pub(crate) fn merge_attributes(into: &mut Attributes, from: &Attributes) {
    let fields = [
        (&mut into.display_name, &from.display_name),
        (&mut into.department, &from.department),
        (&mut into.title, &from.title),
        (&mut into.manager_id, &from.manager_id),
        (&mut into.location, &from.location),
        (&mut into.owner, &from.owner),
        (&mut into.sponsor, &from.sponsor),
        (&mut into.credential_system, &from.credential_system),
        (&mut into.login, &from.login),
        (&mut into.email, &from.email),
    ];
    for (to, from) in fields {
        if from.is_some() {
            to.clone_from(from);
        }
    }
    for (system, name) in &from.accounts {
        if name.is_empty() {
            into.accounts.remove(system);
        } else {
            into.accounts.insert(system.clone(), name.clone());
        }
    }
    if from.credential_expires_at.is_some() {
        into.credential_expires_at = from.credential_expires_at;
    }
    if from.rotation_period_days.is_some() {
        into.rotation_period_days = from.rotation_period_days;
    }
    for name in &from.cleared {
        if let Some(value) = into.clearable_mut(name) {
            *value = None;
        }
    }
    if from.source_record.is_some() {
        into.source_record.clone_from(&from.source_record);
    }
}

/// Folds one event into an identity's state. Pure and total: an event that does not
/// fit the state (a revocation of an unknown grant, a mover after the leave) leaves
/// the state as it was, apart from the count of applied events.
pub fn apply(mut state: IdentityState, event: &LifecycleEvent) -> IdentityState {
    state.events_applied += 1;
    match &event.payload {
        EventPayload::IdentityJoined {
            kind,
            role,
            attributes,
            source_person_id,
        } => {
            if state.status == IdentityStatus::Left
                && state.left_at.is_some_and(|l| event.effective_time < l)
            {
                // A late joiner for an employment that has already ended.
            } else if !state.status.is_employed() {
                state.joined_at = Some(event.effective_time);
                state.credential_rotated_at = Some(event.effective_time);
                state.orphaned_until = None;
                state.left_at = None;
                state.left_reason = None;
                state.leave_scheduled_at = None;
                state.status = if event.is_effective_when_recorded() {
                    IdentityStatus::Active
                } else {
                    IdentityStatus::PreHire
                };
            }
            state.kind = *kind;
            state.role = Some(role.clone());
            state.source_person_id = Some(source_person_id.clone());
            merge_attributes(&mut state.attributes, attributes);
        }
        EventPayload::IdentityMoved {
            role,
            attributes,
            kind,
        } => {
            if !event.is_effective_when_recorded() && state.status.is_employed() {
                state.move_scheduled = Some(ScheduledMove {
                    at: event.effective_time,
                    role: role.clone(),
                    attributes: attributes.clone(),
                    kind: *kind,
                });
            } else {
                if let Some(kind) = kind {
                    state.kind = *kind;
                }
                // Naming a different owner adopts an orphaned non-human identity.
                if attributes
                    .owner
                    .as_ref()
                    .is_some_and(|o| state.attributes.owner.as_ref() != Some(o))
                {
                    state.orphaned_until = None;
                }
                merge_attributes(&mut state.attributes, attributes);
                if state.status.is_employed() || state.status == IdentityStatus::PreHire {
                    state.role = Some(role.clone());
                }
            }
        }
        EventPayload::IdentityLeft { reason } => {
            if state.status == IdentityStatus::Left
                && !state.predates_employment(event)
                && event.is_effective_when_recorded()
            {
                // Left already: the source's latest word on why (deleted, say) stands.
                state.left_reason = Some(reason.clone());
            } else if state.status != IdentityStatus::Left && !state.predates_employment(event) {
                if event.is_effective_when_recorded() {
                    state.status = IdentityStatus::Left;
                    state.left_at = Some(event.effective_time);
                    state.left_reason = Some(reason.clone());
                    state.leave_scheduled_at = None;
                } else {
                    state.leave_scheduled_at = Some(event.effective_time);
                }
            }
        }
        EventPayload::LeaveOfAbsenceStarted { .. } => {
            if !event.is_effective_when_recorded() && state.status.is_employed() {
                state.absence_from = Some(event.effective_time);
            } else if state.status == IdentityStatus::Active {
                state.status = IdentityStatus::OnLeave;
            }
        }
        EventPayload::LeaveOfAbsenceEnded => {
            if !event.is_effective_when_recorded() && state.status.is_employed() {
                state.absence_until = Some(event.effective_time);
            } else if state.status == IdentityStatus::OnLeave {
                state.status = IdentityStatus::Active;
                state.absence_until = None;
            }
        }
        EventPayload::DeadlineReached { kind, due_time, .. } => match kind {
            DeadlineKind::LeaveEffective
                if state.status != IdentityStatus::Left
                    && same_instant(state.leave_scheduled_at, *due_time) =>
            {
                state.status = IdentityStatus::Left;
                state.left_at = Some(*due_time);
                state.leave_scheduled_at = None;
            }
            DeadlineKind::MoveEffective
                if state.status.is_employed()
                    && same_instant(state.move_scheduled.as_ref().map(|m| m.at), *due_time) =>
            {
                if let Some(scheduled) = state.move_scheduled.take() {
                    if let Some(kind) = scheduled.kind {
                        state.kind = kind;
                    }
                    if scheduled
                        .attributes
                        .owner
                        .as_ref()
                        .is_some_and(|o| state.attributes.owner.as_ref() != Some(o))
                    {
                        state.orphaned_until = None;
                    }
                    merge_attributes(&mut state.attributes, &scheduled.attributes);
                    state.role = Some(scheduled.role);
                }
            }
            DeadlineKind::JoinEffective
                if state.status == IdentityStatus::PreHire
                    && same_instant(state.joined_at, *due_time) =>
            {
                state.status = IdentityStatus::Active;
            }
            DeadlineKind::AbsenceStart if same_instant(state.absence_from, *due_time) => {
                state.absence_from = None;
                if state.status == IdentityStatus::Active {
                    state.status = IdentityStatus::OnLeave;
                }
            }
            DeadlineKind::AbsenceEnd if same_instant(state.absence_until, *due_time) => {
                state.absence_until = None;
                if state.status == IdentityStatus::OnLeave {
                    state.status = IdentityStatus::Active;
                }
            }
            DeadlineKind::CredentialExpiry | DeadlineKind::OrphanGrace
                if state.ends_non_human_at(*kind, *due_time) =>
            {
                state.status = IdentityStatus::Left;
                state.left_at = Some(*due_time);
                state.orphaned_until = None;
            }
            _ => {}
        },
        EventPayload::AccessGranted {
            grant_id,
            entitlement,
            owner,
            business_reason,
            revocation,
            origin,
        } => {
            state.grants.entry(*grant_id).or_insert_with(|| Grant {
                grant_id: *grant_id,
                entitlement: entitlement.clone(),
                owner: owner.clone(),
                business_reason: business_reason.clone(),
                revocation: revocation.clone(),
                origin: origin.clone(),
                granted_at: event.effective_time,
                status: GrantStatus::Active,
                failed_attempts: 0,
                escalated: false,
                suspended: false,
                held_by_brake: false,
                found_not_removed: 0,
            });
        }
        EventPayload::RevocationIssued {
            grant_id,
            command_id,
            cause,
        } => {
            if let Some(grant) = state.grants.get_mut(grant_id).filter(|g| g.is_active()) {
                grant.status = GrantStatus::RevocationPending {
                    command_id: *command_id,
                    cause: *cause,
                    since: event.effective_time,
                };
            }
        }
        EventPayload::AccessRevoked {
            grant_id,
            command_id,
            ..
        } => {
            // Only a revocation Tenure decided can be confirmed: a report for a grant
            // with none pending (or for no grant at all) takes nothing away in
            // Tenure's records, live or on replay, since nobody was asked to.
            match state.grants.get_mut(grant_id).map(|g| (g.status.clone(), g)) {
                Some((GrantStatus::RevocationPending { cause, .. }, grant)) => {
                    grant.status = GrantStatus::Revoked {
                        command_id: *command_id,
                        cause: Some(cause),
                        revoked_at: event.effective_time,
                    };
                    grant.held_by_brake = false;
                }
                Some((GrantStatus::Revoked { .. }, _)) => {}
                Some((GrantStatus::Active, _)) | None => state.unmatched_acknowledgements += 1,
            }
        }
        EventPayload::CommandFailed {
            grant_id,
            status,
            command_type: CommandType::Revoke,
            ..
        } => {
            if let Some(grant) = state.grants.get_mut(grant_id) {
                grant.failed_attempts += 1;
                grant.escalated |= *status == CommandStatus::FailedPermanent;
            }
        }
        EventPayload::CommandFailed { .. }
        | EventPayload::AccessRequestChanged { .. }
        | EventPayload::CommandCompleted { .. } => {}
        EventPayload::AccessSuspended { grant_id, .. } => {
            if let Some(grant) = state.grants.get_mut(grant_id).filter(|g| g.is_active()) {
                grant.suspended = true;
            }
        }
        EventPayload::AccessRestored { grant_id, .. } => {
            if let Some(grant) = state.grants.get_mut(grant_id) {
                grant.suspended = false;
            }
        }
        EventPayload::CredentialRotationIssued { due_time, .. } => {
            // A deadline fired late (the scheduler was down) counts the rotation from
            // when it was asked for, so a backlog yields one rotation, not several.
            if state.kind.is_non_human() {
                state.credential_rotated_at = Some((*due_time).max(event.recorded_time));
            }
        }
        EventPayload::RevocationHeld {
            grant_id,
            command_id,
            ..
        } => {
            if let Some(grant) = state.grants.get_mut(grant_id).filter(|g| {
                matches!(g.status, GrantStatus::RevocationPending { command_id: c, .. } if c == *command_id)
            }) {
                grant.held_by_brake = true;
            }
        }
        EventPayload::RevocationReleased {
            grant_id,
            command_id,
            ..
        } => {
            if let Some(grant) = state.grants.get_mut(grant_id).filter(|g| {
                matches!(g.status, GrantStatus::RevocationPending { command_id: c, .. } if c == *command_id)
            }) {
                grant.held_by_brake = false;
            }
        }
        EventPayload::CommandRepublished { .. } => {}
        EventPayload::AccessDiscrepancyFound {
            kind: DiscrepancyKind::NotRemoved,
            grant_id,
            ..
        } => {
            if let Some(grant) = state.grants.get_mut(grant_id) {
                grant.found_not_removed = grant.found_not_removed.saturating_add(1);
            }
        }
        // Other findings are reported, not folded: Tenure's grants stay as granted.
        EventPayload::AccessDiscrepancyFound { .. } => {}
        EventPayload::CommandEscalated { grant_id, .. } => {
            if let Some(grant) = state.grants.get_mut(grant_id)
                && !matches!(grant.status, GrantStatus::Revoked { .. })
            {
                grant.escalated = true;
            }
        }
        EventPayload::OwnerLeft { owner, grace_until } => {
            if state.kind.is_non_human()
                && state.status.is_employed()
                && state.attributes.owner.as_ref() == Some(owner)
                && state.orphaned_until.is_none()
            {
                state.orphaned_until = Some(*grace_until);
            }
        }
    }
    state
}
