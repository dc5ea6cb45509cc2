//! ITSM events: an access request's steps are recorded, and its fulfilment becomes a
//! governed grant (owner, business reason, revocation condition, within its
//! entitlement class's longest duration) or is refused field by field: the same for
//! HTTP JSON, NDJSON and the raw ITSM topic.

use crate::{
    Entitlement, EventPayload, GrantOrigin, LifecycleEvent, Policy, RequestState,
    RevocationCondition, ids,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Problem as FieldProblem;

/// What an ITSM tool says happened to an access request, by the names it sends.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the names are the wire names sources send
pub enum ItsmEventType {
    AccessRequested,
    /// Approved: the governance fields are checked now, before anyone provisions.
    AccessApproved,
    AccessRejected,
    AccessCancelled,
    /// The approved access was put in place: this creates the grant.
    AccessFulfilled,
}

/// When a requested grant must end, as the ITSM tool states it.
#[derive(Debug, Deserialize)]
pub struct RevocationIn {
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ends_on_role_change: bool,
}

/// An ITSM event as ITSM tools post it. Governance fields are optional here so that
/// their absence is reported field by field (422) instead of as a parse error.
#[derive(Debug, Deserialize)]
pub struct ItsmEvent {
    event_id: String,
    /// The source system announcing it; bound to the caller (see
    /// [`super::source::announced_source`]) before the event is built.
    #[serde(default)]
    source_system: Option<String>,
    #[serde(rename = "type")]
    event_type: ItsmEventType,
    request_id: String,
    employee_id: String,
    effective_time: DateTime<Utc>,
    #[serde(default)]
    entitlement: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    business_reason: Option<String>,
    #[serde(default)]
    revocation: Option<RevocationIn>,
    /// Why a request was rejected or cancelled.
    #[serde(default)]
    reason: Option<String>,
}

fn default_source() -> String {
    "itsm".to_owned()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ItsmEvent {
    /// The source system the event names, if it names one.
    pub fn claimed_source(&self) -> Option<&str> {
        self.source_system.as_deref()
    }

    /// Records the event under `source`: the one its announcer may speak for (see
    /// [`super::source::announced_source`]), whatever the body said.
    pub fn announce_as(&mut self, source: String) {
        self.source_system = Some(source);
    }

    /// The governed grant this fulfilment creates, recorded at `now`, or every
    /// reason it would be ungoverned.
    pub fn into_event(
        self,
        line: usize,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<LifecycleEvent, Vec<FieldProblem>> {
        let source_system = self.source_system.clone().unwrap_or_else(default_source);
        let state = match self.event_type {
            ItsmEventType::AccessFulfilled => None,
            ItsmEventType::AccessRequested => Some(RequestState::Requested),
            ItsmEventType::AccessApproved => Some(RequestState::Approved),
            ItsmEventType::AccessRejected => Some(RequestState::Rejected),
            ItsmEventType::AccessCancelled => Some(RequestState::Cancelled),
        };
        // An approval or a fulfilment would create access: it must be governed.
        let governed = matches!(
            self.event_type,
            ItsmEventType::AccessApproved | ItsmEventType::AccessFulfilled
        );
        let needs_entitlement = governed || self.event_type == ItsmEventType::AccessRequested;
        let mut problems = Vec::new();
        for (field, value) in [
            ("event_id", &self.event_id),
            ("request_id", &self.request_id),
            ("employee_id", &self.employee_id),
        ] {
            if value.trim().is_empty() {
                problems.push(FieldProblem::new(line, field, "must not be empty"));
            }
        }
        let entitlement = match non_empty(&self.entitlement) {
            None if !needs_entitlement => None,
            None => {
                problems.push(FieldProblem::new(
                    line,
                    "entitlement",
                    "required: system:resource:permission",
                ));
                None
            }
            Some(text) => match text.parse::<Entitlement>() {
                Ok(e) => Some(e),
                Err(e) => {
                    problems.push(FieldProblem::new(line, "entitlement", e.to_string()));
                    None
                }
            },
        };
        if governed && non_empty(&self.owner).is_none() {
            problems.push(FieldProblem::new(
                line,
                "owner",
                "required: the person accountable for this grant",
            ));
        }
        if governed && non_empty(&self.business_reason).is_none() {
            problems.push(FieldProblem::new(
                line,
                "business_reason",
                "required: why this access is needed",
            ));
        }
        let revocation = match &self.revocation {
            None if !governed => RevocationCondition::default(),
            None => {
                problems.push(FieldProblem::new(
                    line,
                    "revocation",
                    "required: an expires_at and/or ends_on_role_change: true",
                ));
                RevocationCondition::default()
            }
            Some(r) => {
                let condition = RevocationCondition {
                    expires_at: r.expires_at,
                    ends_on_role_change: r.ends_on_role_change,
                };
                if governed && !condition.is_governed() {
                    problems.push(FieldProblem::new(
                        line,
                        "revocation",
                        "names no condition: give expires_at and/or ends_on_role_change: true",
                    ));
                }
                if let Some(expiry) = r.expires_at.filter(|e| *e <= self.effective_time) {
                    problems.push(FieldProblem::new(
                        line,
                        "revocation.expires_at",
                        format!(
                            "{expiry} is not after effective_time {}",
                            self.effective_time
                        ),
                    ));
                }
                condition
            }
        };
        if let Some(e) = entitlement.as_ref().filter(|_| needs_entitlement) {
            check_duration(
                line,
                e,
                &revocation,
                self.effective_time,
                policy,
                &mut problems,
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let payload = if let Some(state) = state {
            let detail = match state {
                RequestState::Rejected | RequestState::Cancelled => self.reason.clone(),
                _ => non_empty(&self.business_reason).map(str::to_owned),
            };
            EventPayload::AccessRequestChanged {
                request_id: self.request_id,
                state,
                entitlement,
                owner: non_empty(&self.owner).map(str::to_owned),
                detail: detail.unwrap_or_default(),
            }
        } else {
            let Some(entitlement) = entitlement else {
                return Err(problems);
            };
            EventPayload::AccessGranted {
                grant_id: ids::request_grant(&source_system, &self.request_id),
                entitlement,
                owner: non_empty(&self.owner).unwrap_or_default().to_owned(),
                business_reason: non_empty(&self.business_reason)
                    .unwrap_or_default()
                    .to_owned(),
                revocation,
                origin: GrantOrigin::Request {
                    request_id: self.request_id,
                },
            }
        };
        Ok(super::person_fact(
            source_system,
            self.event_id,
            &self.employee_id,
            self.effective_time,
            now,
            payload,
        ))
    }
}

/// Refuses a grant longer than its entitlement class allows (or with no end date at all).
fn check_duration(
    line: usize,
    entitlement: &Entitlement,
    revocation: &RevocationCondition,
    effective: DateTime<Utc>,
    policy: &Policy,
    problems: &mut Vec<FieldProblem>,
) {
    let Some((class, max)) = policy.max_duration(entitlement) else {
        return;
    };
    let days = max.num_days();
    match revocation.expires_at {
        None => problems.push(FieldProblem::new(
            line,
            "revocation.expires_at",
            format!("required: {entitlement} is {class} access, granted for at most {days} days"),
        )),
        Some(expiry) if expiry - effective > max => problems.push(FieldProblem::new(
            line,
            "revocation.expires_at",
            format!(
                "{expiry} is more than {days} days after effective_time {effective}: the policy allows {class} access ({entitlement}) for at most {days} days"
            ),
        )),
        Some(_) => {}
    }
}
