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
    #[error(
        "entitlement class {class:?}: pattern {pattern:?} is not system:resource:permission (each part a name or *)"
    )]
    Pattern { class: String, pattern: String },
    #[error("entitlement class {class:?}: max_days must be at least 1")]
    ZeroDuration { class: String },
}

/// Matches entitlements part by part; `*` matches any value of that part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntitlementPattern {
    parts: [Option<String>; 3],
}

impl EntitlementPattern {
    /// Reads `system:resource:permission`, where any part may be `*`.
    pub fn parse(text: &str) -> Option<EntitlementPattern> {
        let (system, rest) = text.split_once(':')?;
        let (resource, permission) = rest.rsplit_once(':')?;
        let part = |p: &str| (p != "*").then(|| p.to_owned());
        if [system, resource, permission].iter().any(|p| p.is_empty()) {
            return None;
        }
        Some(EntitlementPattern {
            parts: [part(system), part(resource), part(permission)],
        })
    }

    /// Whether `entitlement` falls under this pattern.
    pub fn matches(&self, entitlement: &Entitlement) -> bool {
        let values = [
            &entitlement.system,
            &entitlement.resource,
            &entitlement.permission,
        ];
        self.parts
            .iter()
            .zip(values)
            .all(|(p, v)| p.as_ref().is_none_or(|p| p == v))
    }
}

/// A class of entitlements (admin access, production data...) with a longest
/// allowed grant, so requests for more are refused at the door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntitlementClass {
    pub name: String,
    pub patterns: Vec<EntitlementPattern>,
    pub max_days: u32,
}

/// What a leave of absence takes away until the person returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeavePolicy {
    /// Systems whose grants are suspended; `*` suspends every grant.
    pub suspend_systems: Vec<String>,
}

impl LeavePolicy {
    /// Whether a grant on `entitlement` is suspended during a leave of absence.
    pub fn suspends(&self, entitlement: &Entitlement) -> bool {
        self.suspend_systems
            .iter()
            .any(|s| s == "*" || *s == entitlement.system)
    }
}

/// What reconciliation does about access a target holds that Tenure never granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconciliationPolicy {
    /// Systems whose out-of-band access is revoked (`*`: every system); elsewhere it
    /// is only reported.
    pub revoke_out_of_band: Vec<String>,
}

impl ReconciliationPolicy {
    /// Whether access to `entitlement` found in its target without a grant is revoked.
    pub fn revokes_out_of_band(&self, entitlement: &Entitlement) -> bool {
        self.revoke_out_of_band
            .iter()
            .any(|s| s == "*" || *s == entitlement.system)
    }
}

/// What the ITSM side promises: how long an access request may take to be fulfilled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPolicy {
    /// Hours from request to fulfilment before the request breaches its SLA.
    pub fulfilment_sla_hours: u32,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy {
            fulfilment_sla_hours: 72,
        }
    }
}

/// Rules for service accounts, API keys and agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonHumanPolicy {
    /// Time a non-human identity may go without an owner before its access is revoked.
    pub orphan_grace_days: u32,
}

impl Default for NonHumanPolicy {
    fn default() -> Self {
        NonHumanPolicy {
            orphan_grace_days: 14,
        }
    }
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
    pub leave_of_absence: LeavePolicy,
    pub non_human: NonHumanPolicy,
    /// The fulfilment SLA of access requests (`[requests]`).
    pub requests: RequestPolicy,
    /// Checked in file order; a grant in several classes gets the shortest limit.
    pub classes: Vec<EntitlementClass>,
    /// What intake does with a role this policy does not define (`[intake]`).
    pub unknown_roles: UnknownRoles,
    /// What reconciliation revokes besides reporting (`[reconciliation]`).
    pub reconciliation: ReconciliationPolicy,
}

