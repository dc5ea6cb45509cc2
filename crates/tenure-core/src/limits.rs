//! What an event must respect to be stored and indexed wherever Tenure keeps it:
//! the log, the projection and the reactor's tables. An event that breaks one of
//! these rules would be accepted and then fail in a consumer on every retry, so every
//! intake refuses it at the door, naming the field.
//!
//! The limits are rules of the product, not of one adapter: PostgreSQL text cannot
//! hold NUL, a B-tree index entry holds at most about 2.7 kB, timestamps outside
//! years 1000 to 9999 are either not representable or not meant, and a Kafka
//! message must stay well under the broker's size limit.

use chrono::{DateTime, Datelike, Utc};

use crate::event::{EventPayload, LifecycleEvent};
use crate::model::{Attributes, Entitlement, GrantOrigin};

/// Longest identifier (ids, names, roles, systems, resources, owners) in bytes: well
/// under PostgreSQL's B-tree entry limit, since some are indexed together.
pub const MAX_IDENTIFIER_BYTES: usize = 512;
/// Longest free text (a business reason, a leave reason, a connector's detail) in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Most per-system account names one identity carries: an identity with more is
/// almost certainly a mapping mistake, and each name rides on every command.
pub const MAX_ACCOUNTS: usize = 64;
/// Largest source record (a SCIM User as its source sent it) in bytes: a person's
/// record rides on every change of theirs in the log and in the projection.
pub const MAX_SOURCE_RECORD_BYTES: usize = 64 * 1024;
/// Earliest year a time may name.
pub const MIN_YEAR: i32 = 1000;
/// Latest year a time may name.
pub const MAX_YEAR: i32 = 9999;

/// One field of an event that cannot be stored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProblem {
    /// The field's name as intakes call it (`display_name`, `effective_time`, ...).
    pub field: &'static str,
    pub problem: String,
}

/// Every field of `event` that cannot be stored as it is; empty when all can.
pub fn storage_problems(event: &LifecycleEvent) -> Vec<StorageProblem> {
    let mut check = Checker::default();
    check.identifier("event_id", &event.source_event_id);
    check.identifier("source_system", &event.source_system);
    check.time("effective_time", &event.effective_time);
    check.time("recorded_time", &event.recorded_time);
    match &event.payload {
        EventPayload::IdentityJoined {
            role,
            attributes,
            source_person_id,
            ..
        } => {
            check.identifier("role", role);
            check.identifier("employee_id", source_person_id);
            check.attributes(attributes);
        }
        EventPayload::IdentityMoved {
            role, attributes, ..
        } => {
            check.identifier("role", role);
            check.attributes(attributes);
        }
        EventPayload::IdentityLeft { reason } | EventPayload::LeaveOfAbsenceStarted { reason } => {
            check.text("reason", reason);
        }
        EventPayload::AccessGranted {
            entitlement,
            owner,
            business_reason,
            revocation,
            origin,
            ..
        } => {
            check.entitlement(entitlement);
            check.identifier("owner", owner);
            check.text("business_reason", business_reason);
            if let Some(t) = &revocation.expires_at {
                check.time("expires_at", t);
            }
            match origin {
                GrantOrigin::Birthright { role } => check.identifier("role", role),
                GrantOrigin::Request { request_id } => check.identifier("request_id", request_id),
            }
        }
        EventPayload::AccessRevoked {
            connector, detail, ..
        }
        | EventPayload::CommandFailed {
            connector, detail, ..
        } => {
            check.identifier("connector", connector);
            check.text("detail", detail);
        }
        EventPayload::CommandCompleted { connector, .. } => {
            check.identifier("connector", connector);
        }
        EventPayload::AccessDiscrepancyFound {
            account,
            entitlement,
            connector,
            ..
        } => {
            check.identifier("account", account);
            check.entitlement(entitlement);
            check.identifier("connector", connector);
        }
        EventPayload::DeadlineReached { due_time, .. }
        | EventPayload::CredentialRotationIssued { due_time, .. } => {
            check.time("due_time", due_time);
        }
        EventPayload::AccessRequestChanged {
            request_id,
            entitlement,
            owner,
            detail,
            ..
        } => {
            check.identifier("request_id", request_id);
            if let Some(e) = entitlement {
                check.entitlement(e);
            }
            if let Some(o) = owner {
                check.identifier("owner", o);
            }
            check.text("business_reason", detail);
        }
        EventPayload::OwnerLeft { owner, grace_until } => {
            check.identifier("owner", owner);
            check.time("grace_until", grace_until);
        }
        EventPayload::RevocationHeld { reason, .. }
        | EventPayload::CommandEscalated { reason, .. } => check.text("reason", reason),
        EventPayload::RevocationReleased { actor, reason, .. } => {
            check.identifier("actor", actor);
            check.text("reason", reason);
        }
        EventPayload::LeaveOfAbsenceEnded
        | EventPayload::CommandRepublished { .. }
        | EventPayload::RevocationIssued { .. }
        | EventPayload::AccessSuspended { .. }
        | EventPayload::AccessRestored { .. } => {}
    }
    check.problems
}

