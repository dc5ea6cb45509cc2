//! The vocabulary of identity governance: who holds what, why, and until when.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One permission on one resource of one system: the unit that is granted and revoked.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entitlement {
    pub system: String,
    pub resource: String,
    pub permission: String,
}

impl Entitlement {
    /// Builds an entitlement from its three parts.
    pub fn new(system: &str, resource: &str, permission: &str) -> Self {
        Entitlement {
            system: system.to_owned(),
            resource: resource.to_owned(),
            permission: permission.to_owned(),
        }
    }
}

impl fmt::Display for Entitlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.system, self.resource, self.permission)
    }
}

/// Why an entitlement string could not be read; the message names the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "entitlement {0:?} is not of the form system:resource:permission with three non-empty parts"
)]
pub struct EntitlementParseError(pub String);

impl FromStr for Entitlement {
    type Err = EntitlementParseError;

    /// Parses `system:resource:permission`; the resource may itself contain colons.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (system, rest) = s
            .split_once(':')
            .ok_or_else(|| EntitlementParseError(s.to_owned()))?;
        let (resource, permission) = rest
            .rsplit_once(':')
            .ok_or_else(|| EntitlementParseError(s.to_owned()))?;
        if system.is_empty() || resource.is_empty() || permission.is_empty() {
            return Err(EntitlementParseError(s.to_owned()));
        }
        Ok(Entitlement::new(system, resource, permission))
    }
}

/// What sort of identity holds access; non-human kinds need an owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    #[default]
    Employee,
    Contractor,
    ServiceAccount,
    ApiKey,
    Agent,
}

impl IdentityKind {
    /// Service accounts, API keys and agents: they need an owner, expire and rotate.
    pub fn is_non_human(self) -> bool {
        matches!(
            self,
            IdentityKind::ServiceAccount | IdentityKind::ApiKey | IdentityKind::Agent
        )
    }

    /// The stable lowercase name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Employee => "employee",
            IdentityKind::Contractor => "contractor",
            IdentityKind::ServiceAccount => "service_account",
            IdentityKind::ApiKey => "api_key",
            IdentityKind::Agent => "agent",
        }
    }
}

/// HR attributes of a person; `None` means the source did not say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    pub display_name: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub manager_id: Option<String>,
    pub location: Option<String>,
    /// Non-human identities: the person accountable (an HR employee id).
    #[serde(default)]
    pub owner: Option<String>,
    /// Non-human identities: who sponsors its existence.
    #[serde(default)]
    pub sponsor: Option<String>,
    /// Non-human identities: the system holding the credential, whose connector rotates it.
    #[serde(default)]
    pub credential_system: Option<String>,
    /// Non-human identities: when the identity itself must end (its access with it).
    #[serde(default)]
    pub credential_expires_at: Option<DateTime<Utc>>,
    /// Non-human identities: how often the credential must be rotated.
    #[serde(default)]
    pub rotation_period_days: Option<u32>,
    /// The sign-in name most target systems know the account by.
    #[serde(default)]
    pub login: Option<String>,
    /// The primary e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Account names in particular target systems where they differ from the login
    /// (system to name); an empty name in an update removes the system's entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, String>,
    /// The person's record as their provisioning source last stated it (a SCIM User,
    /// as JSON text), opaque to every rule: kept so that the source reads back exactly
    /// what it wrote, attributes Tenure does not interpret included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_record: Option<String>,
    /// On a change: the attributes (by their names in [`CLEARABLE_ATTRIBUTES`]) the
    /// source unassigned. `None` elsewhere means "not said", so clearing needs a word
    /// of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleared: Vec<String>,
}

/// The person attributes a source can unassign on a change (see [`Attributes::cleared`]).
pub const CLEARABLE_ATTRIBUTES: [&str; 7] = [
    "display_name",
    "department",
    "title",
    "manager_id",
    "location",
    "login",
    "email",
];

impl Attributes {
    /// The person attributes that a source can clear, by name, for reading and writing.
    pub(crate) fn clearable_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "display_name" => &mut self.display_name,
            "department" => &mut self.department,
            "title" => &mut self.title,
            "manager_id" => &mut self.manager_id,
            "location" => &mut self.location,
            "login" => &mut self.login,
            "email" => &mut self.email,
            _ => return None,
        })
    }

    /// The value of one of the [`CLEARABLE_ATTRIBUTES`], so a change can be decided
    /// attribute by attribute.
    pub fn clearable(&self, name: &str) -> Option<&Option<String>> {
        Some(match name {
            "display_name" => &self.display_name,
            "department" => &self.department,
            "title" => &self.title,
            "manager_id" => &self.manager_id,
            "location" => &self.location,
            "login" => &self.login,
            "email" => &self.email,
            _ => return None,
        })
    }
}

/// When a grant must end. A grant always ends when its holder leaves; this adds the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationCondition {
    pub expires_at: Option<DateTime<Utc>>,
    pub ends_on_role_change: bool,
}

impl RevocationCondition {
    /// A governed grant names at least one way to end besides leaving.
    pub fn is_governed(&self) -> bool {
        self.expires_at.is_some() || self.ends_on_role_change
    }
}

/// Where a grant came from, so a mover knows what belonged to the old role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantOrigin {
    Birthright { role: String },
    Request { request_id: String },
}

/// Why a grant is being taken away; part of the command id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationCause {
    Leaver,
    Mover,
    Expiry,
    OrphanedOwner,
    Policy,
    /// Reconciliation found the access in the target after its revocation was
    /// confirmed, or found access Tenure never granted and the policy revokes it.
    Reconciliation,
}

