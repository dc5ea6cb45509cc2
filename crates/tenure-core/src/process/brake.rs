//! The safety brake's rule: when revocations within a window exceed a share of all
//! active grants (the signature of a bad HR feed), further revocations are held back
//! from the connectors until an operator releases them. Leavers are never held unless
//! configured: taking a leaver's access away late is the worse failure.
//!
//! The reactor gathers the figures from its tables and publishes or holds what this
//! decides; holds and releases are facts on the identity's log, with the operator who
//! released them, so an audit and a replay see them.

use std::time::Duration;

use crate::ids::{CommandId, GrantId, IdentityId};
use chrono::{DateTime, Utc};

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::RevocationCause;
use crate::react::RevocationCommand;

/// When the brake engages.
#[derive(Clone, Copy, Debug)]
pub struct BrakePolicy {
    /// Share of active grants that may be revoked within `window` (0.2 = 20%).
    pub share: f64,
    /// The window revocations are counted over (in trigger time).
    pub window: Duration,
    /// Revocations always allowed within a window, however small the organisation.
    pub minimum: i64,
    /// Whether leavers' revocations count and can be held too.
    pub hold_leavers: bool,
}

impl Default for BrakePolicy {
    fn default() -> Self {
        BrakePolicy {
            share: 0.2,
            window: Duration::from_secs(3600),
            minimum: 100,
            hold_leavers: false,
        }
    }
}

impl BrakePolicy {
    /// Whether revocations for `cause` are subject to the brake.
    pub fn applies_to(&self, cause: RevocationCause) -> bool {
        cause != RevocationCause::Leaver || self.hold_leavers
    }

    /// The causes whose revocations the brake neither counts nor holds.
    pub fn exempt_causes(&self) -> Vec<&'static str> {
        if self.hold_leavers {
            vec![]
        } else {
            vec![RevocationCause::Leaver.as_str()]
        }
    }

    /// Where the counting window starts for revocations triggered up to `latest`:
    /// one window back, but never before the last release (a release starts afresh).
    pub fn window_start(
        &self,
        latest: DateTime<Utc>,
        last_release: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::hours(1));
        let start = latest.checked_sub_signed(window).unwrap_or(latest);
        last_release.map_or(start, |r| r.max(start))
    }
}

/// What the brake looks at when a batch brings new revocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrakeFigures {
    /// Revocations held and not yet released.
    pub already_held: i64,
    /// Revocations the brake applies to, issued since the window started.
    pub recent: i64,
    /// The batch's revocations the brake applies to.
    pub new: i64,
    /// Active grants across the organisation.
    pub active_grants: i64,
}

/// Why the batch's revocations must be held, or `None` to publish them.
pub fn verdict(policy: &BrakePolicy, figures: BrakeFigures) -> Option<String> {
    if figures.new == 0 {
        return None;
    }
    if figures.already_held > 0 {
        return Some(format!(
            "brake engaged: {} revocations already held for review",
            figures.already_held
        ));
    }
    let limit = policy
        .minimum
        .max((policy.share * figures.active_grants as f64) as i64);
    let total = figures.recent + figures.new;
    (total > limit).then(|| {
        format!(
            "{total} revocations within {:?} exceed the limit of {limit} ({:.0}% of {} active grants)",
            policy.window,
            policy.share * 100.0,
            figures.active_grants
        )
    })
}

/// The fact that the brake held `command`, decided at `at`.
pub fn held_fact(command: &RevocationCommand, reason: &str, at: DateTime<Utc>) -> LifecycleEvent {
    LifecycleEvent {
        causation_id: Some(command.trigger_event_id.into()),
        ..super::tracking::follow_up_fact(
            command.identity_id,
            "revocation_held",
            command.command_id,
            at,
            EventPayload::RevocationHeld {
                grant_id: command.grant_id,
                command_id: command.command_id,
                reason: reason.to_owned(),
            },
        )
    }
}

