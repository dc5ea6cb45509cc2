//! Connector outcomes: the acknowledgement that closes a command's loop.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenure_core::intake::Acknowledgement;
use tenure_core::{CommandStatus, CommandType, LifecycleEvent};
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

    /// The lifecycle event recording this outcome, decided by the core
    /// (`tenure_core::intake::acknowledged`).
    pub(crate) fn into_event(
        self,
        line: usize,
        now: DateTime<Utc>,
    ) -> Result<Option<LifecycleEvent>, Vec<FieldProblem>> {
        let ack = Acknowledgement {
            command_id: self.command_id,
            grant_id: self.grant_id,
            identity_id: self.identity_id,
            command_type: self.command_type,
            status: self.status,
            connector: self.connector,
            detail: self.detail,
            attempt: self.attempt,
            completed_at: self.completed_at,
        };
        tenure_core::intake::acknowledged(ack, line, now)
            .map(Some)
            .map_err(|problems| problems.into_iter().map(FieldProblem::from).collect())
    }
}
