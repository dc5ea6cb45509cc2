//! The governance policy: which access each role is born with, and who owns it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Entitlement, EntitlementParseError};

/// Why a policy file was refused; the message names the role and entry at fault,
/// so an operator can fix the file. The running policy stays in force.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("role {role:?}: {source}")]
    Entitlement {
        role: String,
        #[source]
        source: EntitlementParseError,
    },
    #[error("role {role:?} has an empty owner: every birthright grant needs a named owner")]
    MissingOwner { role: String },
}

/// What one role is born with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePolicy {
    /// Who answers for this role's birthright grants.
    pub owner: String,
    pub birthright: Vec<Entitlement>,
}

/// The rules the reactor applies. Roles not named here have no birthright access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub roles: BTreeMap<String, RolePolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    roles: BTreeMap<String, RoleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    owner: String,
    #[serde(default)]
    birthright: Vec<String>,
}

impl Policy {
    /// Reads a policy from TOML text such as `deploy/policy.toml`.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text)?;
        let mut roles = BTreeMap::new();
        for (role, entry) in file.roles {
            if entry.owner.trim().is_empty() {
                return Err(PolicyError::MissingOwner { role });
            }
            let birthright = entry
                .birthright
                .iter()
                .map(|s| s.parse())
                .collect::<Result<Vec<Entitlement>, _>>()
                .map_err(|source| PolicyError::Entitlement {
                    role: role.clone(),
                    source,
                })?;
            roles.insert(
                role,
                RolePolicy {
                    owner: entry.owner,
                    birthright,
                },
            );
        }
        Ok(Policy { roles })
    }

    /// The role's policy, if the role is known.
    pub fn role(&self, role: &str) -> Option<&RolePolicy> {
        self.roles.get(role)
    }

    /// The role's birthright entitlements (none for an unknown role).
    pub fn birthright(&self, role: &str) -> &[Entitlement] {
        self.role(role)
            .map(|r| r.birthright.as_slice())
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_roles_and_birthright() {
        let p = Policy::from_toml(
            r#"
            [roles.engineer]
            owner = "cto"
            birthright = ["github:acme:member", "slack:acme:member"]
            "#,
        )
        .unwrap();
        assert_eq!(p.birthright("engineer").len(), 2);
        assert_eq!(p.role("engineer").unwrap().owner, "cto");
        assert!(p.birthright("nobody").is_empty());
    }

    #[test]
    fn bad_entitlement_names_the_role() {
        let err = Policy::from_toml("[roles.sales]\nowner = \"cro\"\nbirthright = [\"crm\"]\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("sales") && msg.contains("crm"), "{msg}");
    }

    #[test]
    fn missing_owner_is_refused() {
        let err = Policy::from_toml("[roles.sales]\nowner = \" \"\n").unwrap_err();
        assert!(matches!(err, PolicyError::MissingOwner { .. }));
    }
}
