//! Tenure's ids: one type per kind of thing, and how each is derived (deploy/architecture.md).
//!
//! Every id is a UUIDv5 of its natural key, so a redelivered HR event, a replayed
//! log or a republished command yields the same id and consumers can recognise the
//! duplicate instead of acting twice. Each kind has its own type so that a grant id
//! can never be passed where a command id is expected: they are all UUIDs on the
//! wire and in the database, and nothing else.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{DeadlineKind, Entitlement, RevocationCause};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "postgres", derive(postgres_types::ToSql, postgres_types::FromSql))]
        #[cfg_attr(feature = "postgres", postgres(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// The nil id: the placeholder where a record has no such subject (a
            /// rotation names no grant).
            pub const NIL: $name = $name(Uuid::nil());

            /// Wraps a UUID read from the wire or the database as this kind of id.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            /// The UUID, for the wire and the database.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The placeholder [`Self::NIL`], as a function for symmetry with `Uuid`.
            pub const fn nil() -> Self {
                Self::NIL
            }

            /// An id from a number, for tests and fixtures that want readable ids.
            pub const fn from_u128(value: u128) -> Self {
                $name(Uuid::from_u128(value))
            }

            /// Whether this is the placeholder [`Self::NIL`].
            pub fn is_nil(&self) -> bool {
                self.0.is_nil()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                $name(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

id_type! {
    /// A person or non-human identity, the subject of every lifecycle event.
    IdentityId
}
id_type! {
    /// One grant of one entitlement to one identity.
    GrantId
}
id_type! {
    /// A command to a connector; connectors deduplicate by it.
    CommandId
}
id_type! {
    /// A fact on the lifecycle log; a redelivered fact has the same id.
    EventId
}
id_type! {
    /// A deadline the scheduler fires once.
    DeadlineId
}

/// Tenure's UUIDv5 namespace; changing it would change every id ever issued.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_9a4d_4e57_8f0b_2d6c_1a9e_7b30);

fn v5(key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, key.as_bytes())
}

/// The identity authority for people and the non-human identities HR registers:
/// their source ids (employee numbers, account names) name them.
pub const PEOPLE: &str = "hr";

/// The identity known to `authority` (e.g. "hr" for people) under `source_id`.
pub fn identity(authority: &str, source_id: &str) -> IdentityId {
    IdentityId(v5(&format!("identity\0{authority}\0{source_id}")))
}

/// A fact announced by `source_system` under its own id `source_event_id`.
pub fn event(source_system: &str, source_event_id: &str) -> EventId {
    EventId(v5(&format!("event\0{source_system}\0{source_event_id}")))
}

/// A birthright grant created because of `trigger_event`: a rehire is a new
/// trigger, so it never resurrects a grant held before the leave.
pub fn birthright_grant(
    identity_id: IdentityId,
    trigger_event: EventId,
    entitlement: &Entitlement,
) -> GrantId {
    GrantId(v5(&format!(
        "grant\0birthright\0{identity_id}\0{trigger_event}\0{entitlement}"
    )))
}

/// A grant created by an access request in an ITSM tool.
pub fn request_grant(source_system: &str, request_id: &str) -> GrantId {
    GrantId(v5(&format!(
        "grant\0request\0{source_system}\0{request_id}"
    )))
}

/// The grant a revocation of out-of-band access names: Tenure never granted it, so
/// the id is derived from the holder and the access, the same at every pass.
pub fn out_of_band_grant(
    identity_id: IdentityId,
    account: &str,
    entitlement: &Entitlement,
) -> GrantId {
    GrantId(v5(&format!(
        "grant\0out_of_band\0{identity_id}\0{account}\0{entitlement}"
    )))
}

/// A revocation command: one per (grant, cause, triggering event).
pub fn revocation_command(
    grant_id: GrantId,
    cause: RevocationCause,
    trigger_event: EventId,
) -> CommandId {
    CommandId(v5(&format!(
        "command\0revoke\0{grant_id}\0{}\0{trigger_event}",
        cause.as_str()
    )))
}

/// A grant (provisioning) command for a grant.
pub fn grant_command(grant_id: GrantId) -> CommandId {
    CommandId(v5(&format!("command\0grant\0{grant_id}")))
}

/// A suspension (`action` "suspend") or restoration ("restore") of a grant, once per
/// leave of absence (the trigger).
pub fn suspension_command(grant_id: GrantId, action: &str, trigger_event: EventId) -> CommandId {
    CommandId(v5(&format!(
        "command\0{action}\0{grant_id}\0{trigger_event}"
    )))
}

/// The rotation of a non-human credential that fell due at `due`.
pub fn rotation_command(identity_id: IdentityId, due: DateTime<Utc>) -> CommandId {
    CommandId(v5(&format!(
        "command\0rotate\0{identity_id}\0{}",
        due.timestamp_micros()
    )))
}

/// The notice to a non-human identity that its owner left, because of `trigger_event`.
pub fn owner_left_notice(identity_id: IdentityId, trigger_event: EventId) -> EventId {
    EventId(v5(&format!(
        "event\0tenure-reactor\0owner_left\0{identity_id}\0{trigger_event}"
    )))
}

/// A fact the reactor appends to the log, derived from the command or grant it records.
pub fn reactor_event(kind: &str, subject: impl Into<Uuid>) -> EventId {
    let subject: Uuid = subject.into();
    EventId(v5(&format!("event\0tenure-reactor\0{kind}\0{subject}")))
}

/// A deadline; the scheduler's event for it has the id [`deadline_event`].
pub fn deadline(
    kind: DeadlineKind,
    identity_id: IdentityId,
    grant_id: Option<GrantId>,
    due: DateTime<Utc>,
) -> DeadlineId {
    let grant = grant_id.map(|g| g.to_string()).unwrap_or_default();
    DeadlineId(v5(&format!(
        "deadline\0{}\0{identity_id}\0{grant}\0{}",
        kind.as_str(),
        due.timestamp_micros()
    )))
}

/// The `DeadlineReached` event for a deadline: firing it twice is one event.
pub fn deadline_event(deadline_id: DeadlineId) -> EventId {
    EventId(v5(&format!("event\0tenure-scheduler\0{deadline_id}")))
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
        let g = GrantId::from_uuid(Uuid::from_u128(1));
        let t = EventId::from_uuid(Uuid::from_u128(2));
        let a = revocation_command(g, RevocationCause::Leaver, t);
        assert_eq!(a, revocation_command(g, RevocationCause::Leaver, t));
        assert_ne!(a, revocation_command(g, RevocationCause::Mover, t));
        assert_ne!(
            a,
            revocation_command(
                g,
                RevocationCause::Leaver,
                EventId::from_uuid(Uuid::from_u128(3))
            )
        );
    }
}
