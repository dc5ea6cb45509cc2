//! Mapping between `tenure-core` types and their protobuf form.

use chrono::{DateTime, Utc};
use prost::Message;
use prost_types::Timestamp;
use tenure_core::{self as core, EventPayload, LifecycleEvent};
use uuid::Uuid;

use crate::v1;

/// Why bytes from a topic could not be read as a Tenure message. The message is
/// malformed, not the consumer: route it to a dead-letter topic, never retry it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a valid protobuf message: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("field {0} is required but missing")]
    Missing(&'static str),
    #[error("field {field} is not a UUID: {value:?}")]
    BadUuid { field: &'static str, value: String },
    #[error("field {field} holds an unknown or unspecified value {value}")]
    BadEnum { field: &'static str, value: i32 },
    #[error("field {0} holds an impossible timestamp")]
    BadTime(&'static str),
    #[error("ce_type {0:?} is not a Tenure command type")]
    UnknownCommandType(String),
}

pub(crate) fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub(crate) fn from_ts(
    t: Option<Timestamp>,
    field: &'static str,
) -> Result<DateTime<Utc>, DecodeError> {
    let t = t.ok_or(DecodeError::Missing(field))?;
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32).ok_or(DecodeError::BadTime(field))
}

/// Any of the core's id types (or a plain UUID) from its text on the wire.
pub(crate) fn uuid<T: From<Uuid>>(value: &str, field: &'static str) -> Result<T, DecodeError> {
    Uuid::parse_str(value)
        .map(T::from)
        .map_err(|_| DecodeError::BadUuid {
            field,
            value: value.to_owned(),
        })
}

fn opt_uuid<T: From<Uuid>>(value: &str, field: &'static str) -> Result<Option<T>, DecodeError> {
    if value.is_empty() {
        Ok(None)
    } else {
        uuid(value, field).map(Some)
    }
}

fn opt_string(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

pub(crate) fn entitlement_to(e: &core::Entitlement) -> v1::Entitlement {
    v1::Entitlement {
        system: e.system.clone(),
        resource: e.resource.clone(),
        permission: e.permission.clone(),
    }
}

pub(crate) fn entitlement_from(
    e: Option<v1::Entitlement>,
) -> Result<core::Entitlement, DecodeError> {
    let e = e.ok_or(DecodeError::Missing("entitlement"))?;
    Ok(core::Entitlement {
        system: e.system,
        resource: e.resource,
        permission: e.permission,
    })
}

fn attributes_to(a: &core::Attributes) -> v1::IdentityAttributes {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    v1::IdentityAttributes {
        display_name: s(&a.display_name),
        department: s(&a.department),
        title: s(&a.title),
        manager_id: s(&a.manager_id),
        location: s(&a.location),
        owner: s(&a.owner),
        sponsor: s(&a.sponsor),
        credential_system: s(&a.credential_system),
        credential_expires_at: a.credential_expires_at.map(ts),
        rotation_period_days: a.rotation_period_days.unwrap_or(0),
        login: s(&a.login),
        email: s(&a.email),
        accounts: a
            .accounts
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        source_record: s(&a.source_record),
        cleared: a.cleared.clone(),
    }
}

fn attributes_from(a: Option<v1::IdentityAttributes>) -> Result<core::Attributes, DecodeError> {
    let a = a.unwrap_or_default();
    Ok(core::Attributes {
        display_name: opt_string(&a.display_name),
        department: opt_string(&a.department),
        title: opt_string(&a.title),
        manager_id: opt_string(&a.manager_id),
        location: opt_string(&a.location),
        owner: opt_string(&a.owner),
        sponsor: opt_string(&a.sponsor),
        credential_system: opt_string(&a.credential_system),
        credential_expires_at: a
            .credential_expires_at
            .map(|t| from_ts(Some(t), "credential_expires_at"))
            .transpose()?,
        rotation_period_days: (a.rotation_period_days > 0).then_some(a.rotation_period_days),
        login: opt_string(&a.login),
        email: opt_string(&a.email),
        accounts: a.accounts.into_iter().collect(),
        source_record: opt_string(&a.source_record),
        cleared: a.cleared,
    })
}

fn kind_to(k: core::IdentityKind) -> v1::IdentityKind {
    match k {
        core::IdentityKind::Employee => v1::IdentityKind::Employee,
        core::IdentityKind::Contractor => v1::IdentityKind::Contractor,
        core::IdentityKind::ServiceAccount => v1::IdentityKind::ServiceAccount,
        core::IdentityKind::ApiKey => v1::IdentityKind::ApiKey,
        core::IdentityKind::Agent => v1::IdentityKind::Agent,
    }
}

fn kind_from(value: i32) -> Result<core::IdentityKind, DecodeError> {
    Ok(match v1::IdentityKind::try_from(value) {
        Ok(v1::IdentityKind::Employee) => core::IdentityKind::Employee,
        Ok(v1::IdentityKind::Contractor) => core::IdentityKind::Contractor,
        Ok(v1::IdentityKind::ServiceAccount) => core::IdentityKind::ServiceAccount,
        Ok(v1::IdentityKind::ApiKey) => core::IdentityKind::ApiKey,
        Ok(v1::IdentityKind::Agent) => core::IdentityKind::Agent,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "kind",
                value,
            });
        }
    })
}

