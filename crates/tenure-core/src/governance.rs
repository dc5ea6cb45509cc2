//! What each governance figure counts, defined once. The projector stores what can be
//! decided per grant when it writes the grant (so the query API and `/metrics` only
//! count), and `tenure report` applies the same functions to an identity's state; so
//! the API, the metrics and the audit cannot disagree on what "ungoverned" or "past
//! expiry" means.

use chrono::{DateTime, Utc};

use crate::state::{Grant, GrantStatus, IdentityState};

/// Whether a grant still counts in the governance figures: held by its holder, active
/// or with its revocation pending. A revoked grant is history, not exposure.
pub fn is_held(grant: &Grant) -> bool {
    !matches!(grant.status, GrantStatus::Revoked { .. })
}

/// A grant lacking what every grant must name: an owner, a business reason, or a
/// revocation condition besides leaving (an expiry or the end of the role).
pub fn is_ungoverned(grant: &Grant) -> bool {
    grant.owner.trim().is_empty()
        || grant.business_reason.trim().is_empty()
        || !grant.revocation.is_governed()
}

/// An active grant whose expiry has passed at `now` with no revocation decided yet.
pub fn is_past_expiry(grant: &Grant, now: DateTime<Utc>) -> bool {
    grant.is_active() && grant.revocation.expires_at.is_some_and(|e| e < now)
}

/// How long a revocation may wait for its connector before it counts as overdue.
pub fn revocation_overdue_after() -> chrono::Duration {
    chrono::Duration::hours(1)
}

/// A revocation decided before this time and still not confirmed at `now` is overdue
/// (for counting in SQL: `status_since < overdue_before(now)`).
pub fn overdue_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_signed(revocation_overdue_after())
        .unwrap_or(now)
}

/// A grant whose revocation was decided but not confirmed by its connector for longer
/// than [`revocation_overdue_after`].
pub fn is_revocation_overdue(grant: &Grant, now: DateTime<Utc>) -> bool {
    matches!(grant.status, GrantStatus::RevocationPending { since, .. } if since < overdue_before(now))
}

/// A live non-human identity whose owner left and that no new owner has claimed (its
/// access goes when the grace period ends, and stays gone while it is orphaned).
pub fn is_orphaned(state: &IdentityState) -> bool {
    state.kind.is_non_human() && state.status.is_employed() && state.orphaned_until.is_some()
}

#[cfg(test)]
mod tests {
    use crate::ids::{CommandId, GrantId};
    use chrono::TimeZone;

    use super::*;
    use crate::model::{Entitlement, GrantOrigin, RevocationCondition};

    fn grant(owner: &str, reason: &str, revocation: RevocationCondition) -> Grant {
        Grant {
            grant_id: GrantId::nil(),
            entitlement: Entitlement::new("github", "acme", "member"),
            owner: owner.into(),
            business_reason: reason.into(),
            revocation,
            origin: GrantOrigin::Request {
                request_id: "R1".into(),
            },
            granted_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            status: GrantStatus::Active,
            failed_attempts: 0,
            escalated: false,
            suspended: false,
            held_by_brake: false,
            found_not_removed: 0,
        }
    }

    #[test]
    fn a_grant_lacking_owner_reason_or_end_is_ungoverned() {
        let ends = RevocationCondition {
            expires_at: None,
            ends_on_role_change: true,
        };
        assert!(!is_ungoverned(&grant("M1", "on-call", ends.clone())));
        assert!(is_ungoverned(&grant(" ", "on-call", ends.clone())));
        assert!(is_ungoverned(&grant("M1", "", ends)));
        assert!(is_ungoverned(&grant(
            "M1",
            "on-call",
            RevocationCondition::default()
        )));
    }

    #[test]
    fn only_an_active_grant_is_past_its_expiry_and_a_revoked_one_is_not_held() {
        let expired = RevocationCondition {
            expires_at: Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()),
            ends_on_role_change: false,
        };
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let mut g = grant("M1", "on-call", expired);
        assert!(is_past_expiry(&g, now) && is_held(&g));
        g.status = GrantStatus::RevocationPending {
            command_id: CommandId::nil(),
            cause: crate::model::RevocationCause::Expiry,
            since: now,
        };
        assert!(!is_past_expiry(&g, now) && is_held(&g));
        g.status = GrantStatus::Revoked {
            command_id: CommandId::nil(),
            cause: None,
            revoked_at: now,
        };
        assert!(!is_held(&g));
    }
}