/// The fact that `actor` released the held revocation `command_id` at `at`.
pub fn released_fact(
    identity_id: IdentityId,
    grant_id: GrantId,
    command_id: CommandId,
    actor: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::reactor_event("revocation_released", command_id),
        identity_id,
        effective_time: at,
        recorded_time: at,
        source_system: super::OPERATOR_SOURCE.to_owned(),
        source_event_id: format!("revocation_released:{command_id}"),
        causation_id: None,
        payload: EventPayload::RevocationReleased {
            grant_id,
            command_id,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
        },
    }
}

/// Why an operator's release cannot be recorded: a release must say who releases and
/// why, in text the log can store (the same limits as every other fact). Empty when
/// it can be recorded.
pub fn release_problems(actor: &str, reason: &str) -> Vec<String> {
    let mut problems: Vec<String> = [("actor", actor), ("reason", reason)]
        .into_iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(field, _)| format!("{field} is required: say who releases the brake and why"))
        .collect();
    let probe = released_fact(
        Default::default(),
        Default::default(),
        Default::default(),
        actor,
        reason,
        DateTime::UNIX_EPOCH,
    );
    problems.extend(
        crate::limits::storage_problems(&probe)
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.problem)),
    );
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn figures(recent: i64, new: i64, active_grants: i64) -> BrakeFigures {
        BrakeFigures {
            already_held: 0,
            recent,
            new,
            active_grants,
        }
    }

    #[test]
    fn revocations_within_the_share_pass_and_beyond_it_are_held() {
        let policy = BrakePolicy {
            minimum: 10,
            ..BrakePolicy::default()
        };
        // 20% of 1,000 active grants is 200.
        assert_eq!(verdict(&policy, figures(150, 50, 1000)), None);
        let reason = verdict(&policy, figures(150, 51, 1000)).expect("201 > 200");
        assert!(
            reason.contains("201 revocations") && reason.contains("limit of 200"),
            "{reason}"
        );
    }

    #[test]
    fn a_small_organisation_may_always_revoke_the_minimum() {
        let policy = BrakePolicy::default();
        assert_eq!(verdict(&policy, figures(0, 100, 10)), None);
        assert!(verdict(&policy, figures(0, 101, 10)).is_some());
    }

    #[test]
    fn once_engaged_everything_new_is_held_until_released() {
        let f = BrakeFigures {
            already_held: 3,
            ..figures(0, 1, 1_000_000)
        };
        assert!(
            verdict(&BrakePolicy::default(), f)
                .unwrap()
                .contains("3 revocations already held")
        );
        // A batch without revocations is never held.
        assert_eq!(
            verdict(&BrakePolicy::default(), BrakeFigures { new: 0, ..f }),
            None
        );
    }

    #[test]
    fn a_release_names_who_and_why_in_storable_text() {
        assert!(release_problems("ops@example.com", "confirmed with HR").is_empty());
        let missing = release_problems(" ", "");
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(missing[0].contains("actor is required"));
        let nul = release_problems("ops\0", "ok");
        assert!(nul.iter().any(|p| p.starts_with("actor")), "{nul:?}");
    }

    #[test]
    fn leavers_are_exempt_unless_configured() {
        let policy = BrakePolicy::default();
        assert!(!policy.applies_to(RevocationCause::Leaver));
        assert!(policy.applies_to(RevocationCause::Mover));
        let strict = BrakePolicy {
            hold_leavers: true,
            ..policy
        };
        assert!(strict.applies_to(RevocationCause::Leaver) && strict.exempt_causes().is_empty());
    }

    #[test]
    fn a_release_restarts_the_counting_window() {
        let policy = BrakePolicy::default();
        let at = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        assert_eq!(policy.window_start(at(10), None), at(9));
        assert_eq!(policy.window_start(at(10), Some(at(8))), at(9));
        assert_eq!(
            policy.window_start(at(10), Some(at(9) + chrono::Duration::minutes(30))),
            at(9) + chrono::Duration::minutes(30)
        );
    }
}