fn cause_to(c: core::RevocationCause) -> v1::RevocationCause {
    match c {
        core::RevocationCause::Leaver => v1::RevocationCause::Leaver,
        core::RevocationCause::Mover => v1::RevocationCause::Mover,
        core::RevocationCause::Expiry => v1::RevocationCause::Expiry,
        core::RevocationCause::OrphanedOwner => v1::RevocationCause::OrphanedOwner,
        core::RevocationCause::Policy => v1::RevocationCause::Policy,
        core::RevocationCause::Reconciliation => v1::RevocationCause::Reconciliation,
    }
}

fn discrepancy_to(k: core::DiscrepancyKind) -> v1::DiscrepancyKind {
    match k {
        core::DiscrepancyKind::OutOfBand => v1::DiscrepancyKind::OutOfBand,
        core::DiscrepancyKind::NotRemoved => v1::DiscrepancyKind::NotRemoved,
        core::DiscrepancyKind::Missing => v1::DiscrepancyKind::Missing,
    }
}

fn discrepancy_from(value: i32) -> Result<core::DiscrepancyKind, DecodeError> {
    Ok(match v1::DiscrepancyKind::try_from(value) {
        Ok(v1::DiscrepancyKind::OutOfBand) => core::DiscrepancyKind::OutOfBand,
        Ok(v1::DiscrepancyKind::NotRemoved) => core::DiscrepancyKind::NotRemoved,
        Ok(v1::DiscrepancyKind::Missing) => core::DiscrepancyKind::Missing,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "kind",
                value,
            });
        }
    })
}

fn cause_from(value: i32) -> Result<core::RevocationCause, DecodeError> {
    Ok(match v1::RevocationCause::try_from(value) {
        Ok(v1::RevocationCause::Leaver) => core::RevocationCause::Leaver,
        Ok(v1::RevocationCause::Mover) => core::RevocationCause::Mover,
        Ok(v1::RevocationCause::Expiry) => core::RevocationCause::Expiry,
        Ok(v1::RevocationCause::OrphanedOwner) => core::RevocationCause::OrphanedOwner,
        Ok(v1::RevocationCause::Policy) => core::RevocationCause::Policy,
        Ok(v1::RevocationCause::Reconciliation) => core::RevocationCause::Reconciliation,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "cause",
                value,
            });
        }
    })
}

fn status_to(s: core::CommandStatus) -> v1::CommandStatus {
    match s {
        core::CommandStatus::Done => v1::CommandStatus::Done,
        core::CommandStatus::AlreadyAbsent => v1::CommandStatus::AlreadyAbsent,
        core::CommandStatus::FailedRetryable => v1::CommandStatus::FailedRetryable,
        core::CommandStatus::FailedPermanent => v1::CommandStatus::FailedPermanent,
    }
}

fn status_from(value: i32) -> Result<core::CommandStatus, DecodeError> {
    Ok(match v1::CommandStatus::try_from(value) {
        Ok(v1::CommandStatus::Done) => core::CommandStatus::Done,
        Ok(v1::CommandStatus::AlreadyAbsent) => core::CommandStatus::AlreadyAbsent,
        Ok(v1::CommandStatus::FailedRetryable) => core::CommandStatus::FailedRetryable,
        Ok(v1::CommandStatus::FailedPermanent) => core::CommandStatus::FailedPermanent,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "status",
                value,
            });
        }
    })
}

fn command_type_to(t: core::CommandType) -> v1::CommandType {
    match t {
        core::CommandType::Revoke => v1::CommandType::Revoke,
        core::CommandType::Grant => v1::CommandType::Grant,
        core::CommandType::Suspend => v1::CommandType::Suspend,
        core::CommandType::Restore => v1::CommandType::Restore,
        core::CommandType::Rotate => v1::CommandType::Rotate,
    }
}

fn command_type_from(value: i32) -> Result<core::CommandType, DecodeError> {
    Ok(match v1::CommandType::try_from(value) {
        Ok(v1::CommandType::Revoke) => core::CommandType::Revoke,
        Ok(v1::CommandType::Grant) => core::CommandType::Grant,
        Ok(v1::CommandType::Suspend) => core::CommandType::Suspend,
        Ok(v1::CommandType::Restore) => core::CommandType::Restore,
        Ok(v1::CommandType::Rotate) => core::CommandType::Rotate,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "command_type",
                value,
            });
        }
    })
}

fn deadline_kind_to(k: core::DeadlineKind) -> v1::DeadlineKind {
    match k {
        core::DeadlineKind::LeaveEffective => v1::DeadlineKind::LeaveEffective,
        core::DeadlineKind::GrantExpiry => v1::DeadlineKind::GrantExpiry,
        core::DeadlineKind::JoinEffective => v1::DeadlineKind::JoinEffective,
        core::DeadlineKind::MoveEffective => v1::DeadlineKind::MoveEffective,
        core::DeadlineKind::CredentialRotation => v1::DeadlineKind::CredentialRotation,
        core::DeadlineKind::CredentialExpiry => v1::DeadlineKind::CredentialExpiry,
        core::DeadlineKind::OrphanGrace => v1::DeadlineKind::OrphanGrace,
        core::DeadlineKind::PolicyLimit => v1::DeadlineKind::PolicyLimit,
        core::DeadlineKind::AbsenceStart => v1::DeadlineKind::AbsenceStart,
        core::DeadlineKind::AbsenceEnd => v1::DeadlineKind::AbsenceEnd,
    }
}

