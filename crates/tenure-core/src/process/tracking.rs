//! Which commands are followed until their connector confirms them, when one that
//! stays unacknowledged is published again, and when it is escalated to a person.
//!
//! The retrier and the reactor keep the schedule in their tables; the rules, and the
//! facts that put each retry and escalation on the log, are here.

use std::time::Duration;

use crate::ids::{CommandId, EventId, GrantId, IdentityId};
use chrono::{DateTime, Utc};

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::{CommandStatus, CommandType};
use crate::react::{Command, REACTOR_SOURCE};

/// How long connectors get to acknowledge, and how often a command is tried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Time from publication to the first retry; each retry doubles it (at most an hour).
    pub ack_timeout: Duration,
    /// Publications before an unacknowledged command is escalated.
    pub max_attempts: u32,
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
    pub fn backoff(&self, attempt: u32) -> chrono::Duration {
        let factor = 2u32.saturating_pow(attempt.clamp(1, 20) - 1);
        let wait = self
            .ack_timeout
            .saturating_mul(factor)
            .min(Duration::from_secs(3600));
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
    }
}

/// A command Tenure follows until its connector confirms it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub command_type: CommandType,
    pub command_id: CommandId,
    pub identity_id: IdentityId,
    /// Nil for a credential rotation, which names no grant.
    pub grant_id: GrantId,
    pub target_system: String,
    /// Why it was issued: a revocation's cause, `leave_of_absence` or `rotation`.
    pub cause: &'static str,
    pub trigger_event_id: EventId,
    pub issued_at: DateTime<Utc>,
    /// When it is published again unless acknowledged first.
    pub first_retry_at: DateTime<Utc>,
}

impl Tracked {
    /// The tracking of a command decided because of `trigger`. Revocations,
    /// suspensions, restorations and rotations are tracked until acknowledged (a lost
    /// one would leave access in place or a credential unrotated); birthright grants
    /// are not (a lost grant leaves less access, and the person asks for it).
    pub fn from_command(
        command: &Command,
        trigger: &LifecycleEvent,
        policy: &RetryPolicy,
    ) -> Option<Tracked> {
        let (command_type, grant_id, cause) = match command {
            Command::Revoke(c) => (CommandType::Revoke, c.grant_id, c.cause.as_str()),
            Command::Suspend(c) => (CommandType::Suspend, c.grant_id, "leave_of_absence"),
            Command::Restore(c) => (CommandType::Restore, c.grant_id, "leave_of_absence"),
            Command::Rotate(_) => (CommandType::Rotate, GrantId::NIL, "rotation"),
            Command::Grant(_) => return None,
        };
        let issued_at = trigger.recorded_time.max(trigger.effective_time);
        Some(Tracked {
            command_type,
            command_id: command.command_id(),
            identity_id: trigger.identity_id,
            grant_id,
            target_system: command.target_system().to_owned(),
            cause,
            trigger_event_id: trigger.event_id,
            issued_at,
            first_retry_at: issued_at
                .checked_add_signed(policy.backoff(1))
                .unwrap_or(issued_at),
        })
    }
}

/// What to do with a tracked command whose retry time has come, unacknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowUp {
    /// Publish it again (same id) as publication number `attempt`; if that too goes
    /// unanswered, look again at `next_at`.
    Republish {
        attempt: u32,
        next_at: DateTime<Utc>,
    },
    /// Stop trying: a person must finish it.
    Escalate { reason: String },
}

/// The follow-up for a command published `attempts` times and still unacknowledged
/// at `now`.
pub fn when_unacknowledged(attempts: u32, now: DateTime<Utc>, policy: &RetryPolicy) -> FollowUp {
    if attempts >= policy.max_attempts {
        FollowUp::Escalate {
            reason: format!("no acknowledgement after {attempts} publications"),
        }
    } else {
        let attempt = attempts + 1;
        FollowUp::Republish {
            attempt,
            next_at: now
                .checked_add_signed(policy.backoff(attempt))
                .unwrap_or(now),
        }
    }
}

/// What a connector's failure report means for a tracked command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// The connector says it will never succeed: a person must finish it.
    Escalate { reason: String },
    /// The connector asked to be tried again: republish no later than `by`, sooner
    /// than the acknowledgement timeout would, and later with each failure.
    RetryBy { by: DateTime<Utc> },
    /// Not a failure (the command succeeded or the access was already gone).
    Closed,
}

