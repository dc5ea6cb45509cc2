//! Connector outcomes: the acknowledgement that closes a command's loop.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenure_core::intake::{AckRefusal, Acknowledgement};
use tenure_core::{CommandId, CommandStatus, CommandType, GrantId, IdentityId, LifecycleEvent};

use crate::error::{ApiError, FieldProblem};

/// A connector's acknowledgement of one command, echoing the command's ids.
#[derive(Debug, Deserialize)]
pub(crate) struct OutcomeIn {
    command_id: CommandId,
    /// Absent for a rotation, which has no grant.
    #[serde(default)]
    grant_id: GrantId,
    identity_id: IdentityId,
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
    /// The command's target system; refused when the command was for another.
    #[serde(default)]
    system: Option<String>,
}

impl OutcomeIn {
    /// An outcome read from `tenure.outcomes.v1`. The connector's attempt count tells
    /// apart repeated reports of the same status (each retry's failure is its own
    /// fact); a connector that does not count gets the record's `offset` instead.
    pub(crate) fn from_wire(o: tenure_proto::Outcome, offset: i64) -> OutcomeIn {
        OutcomeIn {
            command_id: o.command_id.into(),
            grant_id: o.grant_id.into(),
            identity_id: o.identity_id.into(),
            command_type: o.command_type,
            status: o.status,
            connector: o.connector,
            detail: o.detail,
            attempt: if o.attempt > 0 {
                o.attempt
            } else {
                u32::try_from(offset).unwrap_or(u32::MAX)
            },
            completed_at: o.completed_time,
            system: o.system,
        }
    }

    /// The acknowledgement this outcome reports, as the core reads it.
    pub(crate) fn acknowledgement(self) -> Acknowledgement {
        Acknowledgement {
            command_id: self.command_id,
            grant_id: self.grant_id,
            identity_id: self.identity_id,
            command_type: self.command_type,
            status: self.status,
            connector: self.connector,
            detail: self.detail,
            attempt: self.attempt,
            completed_at: self.completed_at,
            system: self.system,
        }
    }
}

/// The lifecycle event recording an acknowledgement, decided by the core
/// (`tenure_core::intake::acknowledged`).
pub(crate) fn into_event(
    ack: Acknowledgement,
    line: usize,
    now: DateTime<Utc>,
) -> Result<Option<LifecycleEvent>, Vec<FieldProblem>> {
    tenure_core::intake::acknowledged(ack, line, now)
        .map(Some)
        .map_err(|problems| problems.into_iter().map(FieldProblem::from).collect())
}

/// Why acknowledgements were refused, line by line, with the HTTP status that says
/// it best: 403 when the credential may not speak for a command's system, 409 when a
/// report contradicts the command issued, 404 when no such command was issued.
pub(crate) fn refused(refusals: Vec<(usize, AckRefusal)>) -> ApiError {
    let status = if refusals
        .iter()
        .any(|(_, r)| matches!(r, AckRefusal::OtherSystem { .. }))
    {
        StatusCode::FORBIDDEN
    } else if refusals
        .iter()
        .any(|(_, r)| matches!(r, AckRefusal::Mismatch { .. }))
    {
        StatusCode::CONFLICT
    } else {
        StatusCode::NOT_FOUND
    };
    let problems: Vec<FieldProblem> = refusals
        .into_iter()
        .map(|(line, refusal)| {
            let field = match &refusal {
                AckRefusal::Mismatch { field, .. } => field,
                AckRefusal::NotIssued(_) | AckRefusal::OtherSystem { .. } => "command_id",
            };
            FieldProblem::new(line, field, refusal.to_string())
        })
        .collect();
    ApiError {
        status,
        code: "acknowledgement_refused",
        message: format!(
            "{} acknowledgement(s) do not match a command Tenure issued; nothing was accepted",
            problems.len()
        ),
        problems,
    }
}

/// Checks an acknowledgement read from an outcome topic against what Tenure issued;
/// `topic_system` is the system a per-system topic belongs to (as its name spells it),
/// whose connector may acknowledge only that system's commands.
pub(crate) async fn verify_from_topic(
    db: &tenure_store::Database,
    ack: &Acknowledgement,
    topic_system: Option<&str>,
) -> Result<Result<(), Vec<(usize, AckRefusal)>>, ApiError> {
    let issued = crate::directory::issued_commands(db, &[ack.command_id]).await?;
    let issued = issued.get(&ack.command_id);
    // The topic speaks for the system its name carries, in Kafka's spelling of it.
    let systems: Option<Vec<String>> = topic_system.map(|topic_system| {
        issued
            .map(|i| i.target_system.clone())
            .filter(|s| tenure_kafka::topics::topic_safe(s) == topic_system)
            .into_iter()
            .collect()
    });
    Ok(
        tenure_core::intake::verify_acknowledgement(ack, issued, systems.as_deref())
            .map_err(|r| vec![(1, r)]),
    )
}

/// Checks every acknowledgement against what Tenure issued (read from `db`) and the
/// systems the credential may speak for (`None`: any).
pub(crate) async fn verify(
    db: &tenure_store::Database,
    acks: &[(usize, Acknowledgement)],
    systems: Option<&[String]>,
) -> Result<Result<(), Vec<(usize, AckRefusal)>>, ApiError> {
    let ids: Vec<CommandId> = acks.iter().map(|(_, a)| a.command_id).collect();
    let issued = crate::directory::issued_commands(db, &ids).await?;
    let refusals: Vec<(usize, AckRefusal)> = acks
        .iter()
        .filter_map(|(line, ack)| {
            tenure_core::intake::verify_acknowledgement(ack, issued.get(&ack.command_id), systems)
                .err()
                .map(|r| (*line, r))
        })
        .collect();
    Ok(if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    })
}