fn deadline_kind_from(value: i32) -> Result<core::DeadlineKind, DecodeError> {
    Ok(match v1::DeadlineKind::try_from(value) {
        Ok(v1::DeadlineKind::LeaveEffective) => core::DeadlineKind::LeaveEffective,
        Ok(v1::DeadlineKind::GrantExpiry) => core::DeadlineKind::GrantExpiry,
        Ok(v1::DeadlineKind::JoinEffective) => core::DeadlineKind::JoinEffective,
        Ok(v1::DeadlineKind::MoveEffective) => core::DeadlineKind::MoveEffective,
        Ok(v1::DeadlineKind::CredentialRotation) => core::DeadlineKind::CredentialRotation,
        Ok(v1::DeadlineKind::CredentialExpiry) => core::DeadlineKind::CredentialExpiry,
        Ok(v1::DeadlineKind::OrphanGrace) => core::DeadlineKind::OrphanGrace,
        Ok(v1::DeadlineKind::PolicyLimit) => core::DeadlineKind::PolicyLimit,
        Ok(v1::DeadlineKind::AbsenceStart) => core::DeadlineKind::AbsenceStart,
        Ok(v1::DeadlineKind::AbsenceEnd) => core::DeadlineKind::AbsenceEnd,
        _ => {
            return Err(DecodeError::BadEnum {
                field: "deadline kind",
                value,
            });
        }
    })
}

fn payload_to(p: &EventPayload) -> v1::lifecycle_event::Payload {
    use v1::lifecycle_event::Payload as P;
    match p {
        EventPayload::IdentityJoined {
            kind,
            role,
            attributes,
            source_person_id,
        } => P::IdentityJoined(v1::IdentityJoined {
            kind: kind_to(*kind) as i32,
            role: role.clone(),
            attributes: Some(attributes_to(attributes)),
            source_person_id: source_person_id.clone(),
        }),
        EventPayload::IdentityMoved {
            role,
            attributes,
            kind,
        } => P::IdentityMoved(v1::IdentityMoved {
            role: role.clone(),
            attributes: Some(attributes_to(attributes)),
            kind: kind.map_or(v1::IdentityKind::Unspecified, kind_to) as i32,
        }),
        EventPayload::IdentityLeft { reason } => P::IdentityLeft(v1::IdentityLeft {
            reason: reason.clone(),
        }),
        EventPayload::LeaveOfAbsenceStarted { reason } => {
            P::LeaveOfAbsenceStarted(v1::LeaveOfAbsenceStarted {
                reason: reason.clone(),
            })
        }
        EventPayload::LeaveOfAbsenceEnded => P::LeaveOfAbsenceEnded(v1::LeaveOfAbsenceEnded {}),
        EventPayload::AccessGranted {
            grant_id,
            entitlement,
            owner,
            business_reason,
            revocation,
            origin,
        } => P::AccessGranted(v1::AccessGranted {
            grant_id: grant_id.to_string(),
            entitlement: Some(entitlement_to(entitlement)),
            owner: owner.clone(),
            business_reason: business_reason.clone(),
            revocation: Some(revocation_to(revocation)),
            origin: Some(match origin {
                core::GrantOrigin::Birthright { role } => {
                    v1::access_granted::Origin::BirthrightRole(role.clone())
                }
                core::GrantOrigin::Request { request_id } => {
                    v1::access_granted::Origin::RequestId(request_id.clone())
                }
            }),
        }),
        EventPayload::RevocationIssued {
            grant_id,
            command_id,
            cause,
        } => P::RevocationIssued(v1::RevocationIssued {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
            cause: cause_to(*cause) as i32,
        }),
        EventPayload::AccessRevoked {
            grant_id,
            command_id,
            status,
            connector,
            detail,
        } => P::AccessRevoked(v1::AccessRevoked {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
            status: status_to(*status) as i32,
            connector: connector.clone(),
            detail: detail.clone(),
        }),
        EventPayload::CommandFailed {
            grant_id,
            command_id,
            status,
            command_type,
            connector,
            detail,
        } => P::CommandFailed(v1::CommandFailed {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
            status: status_to(*status) as i32,
            connector: connector.clone(),
            detail: detail.clone(),
            command_type: command_type_to(*command_type) as i32,
        }),
        EventPayload::DeadlineReached {
            kind,
            grant_id,
            due_time,
        } => P::DeadlineReached(v1::DeadlineReached {
            kind: deadline_kind_to(*kind) as i32,
            grant_id: grant_id.map(|g| g.to_string()).unwrap_or_default(),
            due_time: Some(ts(*due_time)),
        }),
        EventPayload::AccessSuspended {
            grant_id,
            command_id,
        } => P::AccessSuspended(v1::AccessSuspended {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
        }),
        EventPayload::AccessRestored {
            grant_id,
            command_id,
        } => P::AccessRestored(v1::AccessRestored {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
        }),
        EventPayload::CredentialRotationIssued {
            command_id,
            due_time,
        } => P::CredentialRotationIssued(v1::CredentialRotationIssued {
            command_id: command_id.to_string(),
            due_time: Some(ts(*due_time)),
        }),
        EventPayload::AccessRequestChanged {
            request_id,
            state,
            entitlement,
            owner,
            detail,
        } => P::AccessRequestChanged(v1::AccessRequestChanged {
            request_id: request_id.clone(),
            state: match state {
                core::RequestState::Requested => v1::RequestState::Requested,
                core::RequestState::Approved => v1::RequestState::Approved,
                core::RequestState::Rejected => v1::RequestState::Rejected,
                core::RequestState::Cancelled => v1::RequestState::Cancelled,
            } as i32,
            entitlement: entitlement.as_ref().map(entitlement_to),
            owner: owner.clone().unwrap_or_default(),
            detail: detail.clone(),
        }),
        EventPayload::CommandCompleted {
            grant_id,
            command_id,
            command_type,
            status,
            connector,
        } => P::CommandCompleted(v1::CommandCompleted {
            grant_id: if grant_id.is_nil() {
                String::new()
            } else {
                grant_id.to_string()
            },
            command_id: command_id.to_string(),
            command_type: command_type_to(*command_type) as i32,
            status: status_to(*status) as i32,
            connector: connector.clone(),
        }),
        EventPayload::OwnerLeft { owner, grace_until } => P::OwnerLeft(v1::OwnerLeft {
            owner: owner.clone(),
            grace_until: Some(ts(*grace_until)),
        }),
        EventPayload::RevocationHeld {
            grant_id,
            command_id,
            reason,
        } => P::RevocationHeld(v1::RevocationHeld {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
            reason: reason.clone(),
        }),
        EventPayload::RevocationReleased {
            grant_id,
            command_id,
            actor,
            reason,
        } => P::RevocationReleased(v1::RevocationReleased {
            grant_id: grant_id.to_string(),
            command_id: command_id.to_string(),
            actor: actor.clone(),
            reason: reason.clone(),
        }),
        EventPayload::CommandRepublished {
            grant_id,
            command_id,
            attempt,
        } => P::CommandRepublished(v1::CommandRepublished {
            grant_id: optional_grant(grant_id),
            command_id: command_id.to_string(),
            attempt: *attempt,
        }),
        EventPayload::CommandEscalated {
            grant_id,
            command_id,
            reason,
        } => P::CommandEscalated(v1::CommandEscalated {
            grant_id: optional_grant(grant_id),
            command_id: command_id.to_string(),
            reason: reason.clone(),
        }),
        EventPayload::AccessDiscrepancyFound {
            observation_id,
            kind,
            account,
            entitlement,
            grant_id,
            connector,
        } => P::AccessDiscrepancyFound(v1::AccessDiscrepancyFound {
            observation_id: observation_id.to_string(),
            kind: discrepancy_to(*kind) as i32,
            account: account.clone(),
            entitlement: Some(entitlement_to(entitlement)),
            grant_id: optional_grant(grant_id),
            connector: connector.clone(),
        }),
    }
}