/// The rule for a connector's outcome with `status`, reported at `at`, after
/// `failures_before` earlier failure reports of the same command. A retryable failure
/// comes back after a quarter of the backoff a silent connector would get, doubling
/// with each failure: a target that is down is not hammered.
pub fn after_outcome(
    status: CommandStatus,
    connector: &str,
    detail: &str,
    at: DateTime<Utc>,
    failures_before: u32,
    policy: &RetryPolicy,
) -> AfterFailure {
    match status {
        CommandStatus::Done | CommandStatus::AlreadyAbsent => AfterFailure::Closed,
        CommandStatus::FailedPermanent => AfterFailure::Escalate {
            reason: format!("connector reported a permanent failure: {connector}: {detail}"),
        },
        CommandStatus::FailedRetryable => AfterFailure::RetryBy {
            by: at
                .checked_add_signed(policy.backoff(failures_before.saturating_add(1)) / 4)
                .unwrap_or(at),
        },
    }
}

/// The fact recording that a tracked command was published again.
pub fn republished_fact(
    tracked_identity: IdentityId,
    grant_id: GrantId,
    command_id: CommandId,
    attempt: u32,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    follow_up_fact(
        tracked_identity,
        &format!("command_republished:{attempt}"),
        command_id,
        at,
        EventPayload::CommandRepublished {
            grant_id,
            command_id,
            attempt,
        },
    )
}

/// The fact recording that a tracked command was escalated to a person.
pub fn escalated_fact(
    tracked_identity: IdentityId,
    grant_id: GrantId,
    command_id: CommandId,
    reason: String,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    follow_up_fact(
        tracked_identity,
        "command_escalated",
        command_id,
        at,
        EventPayload::CommandEscalated {
            grant_id,
            command_id,
            reason,
        },
    )
}

/// A follow-up of Tenure's own about `command_id`, on the identity's log; its id is
/// derived from what it records, so recording it twice appends it once.
pub(crate) fn follow_up_fact(
    identity_id: IdentityId,
    kind: &str,
    command_id: CommandId,
    at: DateTime<Utc>,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::reactor_event(kind, command_id),
        identity_id,
        effective_time: at,
        recorded_time: at,
        source_system: REACTOR_SOURCE.to_owned(),
        source_event_id: format!("{kind}:{command_id}"),
        causation_id: None,
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn an_unacknowledged_command_is_republished_with_doubling_waits_then_escalated() {
        let policy = RetryPolicy {
            ack_timeout: Duration::from_secs(60),
            max_attempts: 3,
        };
        assert_eq!(
            when_unacknowledged(1, t(0), &policy),
            FollowUp::Republish {
                attempt: 2,
                next_at: t(0) + chrono::Duration::minutes(2)
            }
        );
        assert_eq!(
            when_unacknowledged(2, t(0), &policy),
            FollowUp::Republish {
                attempt: 3,
                next_at: t(0) + chrono::Duration::minutes(4)
            }
        );
        assert!(matches!(
            when_unacknowledged(3, t(0), &policy),
            FollowUp::Escalate { reason } if reason.contains("3 publications")
        ));
    }

    #[test]
    fn the_wait_never_exceeds_an_hour() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(30), chrono::Duration::hours(1));
        assert_eq!(policy.backoff(1), chrono::Duration::minutes(5));
    }

    #[test]
    fn a_permanent_failure_escalates_and_a_retryable_one_comes_back_sooner() {
        let policy = RetryPolicy::default();
        assert!(matches!(
            after_outcome(CommandStatus::FailedPermanent, "connector:ldap", "no such user", t(1), 0, &policy),
            AfterFailure::Escalate { reason } if reason.contains("connector:ldap: no such user")
        ));
        let AfterFailure::RetryBy { by } = after_outcome(
            CommandStatus::FailedRetryable,
            "c",
            "busy",
            t(1),
            0,
            &policy,
        ) else {
            panic!("a retryable failure is retried")
        };
        assert!(by > t(1) && by < t(1) + policy.backoff(1));
        let waits: Vec<_> = (0..4)
            .map(|failures| {
                match after_outcome(
                    CommandStatus::FailedRetryable,
                    "c",
                    "busy",
                    t(1),
                    failures,
                    &policy,
                ) {
                    AfterFailure::RetryBy { by } => by - t(1),
                    other => panic!("a retryable failure is retried, not {other:?}"),
                }
            })
            .collect();
        assert!(
            waits.windows(2).all(|w| w[1] == w[0] * 2),
            "each retryable failure doubles the wait: {waits:?}"
        );
        assert_eq!(
            after_outcome(CommandStatus::Done, "c", "", t(1), 0, &policy),
            AfterFailure::Closed
        );
    }

    #[test]
    fn recording_a_follow_up_twice_appends_it_once() {
        let command = CommandId::from_u128(7);
        let a = republished_fact(IdentityId::from_u128(1), GrantId::NIL, command, 2, t(1));
        let b = republished_fact(IdentityId::from_u128(1), GrantId::NIL, command, 2, t(2));
        let c = republished_fact(IdentityId::from_u128(1), GrantId::NIL, command, 3, t(2));
        assert_eq!(a.event_id, b.event_id);
        assert_ne!(a.event_id, c.event_id);
    }
}