impl RevocationCause {
    /// The stable lowercase name used in ids, JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationCause::Leaver => "leaver",
            RevocationCause::Mover => "mover",
            RevocationCause::Expiry => "expiry",
            RevocationCause::OrphanedOwner => "orphaned_owner",
            RevocationCause::Policy => "policy",
            RevocationCause::Reconciliation => "reconciliation",
        }
    }
}

/// How what a target system holds differs from what Tenure granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// The target holds access Tenure never granted.
    OutOfBand,
    /// The target still holds access whose revocation its connector confirmed.
    NotRemoved,
    /// Tenure granted access the target does not hold.
    Missing,
}

impl DiscrepancyKind {
    /// The stable lowercase name used in JSON, SQL and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::OutOfBand => "out_of_band",
            DiscrepancyKind::NotRemoved => "not_removed",
            DiscrepancyKind::Missing => "missing",
        }
    }
}

/// Which kind of clock-driven deadline fell due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    LeaveEffective,
    GrantExpiry,
    JoinEffective,
    MoveEffective,
    /// A non-human credential is due for rotation.
    CredentialRotation,
    /// A non-human identity reached its expiry.
    CredentialExpiry,
    /// A non-human identity's owner left and no new owner was named in time.
    OrphanGrace,
    /// A grant reached the longest its entitlement class allows under the policy.
    PolicyLimit,
    /// A leave of absence announced in advance begins.
    AbsenceStart,
    /// The announced return from a leave of absence.
    AbsenceEnd,
}

impl DeadlineKind {
    /// Every kind, so names stored in SQL can be read back.
    pub const ALL: [DeadlineKind; 10] = [
        DeadlineKind::LeaveEffective,
        DeadlineKind::GrantExpiry,
        DeadlineKind::JoinEffective,
        DeadlineKind::MoveEffective,
        DeadlineKind::CredentialRotation,
        DeadlineKind::CredentialExpiry,
        DeadlineKind::OrphanGrace,
        DeadlineKind::PolicyLimit,
        DeadlineKind::AbsenceStart,
        DeadlineKind::AbsenceEnd,
    ];

    /// The stable lowercase name used in ids, JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::LeaveEffective => "leave_effective",
            DeadlineKind::GrantExpiry => "grant_expiry",
            DeadlineKind::JoinEffective => "join_effective",
            DeadlineKind::MoveEffective => "move_effective",
            DeadlineKind::CredentialRotation => "credential_rotation",
            DeadlineKind::CredentialExpiry => "credential_expiry",
            DeadlineKind::OrphanGrace => "orphan_grace",
            DeadlineKind::PolicyLimit => "policy_limit",
            DeadlineKind::AbsenceStart => "absence_start",
            DeadlineKind::AbsenceEnd => "absence_end",
        }
    }
}

/// Which sort of command a connector is acknowledging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandType {
    Revoke,
    Grant,
    Suspend,
    Restore,
    Rotate,
}

impl CommandType {
    /// The stable lowercase name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandType::Revoke => "revoke",
            CommandType::Grant => "grant",
            CommandType::Suspend => "suspend",
            CommandType::Restore => "restore",
            CommandType::Rotate => "rotate",
        }
    }

    /// The command type named by [`as_str`](CommandType::as_str), as stored in SQL.
    pub fn from_name(name: &str) -> Option<CommandType> {
        [
            CommandType::Revoke,
            CommandType::Grant,
            CommandType::Suspend,
            CommandType::Restore,
            CommandType::Rotate,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// Where an access request stands in the ITSM tool before it becomes a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Requested,
    Approved,
    Rejected,
    Cancelled,
}

impl RequestState {
    /// The stable lowercase name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Cancelled => "cancelled",
        }
    }
}

/// A connector's verdict on a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    Done,
    AlreadyAbsent,
    FailedRetryable,
    FailedPermanent,
}

impl CommandStatus {
    /// The stable snake_case name used in JSON, SQL and fact ids.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Done => "done",
            CommandStatus::AlreadyAbsent => "already_absent",
            CommandStatus::FailedRetryable => "failed_retryable",
            CommandStatus::FailedPermanent => "failed_permanent",
        }
    }

    /// Done and already-absent both mean the access is gone (or in place).
    pub fn is_success(self) -> bool {
        matches!(self, CommandStatus::Done | CommandStatus::AlreadyAbsent)
    }
}

/// Whether a scheduled time is the deadline `due`, at PostgreSQL's microsecond
/// precision (deadlines make a round trip through the database before they fire).
pub fn same_instant(scheduled: Option<DateTime<Utc>>, due: DateTime<Utc>) -> bool {
    scheduled.is_some_and(|s| s.timestamp_micros() == due.timestamp_micros())
}

pub use crate::ids::{CommandId, DeadlineId, EventId, GrantId, IdentityId};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlement_round_trips_and_resource_may_contain_colons() {
        let e: Entitlement = "aws:arn:aws:iam::123:role/admin:assume".parse().unwrap();
        assert_eq!(e.system, "aws");
        assert_eq!(e.resource, "arn:aws:iam::123:role/admin");
        assert_eq!(e.permission, "assume");
        assert_eq!(e.to_string().parse::<Entitlement>().unwrap(), e);
    }

    #[test]
    fn malformed_entitlement_is_an_error_naming_the_input() {
        let err = "github-only".parse::<Entitlement>().unwrap_err();
        assert!(err.to_string().contains("github-only"));
        assert!("a::b".parse::<Entitlement>().is_err());
    }
}
