//! HR lifecycle events as HR systems send them (joiner, rehire, mover, conversion,
//! leaver, leave of absence) and the rules that turn one into a lifecycle event or
//! refuse it field by field: the same for HTTP JSON, NDJSON and the raw HR topic.

use crate::{Attributes, EventPayload, IdentityKind, LifecycleEvent};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Problem as FieldProblem;

/// What an HR system says happened, by the names HR systems send.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HrEventType {
    Joiner,
    /// A former employee hired again: a joiner that never resurrects old access.
    Rehire,
    Mover,
    /// Contractor to employee or back (give `kind`); may change the role as well.
    Conversion,
    Leaver,
    LeaveOfAbsenceStart,
    LeaveOfAbsenceEnd,
}

/// An HR event as HR systems post it.
#[derive(Debug, Deserialize)]
pub struct HrEvent {
    /// The HR system's own id for this event.
    event_id: String,
    /// The source system announcing it; bound to the caller (see
    /// [`super::source::announced_source`]) before the event is built.
    #[serde(default)]
    source_system: Option<String>,
    #[serde(rename = "type")]
    event_type: HrEventType,
    employee_id: String,
    effective_time: DateTime<Utc>,
    #[serde(default)]
    kind: Option<IdentityKind>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    manager_id: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// Non-human identities (kind service_account, api_key, agent): the accountable person.
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    sponsor: Option<String>,
    /// Non-human identities: the system holding the credential (its connector rotates it).
    #[serde(default)]
    credential_system: Option<String>,
    /// Non-human identities: when the identity must end; required at registration.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Non-human identities: days between credential rotations; required at registration.
    #[serde(default)]
    rotation_period_days: Option<u32>,
    /// The sign-in name target systems know the account by (for a non-human identity,
    /// the account or key name); connectors act on it.
    #[serde(default)]
    login: Option<String>,
    /// The primary e-mail address.
    #[serde(default)]
    email: Option<String>,
    /// Account names in target systems where they differ from `login`
    /// (`{"github": "ada-l"}`); an empty name removes the system's entry.
    #[serde(default)]
    accounts: std::collections::BTreeMap<String, String>,
}

fn default_source() -> String {
    "hr".to_owned()
}

fn required<'a>(
    line: usize,
    field: &str,
    value: &'a Option<String>,
    problems: &mut Vec<FieldProblem>,
) -> &'a str {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v,
        _ => {
            problems.push(FieldProblem::new(
                line,
                field,
                "required for this event type",
            ));
            ""
        }
    }
}

impl HrEvent {
    /// The source system the event names, if it names one.
    pub fn claimed_source(&self) -> Option<&str> {
        self.source_system.as_deref()
    }

    /// Records the event under `source`: the one its announcer may speak for (see
    /// [`super::source::announced_source`]), whatever the body said.
    pub fn announce_as(&mut self, source: String) {
        self.source_system = Some(source);
    }

    /// The lifecycle event this HR event announces, recorded at `now`.
    pub fn into_event(
        self,
        line: usize,
        now: DateTime<Utc>,
    ) -> Result<LifecycleEvent, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        if self.event_id.trim().is_empty() {
            problems.push(FieldProblem::new(line, "event_id", "must not be empty"));
        }
        if self.employee_id.trim().is_empty() {
            problems.push(FieldProblem::new(line, "employee_id", "must not be empty"));
        }
        let attributes = Attributes {
            display_name: self.display_name.clone(),
            department: self.department.clone(),
            title: self.title.clone(),
            manager_id: self.manager_id.clone(),
            location: self.location.clone(),
            owner: self.owner.clone(),
            sponsor: self.sponsor.clone(),
            credential_system: self.credential_system.clone(),
            credential_expires_at: self.expires_at,
            rotation_period_days: self.rotation_period_days,
            login: self.login.clone(),
            email: self.email.clone(),
            accounts: self.accounts.clone(),
            ..Attributes::default()
        };
        let non_human = self.kind.is_some_and(IdentityKind::is_non_human);
        let joins = matches!(self.event_type, HrEventType::Joiner | HrEventType::Rehire);
        if joins && non_human {
            required(line, "owner", &self.owner, &mut problems);
            required(
                line,
                "credential_system",
                &self.credential_system,
                &mut problems,
            );
            match self.expires_at {
                None => problems.push(FieldProblem::new(
                    line,
                    "expires_at",
                    "a non-human identity must be registered with an expiry",
                )),
                Some(at) if at <= self.effective_time => problems.push(FieldProblem::new(
                    line,
                    "expires_at",
                    "must be after effective_time",
                )),
                Some(_) => {}
            }
            if self.rotation_period_days.is_none_or(|d| d == 0) {
                problems.push(FieldProblem::new(
                    line,
                    "rotation_period_days",
                    "a non-human identity must be registered with a rotation period of at least 1 day",
                ));
            }
        }
        let payload = match self.event_type {
            HrEventType::Joiner | HrEventType::Rehire => EventPayload::IdentityJoined {
                kind: self.kind.unwrap_or_default(),
                role: required(line, "role", &self.role, &mut problems).to_owned(),
                attributes,
                source_person_id: self.employee_id.clone(),
            },
            HrEventType::Mover => EventPayload::IdentityMoved {
                role: required(line, "role", &self.role, &mut problems).to_owned(),
                attributes,
                kind: self.kind,
            },
            HrEventType::Conversion => {
                match self.kind {
                    Some(IdentityKind::Employee | IdentityKind::Contractor) => {}
                    _ => problems.push(FieldProblem::new(
                        line,
                        "kind",
                        "a conversion names the new kind: employee or contractor",
                    )),
                }
                EventPayload::IdentityMoved {
                    role: required(line, "role", &self.role, &mut problems).to_owned(),
                    attributes,
                    kind: self.kind,
                }
            }
            HrEventType::Leaver => EventPayload::IdentityLeft {
                reason: self.reason.clone().unwrap_or_default(),
            },
            HrEventType::LeaveOfAbsenceStart => EventPayload::LeaveOfAbsenceStarted {
                reason: self.reason.clone().unwrap_or_default(),
            },
            HrEventType::LeaveOfAbsenceEnd => EventPayload::LeaveOfAbsenceEnded,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(super::person_fact(
            self.source_system.unwrap_or_else(default_source),
            self.event_id,
            &self.employee_id,
            self.effective_time,
            now,
            payload,
        ))
    }
}
