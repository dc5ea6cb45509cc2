//! Which account in a target system a command acts on, and the governance a command
//! carries so the target system's own audit trail can record it.
//!
//! Connectors must never keep their own map from Tenure's identity ids to accounts:
//! every command names its holder's account, resolved here from what HR, SCIM or a
//! non-human registration said about the identity.

use serde::{Deserialize, Serialize};

use crate::event::{EventPayload, LifecycleEvent};
use crate::model::{Attributes, GrantOrigin, RevocationCondition};
use crate::state::{Grant, IdentityState};

/// The account that holds (or is to hold) access in one target system.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetAccount {
    /// The name connectors act on: the per-system account name if one is known, else
    /// the login, else the e-mail, else the source's key for the identity. Empty
    /// only when the source said nothing at all about the identity.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub login: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_person_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
}

impl TargetAccount {
    /// The account in `system` of an identity with these attributes and source key.
    pub fn resolve(attributes: &Attributes, source_person_id: &str, system: &str) -> Self {
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        let login = text(&attributes.login);
        let email = text(&attributes.email);
        let name = [
            attributes.accounts.get(system).cloned().unwrap_or_default(),
            login.clone(),
            email.clone(),
            source_person_id.to_owned(),
        ]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or_default();
        TargetAccount {
            name,
            login,
            email,
            source_person_id: source_person_id.to_owned(),
            display_name: text(&attributes.display_name),
        }
    }

    /// The holder's account in `system` as `trigger` leaves it: a joiner or a move
    /// may announce the account names in the same event that calls for the command.
    pub fn of(before: &IdentityState, trigger: &LifecycleEvent, system: &str) -> Self {
        let source_person_id = match &trigger.payload {
            EventPayload::IdentityJoined {
                source_person_id, ..
            } => source_person_id.as_str(),
            _ => before.source_person_id.as_deref().unwrap_or_default(),
        };
        match &trigger.payload {
            EventPayload::IdentityJoined { attributes, .. }
            | EventPayload::IdentityMoved { attributes, .. } => {
                let mut merged = before.attributes.clone();
                crate::state::merge_attributes(&mut merged, attributes);
                TargetAccount::resolve(&merged, source_person_id, system)
            }
            _ => TargetAccount::resolve(&before.attributes, source_person_id, system),
        }
    }
}

/// Why a grant exists and when it ends, as commands carry it to the target system.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantTerms {
    pub owner: String,
    pub business_reason: String,
    pub revocation: RevocationCondition,
    /// Set for birthright access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthright_role: Option<String>,
    /// Set for requested access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl GrantTerms {
    /// The terms a grant was made under.
    pub fn of(grant: &Grant) -> Self {
        let (birthright_role, request_id) = match &grant.origin {
            GrantOrigin::Birthright { role } => (Some(role.clone()), None),
            GrantOrigin::Request { request_id } => (None, Some(request_id.clone())),
        };
        GrantTerms {
            owner: grant.owner.clone(),
            business_reason: grant.business_reason.clone(),
            revocation: grant.revocation.clone(),
            birthright_role,
            request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes() -> Attributes {
        Attributes {
            login: Some("ada".into()),
            email: Some("ada@example.com".into()),
            accounts: [("github".to_owned(), "ada-l".to_owned())].into(),
            display_name: Some("Ada Lovelace".into()),
            ..Attributes::default()
        }
    }

    #[test]
    fn a_per_system_name_wins_over_the_login() {
        let github = TargetAccount::resolve(&attributes(), "E1", "github");
        assert_eq!(github.name, "ada-l");
        assert_eq!(github.login, "ada");
        let postgres = TargetAccount::resolve(&attributes(), "E1", "postgres");
        assert_eq!(postgres.name, "ada");
        assert_eq!(postgres.display_name, "Ada Lovelace");
    }

    #[test]
    fn without_a_login_the_email_then_the_source_key_name_the_account() {
        let mut a = attributes();
        a.login = None;
        assert_eq!(
            TargetAccount::resolve(&a, "E1", "postgres").name,
            "ada@example.com"
        );
        a.email = None;
        assert_eq!(TargetAccount::resolve(&a, "E1", "postgres").name, "E1");
        assert_eq!(
            TargetAccount::resolve(&Attributes::default(), "", "x").name,
            ""
        );
    }
}
