//! Tracking revocation commands until their connector confirms them.
//!
//! The reactor records each revocation it issues and each outcome it reads from the
//! log, in its own transaction; the [`retrier`](crate::retry) republishes what stays
//! unacknowledged and escalates what cannot be done.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_core::{Command, CommandStatus, EventPayload, LifecycleEvent};
use tenure_store::StoreError;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// How long connectors get to acknowledge, and how often a command is tried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Time from publication to the first retry; each retry doubles it (at most an hour).
    pub ack_timeout: Duration,
    /// Publications before an unacknowledged command is escalated.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            ack_timeout: Duration::from_secs(300),
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th publication (1-based) before the next one.
    pub fn backoff(&self, attempt: i32) -> chrono::Duration {
        let factor = 2u32.saturating_pow(attempt.clamp(1, 20) as u32 - 1);
        let wait = self
            .ack_timeout
            .saturating_mul(factor)
            .min(Duration::from_secs(3600));
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
    }
}

/// A tracked command issued in this batch.
pub(crate) struct Issued {
    command_type: &'static str,
    command_id: Uuid,
    identity_id: Uuid,
    grant_id: Uuid,
    target_system: String,
    cause: &'static str,
    trigger_event_id: Uuid,
    issued_at: DateTime<Utc>,
}

impl Issued {
    /// The tracking row for a command decided because of `trigger`. Revocations,
    /// suspensions, restorations and rotations are tracked until acknowledged (a lost
    /// one would leave access in place or a credential unrotated); birthright grants
    /// are not (a lost grant leaves less access, and the person asks for it).
    pub(crate) fn from_command(command: &Command, trigger: &LifecycleEvent) -> Option<Issued> {
        let (command_type, grant_id, cause) = match command {
            Command::Revoke(c) => ("revoke", c.grant_id, c.cause.as_str()),
            Command::Suspend(c) => ("suspend", c.grant_id, "leave_of_absence"),
            Command::Restore(c) => ("restore", c.grant_id, "leave_of_absence"),
            Command::Rotate(_) => ("rotate", Uuid::nil(), "rotation"),
            Command::Grant(_) => return None,
        };
        Some(Issued {
            command_type,
            command_id: command.command_id(),
            identity_id: trigger.identity_id,
            grant_id,
            target_system: command.target_system().to_owned(),
            cause,
            trigger_event_id: trigger.event_id,
            issued_at: trigger.recorded_time.max(trigger.effective_time),
        })
    }
}

/// Records newly issued revocations (a re-decided one keeps its first row).
pub(crate) async fn record_issued(
    txn: &Transaction<'_>,
    issued: &[Issued],
    policy: &RetryPolicy,
) -> Result<(), StoreError> {
    if issued.is_empty() {
        return Ok(());
    }
    let first_retry: Vec<DateTime<Utc>> = issued
        .iter()
        .map(|i| {
            i.issued_at
                .checked_add_signed(policy.backoff(1))
                .unwrap_or(i.issued_at)
        })
        .collect();
    txn.execute(
        "INSERT INTO command_tracking (command_id, identity_id, grant_id, target_system, cause, trigger_event_id,
                                       issued_at, next_attempt_at, command_type)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[],
                              $7::timestamptz[], $8::timestamptz[], $9::text[])
         ON CONFLICT (command_id) DO NOTHING",
        &[
            &issued.iter().map(|i| i.command_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.identity_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.grant_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.target_system.as_str()).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.cause).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.trigger_event_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.issued_at).collect::<Vec<_>>(),
            &first_retry,
            &issued.iter().map(|i| i.command_type).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

fn status_name(status: CommandStatus) -> &'static str {
    match status {
        CommandStatus::Done => "done",
        CommandStatus::AlreadyAbsent => "already_absent",
        CommandStatus::FailedRetryable => "failed_retryable",
        CommandStatus::FailedPermanent => "failed_permanent",
    }
}

/// Records a connector's outcome of a revocation command, read from the log.
pub(crate) async fn record_outcome(
    txn: &Transaction<'_>,
    event: &LifecycleEvent,
    policy: &RetryPolicy,
) -> Result<(), StoreError> {
    match &event.payload {
        EventPayload::AccessRevoked {
            command_id, status, ..
        }
        | EventPayload::CommandCompleted {
            command_id, status, ..
        } => {
            txn.execute(
                "UPDATE command_tracking SET acknowledged_at = COALESCE(acknowledged_at, $2), outcome = $3
                  WHERE command_id = $1",
                &[command_id, &event.effective_time, &status_name(*status)],
            )
            .await?;
        }
        EventPayload::CommandFailed {
            command_id,
            status,
            connector,
            detail,
            ..
        } => {
            let failure = format!("{connector}: {detail}");
            if *status == CommandStatus::FailedPermanent {
                txn.execute(
                    "UPDATE command_tracking SET failures = failures + 1, last_failure = $2, outcome = $3,
                            escalated_at = COALESCE(escalated_at, $4),
                            escalation_reason = COALESCE(escalation_reason, 'connector reported a permanent failure: ' || $2)
                      WHERE command_id = $1 AND acknowledged_at IS NULL",
                    &[command_id, &failure, &status_name(*status), &event.recorded_time],
                )
                .await?;
            } else {
                // Retry sooner than the acknowledgement timeout: the connector asked for it.
                txn.execute(
                    "UPDATE command_tracking SET failures = failures + 1, last_failure = $2, outcome = $3,
                            next_attempt_at = LEAST(next_attempt_at, $4)
                      WHERE command_id = $1 AND acknowledged_at IS NULL",
                    &[command_id, &failure, &status_name(*status), &(event.recorded_time.checked_add_signed(policy.backoff(1) / 4).unwrap_or(event.recorded_time))],
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}