/// A grant id on the wire: empty for the nil id of a command that names no grant.
fn optional_grant(grant_id: &core::GrantId) -> String {
    if grant_id.is_nil() {
        String::new()
    } else {
        grant_id.to_string()
    }
}

fn payload_from(p: v1::lifecycle_event::Payload) -> Result<EventPayload, DecodeError> {
    use v1::lifecycle_event::Payload as P;
    Ok(match p {
        P::IdentityJoined(j) => EventPayload::IdentityJoined {
            kind: kind_from(j.kind)?,
            role: j.role,
            attributes: attributes_from(j.attributes)?,
            source_person_id: j.source_person_id,
        },
        P::IdentityMoved(m) => EventPayload::IdentityMoved {
            kind: (m.kind != v1::IdentityKind::Unspecified as i32)
                .then(|| kind_from(m.kind))
                .transpose()?,
            role: m.role,
            attributes: attributes_from(m.attributes)?,
        },
        P::IdentityLeft(l) => EventPayload::IdentityLeft { reason: l.reason },
        P::LeaveOfAbsenceStarted(l) => EventPayload::LeaveOfAbsenceStarted { reason: l.reason },
        P::LeaveOfAbsenceEnded(_) => EventPayload::LeaveOfAbsenceEnded,
        P::AccessGranted(g) => {
            let revocation = g.revocation.ok_or(DecodeError::Missing("revocation"))?;
            EventPayload::AccessGranted {
                grant_id: uuid(&g.grant_id, "grant_id")?,
                entitlement: entitlement_from(g.entitlement)?,
                owner: g.owner,
                business_reason: g.business_reason,
                revocation: revocation_from(Some(revocation))?,
                origin: match g.origin.ok_or(DecodeError::Missing("origin"))? {
                    v1::access_granted::Origin::BirthrightRole(role) => {
                        core::GrantOrigin::Birthright { role }
                    }
                    v1::access_granted::Origin::RequestId(request_id) => {
                        core::GrantOrigin::Request { request_id }
                    }
                },
            }
        }
        P::RevocationIssued(r) => EventPayload::RevocationIssued {
            grant_id: uuid(&r.grant_id, "grant_id")?,
            command_id: uuid(&r.command_id, "command_id")?,
            cause: cause_from(r.cause)?,
        },
        P::AccessRevoked(r) => EventPayload::AccessRevoked {
            grant_id: uuid(&r.grant_id, "grant_id")?,
            command_id: uuid(&r.command_id, "command_id")?,
            status: status_from(r.status)?,
            connector: r.connector,
            detail: r.detail,
        },
        P::CommandFailed(f) => EventPayload::CommandFailed {
            // A rotation has no grant: its outcomes carry the nil id.
            grant_id: opt_uuid(&f.grant_id, "grant_id")?.unwrap_or_default(),
            command_id: uuid(&f.command_id, "command_id")?,
            status: status_from(f.status)?,
            command_type: command_type_from(f.command_type)?,
            connector: f.connector,
            detail: f.detail,
        },
        P::DeadlineReached(d) => EventPayload::DeadlineReached {
            kind: deadline_kind_from(d.kind)?,
            grant_id: opt_uuid(&d.grant_id, "grant_id")?,
            due_time: from_ts(d.due_time, "due_time")?,
        },
        P::AccessSuspended(s) => EventPayload::AccessSuspended {
            grant_id: uuid(&s.grant_id, "grant_id")?,
            command_id: uuid(&s.command_id, "command_id")?,
        },
        P::AccessRestored(s) => EventPayload::AccessRestored {
            grant_id: uuid(&s.grant_id, "grant_id")?,
            command_id: uuid(&s.command_id, "command_id")?,
        },
        P::CredentialRotationIssued(r) => EventPayload::CredentialRotationIssued {
            command_id: uuid(&r.command_id, "command_id")?,
            due_time: from_ts(r.due_time, "due_time")?,
        },
        P::AccessRequestChanged(r) => EventPayload::AccessRequestChanged {
            state: match v1::RequestState::try_from(r.state) {
                Ok(v1::RequestState::Requested) => core::RequestState::Requested,
                Ok(v1::RequestState::Approved) => core::RequestState::Approved,
                Ok(v1::RequestState::Rejected) => core::RequestState::Rejected,
                Ok(v1::RequestState::Cancelled) => core::RequestState::Cancelled,
                _ => {
                    return Err(DecodeError::BadEnum {
                        field: "request state",
                        value: r.state,
                    });
                }
            },
            request_id: r.request_id,
            entitlement: r
                .entitlement
                .map(|e| entitlement_from(Some(e)))
                .transpose()?,
            owner: opt_string(&r.owner),
            detail: r.detail,
        },
        P::CommandCompleted(c) => EventPayload::CommandCompleted {
            grant_id: opt_uuid(&c.grant_id, "grant_id")?.unwrap_or_default(),
            command_id: uuid(&c.command_id, "command_id")?,
            command_type: command_type_from(c.command_type)?,
            status: status_from(c.status)?,
            connector: c.connector,
        },
        P::OwnerLeft(o) => EventPayload::OwnerLeft {
            owner: o.owner,
            grace_until: from_ts(o.grace_until, "grace_until")?,
        },
        P::RevocationHeld(h) => EventPayload::RevocationHeld {
            grant_id: uuid(&h.grant_id, "grant_id")?,
            command_id: uuid(&h.command_id, "command_id")?,
            reason: h.reason,
        },
        P::RevocationReleased(r) => EventPayload::RevocationReleased {
            grant_id: uuid(&r.grant_id, "grant_id")?,
            command_id: uuid(&r.command_id, "command_id")?,
            actor: r.actor,
            reason: r.reason,
        },
        P::CommandRepublished(r) => EventPayload::CommandRepublished {
            grant_id: opt_uuid(&r.grant_id, "grant_id")?.unwrap_or_default(),
            command_id: uuid(&r.command_id, "command_id")?,
            attempt: r.attempt,
        },
        P::CommandEscalated(e) => EventPayload::CommandEscalated {
            grant_id: opt_uuid(&e.grant_id, "grant_id")?.unwrap_or_default(),
            command_id: uuid(&e.command_id, "command_id")?,
            reason: e.reason,
        },
        P::AccessDiscrepancyFound(d) => EventPayload::AccessDiscrepancyFound {
            observation_id: uuid(&d.observation_id, "observation_id")?,
            kind: discrepancy_from(d.kind)?,
            account: d.account,
            entitlement: entitlement_from(d.entitlement)?,
            grant_id: opt_uuid(&d.grant_id, "grant_id")?.unwrap_or_default(),
            connector: d.connector,
        },
    })
}

