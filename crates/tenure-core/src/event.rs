//! Lifecycle events: the facts on the log, as the domain sees them.

use crate::ids::{CommandId, EventId, GrantId, IdentityId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::*;

/// One fact on the lifecycle log, with the envelope every consumer needs to order,
/// deduplicate and explain it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    pub event_id: EventId,
    pub identity_id: IdentityId,
    pub effective_time: DateTime<Utc>,
    pub recorded_time: DateTime<Utc>,
    pub source_system: String,
    pub source_event_id: String,
    pub causation_id: Option<Uuid>,
    pub payload: EventPayload,
}

impl LifecycleEvent {
    /// True when the fact is already in effect at the time it was recorded;
    /// a future-dated fact waits for its deadline instead. Uses only data in the
    /// event, never the clock, so replays decide the same way.
    pub fn is_effective_when_recorded(&self) -> bool {
        self.effective_time <= self.recorded_time
    }
}

/// What happened. Variants are only ever added (the protobuf `oneof` mirrors them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventPayload {
    IdentityJoined {
        kind: IdentityKind,
        role: String,
        attributes: Attributes,
        source_person_id: String,
    },
    IdentityMoved {
        role: String,
        attributes: Attributes,
        /// Set by a conversion (contractor to employee and back).
        #[serde(default)]
        kind: Option<IdentityKind>,
    },
    IdentityLeft {
        reason: String,
    },
    LeaveOfAbsenceStarted {
        reason: String,
    },
    LeaveOfAbsenceEnded,
    AccessGranted {
        grant_id: GrantId,
        entitlement: Entitlement,
        owner: String,
        business_reason: String,
        revocation: RevocationCondition,
        origin: GrantOrigin,
    },
    RevocationIssued {
        grant_id: GrantId,
        command_id: CommandId,
        cause: RevocationCause,
    },
    AccessRevoked {
        grant_id: GrantId,
        command_id: CommandId,
        status: CommandStatus,
        connector: String,
        detail: String,
    },
    CommandFailed {
        grant_id: GrantId,
        command_id: CommandId,
        status: CommandStatus,
        command_type: CommandType,
        connector: String,
        detail: String,
    },
    DeadlineReached {
        kind: DeadlineKind,
        grant_id: Option<GrantId>,
        due_time: DateTime<Utc>,
    },
    /// The reactor suspended a grant for a leave of absence (a command was issued).
    AccessSuspended {
        grant_id: GrantId,
        command_id: CommandId,
    },
    /// The reactor gave a suspended grant back on return from leave.
    AccessRestored {
        grant_id: GrantId,
        command_id: CommandId,
    },
    /// The reactor asked for a non-human credential due at `due_time` to be rotated.
    CredentialRotationIssued {
        command_id: CommandId,
        due_time: DateTime<Utc>,
    },
    /// A connector carried out a command that is not a revocation (a grant, a
    /// suspension, a restoration or a rotation): it closes the command's tracking.
    CommandCompleted {
        grant_id: GrantId,
        command_id: CommandId,
        command_type: CommandType,
        status: CommandStatus,
        connector: String,
    },
    /// An access request moved in the ITSM tool (its fulfilment is `AccessGranted`);
    /// recorded for audit and request-to-fulfilment times, it grants nothing.
    AccessRequestChanged {
        request_id: String,
        state: RequestState,
        entitlement: Option<Entitlement>,
        owner: Option<String>,
        /// The business reason, or why it was rejected or cancelled.
        detail: String,
    },
    /// The person owning this non-human identity left; unless a new owner is named
    /// before `grace_until`, the identity's access is revoked.
    OwnerLeft {
        owner: String,
        grace_until: DateTime<Utc>,
    },
    /// The safety brake held a revocation back from its connector until an operator
    /// reviews it (the grant stays pending; nobody has taken the access away yet).
    RevocationHeld {
        grant_id: GrantId,
        command_id: CommandId,
        reason: String,
    },
    /// An operator released a held revocation to its connector: `actor` decided it,
    /// for `reason`, so an audit can say who let a mass revocation through.
    RevocationReleased {
        grant_id: GrantId,
        command_id: CommandId,
        actor: String,
        reason: String,
    },
    /// A tracked command stayed unacknowledged and was published again, with the same
    /// id; `attempt` counts its publications (the first retry is attempt 2). The grant
    /// is nil for a credential rotation.
    CommandRepublished {
        grant_id: GrantId,
        command_id: CommandId,
        attempt: u32,
    },
    /// A tracked command will not be tried again (its connector failed for good, or
    /// never answered): a person must finish it. The grant is nil for a rotation.
    CommandEscalated {
        grant_id: GrantId,
        command_id: CommandId,
        reason: String,
    },
    /// Reconciliation found the target system holding other access than Tenure
    /// granted (see [`crate::reconcile`]). The grant is nil for out-of-band access.
    AccessDiscrepancyFound {
        observation_id: uuid::Uuid,
        kind: DiscrepancyKind,
        account: String,
        entitlement: Entitlement,
        grant_id: GrantId,
        connector: String,
    },
}

impl EventPayload {
    /// The stable snake_case name of the variant, for logs, SQL and CloudEvents `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventPayload::IdentityJoined { .. } => "identity_joined",
            EventPayload::IdentityMoved { .. } => "identity_moved",
            EventPayload::IdentityLeft { .. } => "identity_left",
            EventPayload::LeaveOfAbsenceStarted { .. } => "leave_of_absence_started",
            EventPayload::LeaveOfAbsenceEnded => "leave_of_absence_ended",
            EventPayload::AccessGranted { .. } => "access_granted",
            EventPayload::RevocationIssued { .. } => "revocation_issued",
            EventPayload::AccessRevoked { .. } => "access_revoked",
            EventPayload::CommandFailed { .. } => "command_failed",
            EventPayload::DeadlineReached { .. } => "deadline_reached",
            EventPayload::AccessSuspended { .. } => "access_suspended",
            EventPayload::AccessRestored { .. } => "access_restored",
            EventPayload::CredentialRotationIssued { .. } => "credential_rotation_issued",
            EventPayload::OwnerLeft { .. } => "owner_left",
            EventPayload::AccessRequestChanged { .. } => "access_request_changed",
            EventPayload::CommandCompleted { .. } => "command_completed",
            EventPayload::RevocationHeld { .. } => "revocation_held",
            EventPayload::RevocationReleased { .. } => "revocation_released",
            EventPayload::CommandRepublished { .. } => "command_republished",
            EventPayload::CommandEscalated { .. } => "command_escalated",
            EventPayload::AccessDiscrepancyFound { .. } => "access_discrepancy_found",
        }
    }
}
