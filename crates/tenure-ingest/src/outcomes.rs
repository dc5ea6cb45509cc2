//! Connector outcomes: the acknowledgement that closes a command's loop.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenure_core::{CommandStatus, CommandType, EventPayload, LifecycleEvent, ids};
use uuid::Uuid;

use crate::error::FieldProblem;

/// A connector's acknowledgement of one command, echoing the command's ids.
#[derive(Debug, Deserialize)]
pub(crate) struct OutcomeIn {
    command_id: Uuid,
    /// Absent for a rotation, which has no grant.
    #[serde(default)]
    grant_id: Uuid,
    identity_id: Uuid,
    command_type: CommandType,
    status: CommandStatus,
    connector: String,
    #[serde(default)]
    detail: String,
    /// Which attempt at the command this reports (retries are separate facts).
    #[serde(default)]
    attempt: u32,
    /// When the connector finished; defaults to when Tenure received the outcome.
    #[serde(default)]
    completed_at: Option<DateTime<Utc>>,
}

impl OutcomeIn {
    /// An outcome read from `tenure.outcomes.v1`; `offset` tells apart repeated
    /// reports of the same status (each retry's failure is its own fact).
    pub(crate) fn from_wire(o: tenure_proto::Outcome, offset: i64) -> OutcomeIn {
        OutcomeIn {
            command_id: o.command_id,
            grant_id: o.grant_id,
            identity_id: o.identity_id,
            command_type: o.command_type,
            status: o.status,
            connector: o.connector,
            detail: o.detail,
            attempt: u32::try_from(offset).unwrap_or(u32::MAX),
            completed_at: None,
        }
    }

    /// The lifecycle event recording this outcome, or `None` when it changes nothing
    /// (a grant command done: the grant is already recorded as active).
    pub(crate) fn into_event(
        self,
        line: usize,
        now: DateTime<Utc>,
    ) -> Result<Option<LifecycleEvent>, Vec<FieldProblem>> {
        if self.connector.trim().is_empty() {
            return Err(vec![FieldProblem::new(
                line,
                "connector",
                "must name the connector",
            )]);
        }
        let status_name = serde_json::to_value(self.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let source_system = format!("connector:{}", self.connector);
        let source_event_id = format!("{}:{status_name}:{}", self.command_id, self.attempt);
        let payload = match (self.command_type, self.status.is_success()) {
            (CommandType::Revoke, true) => EventPayload::AccessRevoked {
                grant_id: self.grant_id,
                command_id: self.command_id,
                status: self.status,
                connector: self.connector,
                detail: self.detail,
            },
            (_, false) => EventPayload::CommandFailed {
                grant_id: self.grant_id,
                command_id: self.command_id,
                status: self.status,
                command_type: self.command_type,
                connector: self.connector,
                detail: self.detail,
            },
            // Grants, suspensions, restorations and rotations done close their tracking.
            (command_type, true) => EventPayload::CommandCompleted {
                grant_id: self.grant_id,
                command_id: self.command_id,
                command_type,
                status: self.status,
                connector: self.connector,
            },
        };
        Ok(Some(LifecycleEvent {
            event_id: ids::event(&source_system, &source_event_id),
            identity_id: self.identity_id,
            effective_time: self.completed_at.unwrap_or(now),
            recorded_time: now,
            source_system,
            source_event_id,
            causation_id: Some(self.command_id),
            payload,
        }))
    }
}
