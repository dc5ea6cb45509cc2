//! ITSM events: an access request fulfilled becomes a governed grant, or is refused.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenure_core::{
    Entitlement, EventPayload, GrantOrigin, LifecycleEvent, RevocationCondition, ids,
};

use crate::error::FieldProblem;
use crate::hr::PEOPLE;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ItsmEventType {
    /// The approved access was put in place.
    AccessFulfilled,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevocationIn {
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ends_on_role_change: bool,
}

/// An ITSM event as ITSM tools post it. Governance fields are optional here so that
/// their absence is reported field by field (422) instead of as a parse error.
#[derive(Debug, Deserialize)]
pub(crate) struct ItsmEvent {
    event_id: String,
    #[serde(default = "default_source")]
    source_system: String,
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
}

fn default_source() -> String {
    "itsm".to_owned()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ItsmEvent {
    /// The governed grant this fulfilment creates, recorded at `now`, or every
    /// reason it would be ungoverned.
    pub(crate) fn into_event(
        self,
        line: usize,
        now: DateTime<Utc>,
    ) -> Result<LifecycleEvent, Vec<FieldProblem>> {
        let ItsmEventType::AccessFulfilled = self.event_type;
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
        if non_empty(&self.owner).is_none() {
            problems.push(FieldProblem::new(
                line,
                "owner",
                "required: the person accountable for this grant",
            ));
        }
        if non_empty(&self.business_reason).is_none() {
            problems.push(FieldProblem::new(
                line,
                "business_reason",
                "required: why this access is needed",
            ));
        }
        let revocation = match &self.revocation {
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
                if !condition.is_governed() {
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
        let (Some(entitlement), true) = (entitlement, problems.is_empty()) else {
            return Err(problems);
        };
        Ok(LifecycleEvent {
            event_id: ids::event(&self.source_system, &self.event_id),
            identity_id: ids::identity(PEOPLE, &self.employee_id),
            effective_time: self.effective_time,
            recorded_time: now,
            payload: EventPayload::AccessGranted {
                grant_id: ids::request_grant(&self.source_system, &self.request_id),
                entitlement,
                owner: non_empty(&self.owner).unwrap_or_default().to_owned(),
                business_reason: non_empty(&self.business_reason)
                    .unwrap_or_default()
                    .to_owned(),
                revocation,
                origin: GrantOrigin::Request {
                    request_id: self.request_id,
                },
            },
            source_system: self.source_system,
            source_event_id: self.event_id,
            causation_id: None,
        })
    }
}