#[derive(Default)]
struct Checker {
    problems: Vec<StorageProblem>,
}

impl Checker {
    fn string(&mut self, field: &'static str, value: &str, max: usize) {
        if value.contains('\0') {
            self.problems.push(StorageProblem {
                field,
                problem: "contains a NUL character (\\u0000), which cannot be stored".into(),
            });
        }
        if value.len() > max {
            self.problems.push(StorageProblem {
                field,
                problem: format!("is {} bytes long; at most {max} are accepted", value.len()),
            });
        }
    }

    fn identifier(&mut self, field: &'static str, value: &str) {
        self.string(field, value, MAX_IDENTIFIER_BYTES);
    }

    fn text(&mut self, field: &'static str, value: &str) {
        self.string(field, value, MAX_TEXT_BYTES);
    }

    fn time(&mut self, field: &'static str, value: &DateTime<Utc>) {
        if !(MIN_YEAR..=MAX_YEAR).contains(&value.year()) {
            self.problems.push(StorageProblem {
                field,
                problem: format!(
                    "{value} is outside the years {MIN_YEAR} to {MAX_YEAR} that Tenure accepts"
                ),
            });
        }
    }

    fn entitlement(&mut self, e: &Entitlement) {
        self.identifier("system", &e.system);
        self.identifier("resource", &e.resource);
        self.identifier("permission", &e.permission);
    }

    fn attributes(&mut self, a: &Attributes) {
        let fields: [(&'static str, &Option<String>); 10] = [
            ("display_name", &a.display_name),
            ("department", &a.department),
            ("title", &a.title),
            ("manager_id", &a.manager_id),
            ("location", &a.location),
            ("owner", &a.owner),
            ("sponsor", &a.sponsor),
            ("credential_system", &a.credential_system),
            ("login", &a.login),
            ("email", &a.email),
        ];
        for (field, value) in fields {
            if let Some(v) = value {
                self.identifier(field, v);
            }
        }
        if a.accounts.len() > MAX_ACCOUNTS {
            self.problems.push(StorageProblem {
                field: "accounts",
                problem: format!(
                    "names {} systems; Tenure keeps at most {MAX_ACCOUNTS} account names per identity",
                    a.accounts.len()
                ),
            });
        }
        for (system, name) in &a.accounts {
            self.identifier("accounts", system);
            self.identifier("accounts", name);
        }
        if let Some(record) = &a.source_record {
            if record.len() > MAX_SOURCE_RECORD_BYTES {
                self.problems.push(StorageProblem {
                    field: "source_record",
                    problem: format!(
                        "is {} bytes; Tenure keeps records of at most {MAX_SOURCE_RECORD_BYTES} bytes",
                        record.len()
                    ),
                });
            } else if record.contains('\0') {
                self.problems.push(StorageProblem {
                    field: "source_record",
                    problem: "contains a NUL character, which PostgreSQL text cannot hold".into(),
                });
            }
        }
        for name in &a.cleared {
            if !crate::model::CLEARABLE_ATTRIBUTES.contains(&name.as_str()) {
                self.problems.push(StorageProblem {
                    field: "cleared",
                    problem: format!(
                        "names {:?}, which is not an attribute a source can clear ({})",
                        name.chars().take(64).collect::<String>(),
                        crate::model::CLEARABLE_ATTRIBUTES.join(", ")
                    ),
                });
            }
        }
        if let Some(t) = &a.credential_expires_at {
            self.time("expires_at", t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids;
    use chrono::TimeZone;

    fn joiner(name: &str, at: DateTime<Utc>) -> LifecycleEvent {
        LifecycleEvent {
            event_id: ids::event("hr", "J1"),
            identity_id: ids::identity(ids::PEOPLE, "E1"),
            effective_time: at,
            recorded_time: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            source_system: "hr".into(),
            source_event_id: "J1".into(),
            causation_id: None,
            payload: EventPayload::IdentityJoined {
                kind: Default::default(),
                role: "engineer".into(),
                attributes: Attributes {
                    display_name: Some(name.into()),
                    ..Default::default()
                },
                source_person_id: "E1".into(),
            },
        }
    }

    #[test]
    fn an_ordinary_event_has_no_problem() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        assert!(storage_problems(&joiner("Ada", at)).is_empty());
    }

    #[test]
    fn nul_long_strings_and_extreme_dates_are_named_by_field() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let problems = storage_problems(&joiner("A\0da", at));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "display_name");
        assert!(problems[0].problem.contains("NUL"));

        let long = "x".repeat(MAX_IDENTIFIER_BYTES + 1);
        let problems = storage_problems(&joiner(&long, at));
        assert_eq!(problems[0].field, "display_name");
        assert!(problems[0].problem.contains("513 bytes"));

        let ancient = DateTime::parse_from_rfc3339("-5000-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let problems = storage_problems(&joiner("Ada", ancient));
        assert_eq!(problems[0].field, "effective_time");
    }
}