/// The protobuf bytes of a lifecycle event, as written to `tenure.lifecycle.v1`.
pub fn encode_event(event: &LifecycleEvent) -> Vec<u8> {
    v1::LifecycleEvent {
        event_id: event.event_id.to_string(),
        identity_id: event.identity_id.to_string(),
        effective_time: Some(ts(event.effective_time)),
        recorded_time: Some(ts(event.recorded_time)),
        source_system: event.source_system.clone(),
        source_event_id: event.source_event_id.clone(),
        causation_id: event
            .causation_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        payload: Some(payload_to(&event.payload)),
    }
    .encode_to_vec()
}

/// Reads a lifecycle event from `tenure.lifecycle.v1`.
pub fn decode_event(bytes: &[u8]) -> Result<LifecycleEvent, DecodeError> {
    let e = v1::LifecycleEvent::decode(bytes)?;
    Ok(LifecycleEvent {
        event_id: uuid(&e.event_id, "event_id")?,
        identity_id: uuid(&e.identity_id, "identity_id")?,
        effective_time: from_ts(e.effective_time, "effective_time")?,
        recorded_time: from_ts(e.recorded_time, "recorded_time")?,
        source_system: e.source_system,
        source_event_id: e.source_event_id,
        causation_id: opt_uuid(&e.causation_id, "causation_id")?,
        payload: payload_from(e.payload.ok_or(DecodeError::Missing("payload"))?)?,
    })
}

