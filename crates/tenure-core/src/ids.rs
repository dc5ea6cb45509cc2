//! Deterministic ids (DESIGN.md, decision 4).
//!
//! Every id is a UUIDv5 of its natural key, so a redelivered HR event, a replayed
//! log or a republished command yields the same id and consumers can recognise the
//! duplicate instead of acting twice.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{DeadlineKind, Entitlement, RevocationCause};

/// Tenure's UUIDv5 namespace; changing it would change every id ever issued.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_9a4d_4e57_8f0b_2d6c_1a9e_7b30);

fn v5(key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, key.as_bytes())
}

/// The identity authority for people and the non-human identities HR registers:
/// their source ids (employee numbers, account names) name them.
pub const PEOPLE: &str = "hr";

/// The identity known to `authority` (e.g. "hr" for people) under `source_id`.
pub fn identity(authority: &str, source_id: &str) -> Uuid {
    v5(&format!("identity\0{authority}\0{source_id}"))
}

/// A fact announced by `source_system` under its own id `source_event_id`.
pub fn event(source_system: &str, source_event_id: &str) -> Uuid {
    v5(&format!("event\0{source_system}\0{source_event_id}"))
}

/// A birthright grant created because of `trigger_event`: a rehire is a new
/// trigger, so it never resurrects a grant held before the leave.
pub fn birthright_grant(identity_id: Uuid, trigger_event: Uuid, entitlement: &Entitlement) -> Uuid {
    v5(&format!(
        "grant\0birthright\0{identity_id}\0{trigger_event}\0{entitlement}"
    ))
}

/// A grant created by an access request in an ITSM tool.
pub fn request_grant(source_system: &str, request_id: &str) -> Uuid {
    v5(&format!("grant\0request\0{source_system}\0{request_id}"))
}

/// A revocation command: one per (grant, cause, triggering event).
pub fn revocation_command(grant_id: Uuid, cause: RevocationCause, trigger_event: Uuid) -> Uuid {
    v5(&format!(
        "command\0revoke\0{grant_id}\0{}\0{trigger_event}",
        cause.as_str()
    ))
}

/// A grant (provisioning) command for a grant.
pub fn grant_command(grant_id: Uuid) -> Uuid {
    v5(&format!("command\0grant\0{grant_id}"))
}

/// A suspension (`action` "suspend") or restoration ("restore") of a grant, once per
/// leave of absence (the trigger).
pub fn suspension_command(grant_id: Uuid, action: &str, trigger_event: Uuid) -> Uuid {
    v5(&format!("command\0{action}\0{grant_id}\0{trigger_event}"))
}

/// The rotation of a non-human credential that fell due at `due`.
pub fn rotation_command(identity_id: Uuid, due: DateTime<Utc>) -> Uuid {
    v5(&format!(
        "command\0rotate\0{identity_id}\0{}",
        due.timestamp_micros()
    ))
}

/// The notice to a non-human identity that its owner left, because of `trigger_event`.
pub fn owner_left_notice(identity_id: Uuid, trigger_event: Uuid) -> Uuid {
    v5(&format!(
        "event\0tenure-reactor\0owner_left\0{identity_id}\0{trigger_event}"
    ))
}

/// A fact the reactor appends to the log, derived from the command or grant it records.
pub fn reactor_event(kind: &str, subject: Uuid) -> Uuid {
    v5(&format!("event\0tenure-reactor\0{kind}\0{subject}"))
}

/// A deadline; the scheduler's event for it has the id [`deadline_event`].
pub fn deadline(
    kind: DeadlineKind,
    identity_id: Uuid,
    grant_id: Option<Uuid>,
    due: DateTime<Utc>,
) -> Uuid {
    let grant = grant_id.map(|g| g.to_string()).unwrap_or_default();
    v5(&format!(
        "deadline\0{}\0{identity_id}\0{grant}\0{}",
        kind.as_str(),
        due.timestamp_micros()
    ))
}

/// The `DeadlineReached` event for a deadline: firing it twice is one event.
pub fn deadline_event(deadline_id: Uuid) -> Uuid {
    v5(&format!("event\0tenure-scheduler\0{deadline_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_natural_key_gives_same_id_and_different_keys_differ() {
        assert_eq!(event("workday", "1"), event("workday", "1"));
        assert_ne!(event("workday", "1"), event("workday", "2"));
        assert_ne!(event("workday", "1"), event("sap", "1"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(event("ab", "c"), event("a", "bc"));
    }

    #[test]
    fn revocation_command_id_depends_on_cause_and_trigger() {
        let g = Uuid::from_u128(1);
        let t = Uuid::from_u128(2);
        let a = revocation_command(g, RevocationCause::Leaver, t);
        assert_eq!(a, revocation_command(g, RevocationCause::Leaver, t));
        assert_ne!(a, revocation_command(g, RevocationCause::Mover, t));
        assert_ne!(
            a,
            revocation_command(g, RevocationCause::Leaver, Uuid::from_u128(3))
        );
    }
}