/// What intake does with a joiner or mover to a role the policy does not define: such
/// a person would silently get no birthright access, which usually means a typo in
/// the HR system or a policy not yet updated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownRoles {
    /// Refuse the event (422 naming `role`); the default.
    #[default]
    Refuse,
    /// Accept it: the person gets no birthright until the policy names the role.
    Accept,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntakeFile {
    #[serde(default)]
    unknown_roles: UnknownRoles,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    roles: BTreeMap<String, RoleFile>,
    #[serde(default)]
    leave_of_absence: Option<LeaveFile>,
    #[serde(default)]
    non_human: Option<NonHumanFile>,
    #[serde(default)]
    requests: Option<RequestFile>,
    #[serde(default)]
    entitlement_classes: BTreeMap<String, ClassFile>,
    #[serde(default)]
    intake: Option<IntakeFile>,
    #[serde(default)]
    reconciliation: Option<ReconciliationFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconciliationFile {
    #[serde(default)]
    revoke_out_of_band: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaveFile {
    #[serde(default)]
    suspend_systems: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    fulfilment_sla_hours: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NonHumanFile {
    orphan_grace_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    entitlements: Vec<String>,
    max_days: u32,
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
        let mut classes = Vec::new();
        for (class, entry) in file.entitlement_classes {
            if entry.max_days == 0 {
                return Err(PolicyError::ZeroDuration { class });
            }
            let patterns = entry
                .entitlements
                .iter()
                .map(|p| {
                    EntitlementPattern::parse(p).ok_or_else(|| PolicyError::Pattern {
                        class: class.clone(),
                        pattern: p.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            classes.push(EntitlementClass {
                name: class,
                patterns,
                max_days: entry.max_days,
            });
        }
        Ok(Policy {
            roles,
            leave_of_absence: LeavePolicy {
                suspend_systems: file
                    .leave_of_absence
                    .map(|l| l.suspend_systems)
                    .unwrap_or_default(),
            },
            non_human: file
                .non_human
                .map(|n| NonHumanPolicy {
                    orphan_grace_days: n.orphan_grace_days,
                })
                .unwrap_or_default(),
            requests: file
                .requests
                .map(|r| RequestPolicy {
                    fulfilment_sla_hours: r.fulfilment_sla_hours.max(1),
                })
                .unwrap_or_default(),
            classes,
            unknown_roles: file.intake.map(|i| i.unknown_roles).unwrap_or_default(),
            reconciliation: ReconciliationPolicy {
                revoke_out_of_band: file
                    .reconciliation
                    .map(|r| r.revoke_out_of_band)
                    .unwrap_or_default(),
            },
        })
    }

    /// The strictest entitlement class covering `entitlement`, if any: its name and
    /// the longest grant it allows.
    pub fn max_duration(&self, entitlement: &Entitlement) -> Option<(&str, chrono::Duration)> {
        self.classes
            .iter()
            .filter(|c| c.patterns.iter().any(|p| p.matches(entitlement)))
            .min_by_key(|c| c.max_days)
            .map(|c| {
                (
                    c.name.as_str(),
                    chrono::Duration::days(i64::from(c.max_days)),
                )
            })
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
    fn classes_leave_and_non_human_sections_are_read() {
        let p = Policy::from_toml(
            r#"
            [leave_of_absence]
            suspend_systems = ["vpn"]
            [non_human]
            orphan_grace_days = 7
            [requests]
            fulfilment_sla_hours = 24
            [entitlement_classes.admin]
            entitlements = ["*:*:admin", "aws:prod:*"]
            max_days = 30
            [entitlement_classes.prod]
            entitlements = ["aws:prod:*"]
            max_days = 7
            "#,
        )
        .unwrap();
        assert!(
            p.leave_of_absence
                .suspends(&"vpn:corp:user".parse().unwrap())
        );
        assert!(
            !p.leave_of_absence
                .suspends(&"slack:acme:member".parse().unwrap())
        );
        assert_eq!(p.non_human.orphan_grace_days, 7);
        assert_eq!(p.requests.fulfilment_sla_hours, 24);
        assert_eq!(
            Policy::from_toml("").unwrap().requests.fulfilment_sla_hours,
            72
        );
        let (class, max) = p
            .max_duration(&"github:acme:admin".parse().unwrap())
            .unwrap();
        assert_eq!((class, max.num_days()), ("admin", 30));
        let (class, max) = p.max_duration(&"aws:prod:admin".parse().unwrap()).unwrap();
        assert_eq!((class, max.num_days()), ("prod", 7));
        assert!(
            p.max_duration(&"github:acme:member".parse().unwrap())
                .is_none()
        );
    }

    #[test]
    fn bad_class_pattern_names_class_and_pattern() {
        let err = Policy::from_toml(
            "[entitlement_classes.admin]\nentitlements = [\"admin\"]\nmax_days = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("admin") && err.contains("system:resource"),
            "{err}"
        );
    }

    #[test]
    fn missing_owner_is_refused() {
        let err = Policy::from_toml("[roles.sales]\nowner = \" \"\n").unwrap_err();
        assert!(matches!(err, PolicyError::MissingOwner { .. }));
    }
}