/// The protobuf bytes of a connector command, stamped with the time it was issued.
pub fn encode_command(command: &core::Command, issued: DateTime<Utc>) -> Vec<u8> {
    match command {
        core::Command::Revoke(c) => v1::RevocationCommand {
            command_id: c.command_id.to_string(),
            grant_id: c.grant_id.to_string(),
            identity_id: c.identity_id.to_string(),
            entitlement: Some(entitlement_to(&c.entitlement)),
            cause: cause_to(c.cause) as i32,
            issued_time: Some(ts(issued)),
            trigger_event_id: c.trigger_event_id.to_string(),
            holder: Some(holder_to(&c.holder)),
            terms: Some(terms_to(&c.terms)),
        }
        .encode_to_vec(),
        core::Command::Grant(c) => v1::GrantCommand {
            command_id: c.command_id.to_string(),
            grant_id: c.grant_id.to_string(),
            identity_id: c.identity_id.to_string(),
            entitlement: Some(entitlement_to(&c.entitlement)),
            issued_time: Some(ts(issued)),
            trigger_event_id: c.trigger_event_id.to_string(),
            holder: Some(holder_to(&c.holder)),
            terms: Some(terms_to(&c.terms)),
        }
        .encode_to_vec(),
        core::Command::Suspend(c) | core::Command::Restore(c) => v1::SuspensionCommand {
            command_id: c.command_id.to_string(),
            grant_id: c.grant_id.to_string(),
            identity_id: c.identity_id.to_string(),
            entitlement: Some(entitlement_to(&c.entitlement)),
            issued_time: Some(ts(issued)),
            trigger_event_id: c.trigger_event_id.to_string(),
            holder: Some(holder_to(&c.holder)),
        }
        .encode_to_vec(),
        core::Command::Rotate(c) => v1::RotationCommand {
            command_id: c.command_id.to_string(),
            identity_id: c.identity_id.to_string(),
            system: c.system.clone(),
            account: c.account.clone(),
            due_time: Some(ts(c.due_time)),
            issued_time: Some(ts(issued)),
            trigger_event_id: c.trigger_event_id.to_string(),
            holder: Some(holder_to(&c.holder)),
        }
        .encode_to_vec(),
    }
}

/// The CloudEvents `type` (header `ce_type`) of a command: it names the protobuf
/// message the payload holds, and connectors route on it.
pub fn command_ce_type(command: &core::Command) -> &'static str {
    match command {
        core::Command::Revoke(_) => "tenure.commands.v1.revoke",
        core::Command::Grant(_) => "tenure.commands.v1.grant",
        core::Command::Suspend(_) => "tenure.commands.v1.suspend",
        core::Command::Restore(_) => "tenure.commands.v1.restore",
        core::Command::Rotate(_) => "tenure.commands.v1.rotate",
    }
}

/// Reads a command from `tenure.commands.v1`, as a connector does: `ce_type` (the
/// record's header) picks the message. Returns the command and the time it was issued.
pub fn decode_command(
    ce_type: &str,
    bytes: &[u8],
) -> Result<(core::Command, DateTime<Utc>), DecodeError> {
    Ok(match ce_type {
        "tenure.commands.v1.revoke" => {
            let c = v1::RevocationCommand::decode(bytes)?;
            (
                core::Command::Revoke(core::RevocationCommand {
                    command_id: uuid(&c.command_id, "command_id")?,
                    grant_id: uuid(&c.grant_id, "grant_id")?,
                    identity_id: uuid(&c.identity_id, "identity_id")?,
                    entitlement: entitlement_from(c.entitlement)?,
                    cause: cause_from(c.cause)?,
                    trigger_event_id: uuid(&c.trigger_event_id, "trigger_event_id")?,
                    holder: holder_from(c.holder),
                    terms: terms_from(c.terms)?,
                }),
                from_ts(c.issued_time, "issued_time")?,
            )
        }
        "tenure.commands.v1.grant" => {
            let c = v1::GrantCommand::decode(bytes)?;
            (
                core::Command::Grant(core::GrantCommand {
                    command_id: uuid(&c.command_id, "command_id")?,
                    grant_id: uuid(&c.grant_id, "grant_id")?,
                    identity_id: uuid(&c.identity_id, "identity_id")?,
                    entitlement: entitlement_from(c.entitlement)?,
                    trigger_event_id: uuid(&c.trigger_event_id, "trigger_event_id")?,
                    holder: holder_from(c.holder),
                    terms: terms_from(c.terms)?,
                }),
                from_ts(c.issued_time, "issued_time")?,
            )
        }
        "tenure.commands.v1.suspend" | "tenure.commands.v1.restore" => {
            let c = v1::SuspensionCommand::decode(bytes)?;
            let suspension = core::SuspensionCommand {
                command_id: uuid(&c.command_id, "command_id")?,
                grant_id: uuid(&c.grant_id, "grant_id")?,
                identity_id: uuid(&c.identity_id, "identity_id")?,
                entitlement: entitlement_from(c.entitlement)?,
                trigger_event_id: uuid(&c.trigger_event_id, "trigger_event_id")?,
                holder: holder_from(c.holder),
            };
            let command = if ce_type.ends_with("suspend") {
                core::Command::Suspend(suspension)
            } else {
                core::Command::Restore(suspension)
            };
            (command, from_ts(c.issued_time, "issued_time")?)
        }
        "tenure.commands.v1.rotate" => {
            let c = v1::RotationCommand::decode(bytes)?;
            (
                core::Command::Rotate(core::RotationCommand {
                    command_id: uuid(&c.command_id, "command_id")?,
                    identity_id: uuid(&c.identity_id, "identity_id")?,
                    system: c.system,
                    account: c.account,
                    due_time: from_ts(c.due_time, "due_time")?,
                    trigger_event_id: uuid(&c.trigger_event_id, "trigger_event_id")?,
                    holder: holder_from(c.holder),
                }),
                from_ts(c.issued_time, "issued_time")?,
            )
        }
        other => return Err(DecodeError::UnknownCommandType(other.to_owned())),
    })
}

fn revocation_to(r: &core::RevocationCondition) -> v1::RevocationCondition {
    v1::RevocationCondition {
        expires_at: r.expires_at.map(ts),
        ends_on_role_change: r.ends_on_role_change,
    }
}

fn revocation_from(
    r: Option<v1::RevocationCondition>,
) -> Result<core::RevocationCondition, DecodeError> {
    let r = r.unwrap_or_default();
    Ok(core::RevocationCondition {
        expires_at: r
            .expires_at
            .map(|t| from_ts(Some(t), "expires_at"))
            .transpose()?,
        ends_on_role_change: r.ends_on_role_change,
    })
}

fn holder_to(h: &core::TargetAccount) -> v1::TargetAccount {
    v1::TargetAccount {
        name: h.name.clone(),
        login: h.login.clone(),
        email: h.email.clone(),
        source_person_id: h.source_person_id.clone(),
        display_name: h.display_name.clone(),
    }
}

fn holder_from(h: Option<v1::TargetAccount>) -> core::TargetAccount {
    let h = h.unwrap_or_default();
    core::TargetAccount {
        name: h.name,
        login: h.login,
        email: h.email,
        source_person_id: h.source_person_id,
        display_name: h.display_name,
    }
}

fn terms_to(t: &core::GrantTerms) -> v1::GrantTerms {
    v1::GrantTerms {
        owner: t.owner.clone(),
        business_reason: t.business_reason.clone(),
        revocation: Some(revocation_to(&t.revocation)),
        birthright_role: t.birthright_role.clone().unwrap_or_default(),
        request_id: t.request_id.clone().unwrap_or_default(),
    }
}

fn terms_from(t: Option<v1::GrantTerms>) -> Result<core::GrantTerms, DecodeError> {
    let t = t.unwrap_or_default();
    Ok(core::GrantTerms {
        owner: t.owner,
        business_reason: t.business_reason,
        revocation: revocation_from(t.revocation)?,
        birthright_role: opt_string(&t.birthright_role),
        request_id: opt_string(&t.request_id),
    })
}

/// A connector's outcome, validated: ids are UUIDs and enums are known.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub command_id: Uuid,
    pub grant_id: Uuid,
    pub identity_id: Uuid,
    pub command_type: core::CommandType,
    pub status: core::CommandStatus,
    pub connector: String,
    pub detail: String,
    /// The connector's count of deliveries (0: not counted).
    pub attempt: u32,
    pub completed_time: Option<DateTime<Utc>>,
    /// The target system the connector says the command was for (`None`: not said).
    pub system: Option<String>,
}

/// Validates a wire outcome (from `tenure.outcomes.v1` or HTTP).
pub fn outcome_from_wire(o: v1::CommandOutcome) -> Result<Outcome, DecodeError> {
    Ok(Outcome {
        command_id: uuid(&o.command_id, "command_id")?,
        grant_id: opt_uuid(&o.grant_id, "grant_id")?.unwrap_or_default(),
        identity_id: uuid(&o.identity_id, "identity_id")?,
        command_type: command_type_from(o.command_type)?,
        status: status_from(o.status)?,
        connector: o.connector,
        detail: o.detail,
        attempt: o.attempt,
        completed_time: o
            .completed_time
            .map(|t| from_ts(Some(t), "completed_time"))
            .transpose()?,
        system: opt_string(&o.system),
    })
}

/// Reads a connector outcome from `tenure.outcomes.v1`.
pub fn decode_outcome(bytes: &[u8]) -> Result<Outcome, DecodeError> {
    outcome_from_wire(v1::CommandOutcome::decode(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tenure_core::ids;

    fn sample(payload: EventPayload) -> LifecycleEvent {
        LifecycleEvent {
            event_id: ids::event("workday", "1"),
            identity_id: ids::identity("hr", "E1"),
            effective_time: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            recorded_time: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap(),
            source_system: "workday".into(),
            source_event_id: "1".into(),
            causation_id: None,
            payload,
        }
    }

    #[test]
    fn every_payload_round_trips() {
        let g = ids::request_grant("sn", "R1");
        let payloads = vec![
            EventPayload::IdentityJoined {
                kind: core::IdentityKind::Contractor,
                role: "engineer".into(),
                attributes: core::Attributes {
                    department: Some("R&D".into()),
                    ..Default::default()
                },
                source_person_id: "E1".into(),
            },
            EventPayload::IdentityJoined {
                kind: core::IdentityKind::ApiKey,
                role: "deployer".into(),
                attributes: core::Attributes {
                    owner: Some("E1".into()),
                    credential_system: Some("vault".into()),
                    credential_expires_at: Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
                    rotation_period_days: Some(90),
                    ..Default::default()
                },
                source_person_id: "key-1".into(),
            },
            EventPayload::AccessSuspended {
                grant_id: g,
                command_id: core::CommandId::from_u128(10),
            },
            EventPayload::AccessRestored {
                grant_id: g,
                command_id: core::CommandId::from_u128(11),
            },
            EventPayload::CredentialRotationIssued {
                command_id: core::CommandId::from_u128(12),
                due_time: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
            },
            EventPayload::AccessRequestChanged {
                request_id: "R7".into(),
                state: core::RequestState::Rejected,
                entitlement: Some(core::Entitlement::new("aws", "prod", "admin")),
                owner: None,
                detail: "not justified".into(),
            },
            EventPayload::CommandCompleted {
                grant_id: g,
                command_id: core::CommandId::from_u128(13),
                command_type: core::CommandType::Suspend,
                status: core::CommandStatus::Done,
                connector: "github".into(),
            },
            EventPayload::OwnerLeft {
                owner: "E1".into(),
                grace_until: Utc.with_ymd_and_hms(2026, 4, 15, 0, 0, 0).unwrap(),
            },
            EventPayload::RevocationHeld {
                grant_id: g,
                command_id: core::CommandId::from_u128(14),
                reason: "201 revocations within 1h exceed the limit of 200".into(),
            },
            EventPayload::RevocationReleased {
                grant_id: g,
                command_id: core::CommandId::from_u128(14),
                actor: "ops@example.com".into(),
                reason: "reorganisation confirmed with HR".into(),
            },
            EventPayload::CommandRepublished {
                grant_id: core::GrantId::NIL,
                command_id: core::CommandId::from_u128(15),
                attempt: 2,
            },
            EventPayload::CommandEscalated {
                grant_id: g,
                command_id: core::CommandId::from_u128(14),
                reason: "no acknowledgement after 5 publications".into(),
            },
            EventPayload::AccessDiscrepancyFound {
                observation_id: uuid::Uuid::from_u128(15),
                kind: core::DiscrepancyKind::NotRemoved,
                account: "ada".into(),
                entitlement: core::Entitlement::new("postgres", "app", "reader"),
                grant_id: g,
                connector: "pg-1".into(),
            },
            EventPayload::IdentityMoved {
                role: "sales".into(),
                attributes: Default::default(),
                kind: None,
            },
            EventPayload::IdentityMoved {
                role: "engineer".into(),
                attributes: Default::default(),
                kind: Some(core::IdentityKind::Employee),
            },
            EventPayload::IdentityLeft { reason: "r".into() },
            EventPayload::LeaveOfAbsenceStarted {
                reason: "sabbatical".into(),
            },
            EventPayload::LeaveOfAbsenceEnded,
            EventPayload::AccessGranted {
                grant_id: g,
                entitlement: core::Entitlement::new("aws", "prod", "admin"),
                owner: "E2".into(),
                business_reason: "why".into(),
                revocation: core::RevocationCondition {
                    expires_at: Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()),
                    ends_on_role_change: true,
                },
                origin: core::GrantOrigin::Request {
                    request_id: "R1".into(),
                },
            },
            EventPayload::RevocationIssued {
                grant_id: g,
                command_id: core::CommandId::from_u128(9),
                cause: core::RevocationCause::Expiry,
            },
            EventPayload::AccessRevoked {
                grant_id: g,
                command_id: core::CommandId::from_u128(9),
                status: core::CommandStatus::AlreadyAbsent,
                connector: "aws".into(),
                detail: "gone".into(),
            },
            EventPayload::CommandFailed {
                grant_id: g,
                command_id: core::CommandId::from_u128(9),
                status: core::CommandStatus::FailedPermanent,
                command_type: core::CommandType::Revoke,
                connector: "aws".into(),
                detail: "denied".into(),
            },
            EventPayload::DeadlineReached {
                kind: core::DeadlineKind::GrantExpiry,
                grant_id: Some(g),
                due_time: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
            },
        ];
        for payload in payloads {
            let event = sample(payload);
            assert_eq!(decode_event(&encode_event(&event)).unwrap(), event);
        }
    }

    #[test]
    fn garbage_and_missing_fields_are_named_errors() {
        assert!(matches!(
            decode_event(b"\xff\xff\xff"),
            Err(DecodeError::Protobuf(_))
        ));
        let no_payload = v1::LifecycleEvent {
            event_id: core::EventId::from_u128(1).to_string(),
            identity_id: core::IdentityId::from_u128(2).to_string(),
            effective_time: Some(Timestamp::default()),
            recorded_time: Some(Timestamp::default()),
            ..Default::default()
        };
        let err = decode_event(&no_payload.encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains("payload"), "{err}");
        let bad_id = v1::LifecycleEvent {
            event_id: "nope".into(),
            ..Default::default()
        };
        let err = decode_event(&bad_id.encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains("event_id"), "{err}");
    }
}
