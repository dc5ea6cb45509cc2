//! Tenure's commands as SCIM operations: a grant is a PATCH adding the holder's user to
//! a group (creating the user first if needed), a revocation a PATCH removing it and a
//! read to check, suspend and restore the user's `active` flag, and reconciliation
//! every group's members by `userName`.

use std::collections::HashMap;

use tenure_connector::{
    Applied, Connector, ConnectorError, Entitlement, GrantCommand, HeldAccess, RevocationCommand,
    SuspensionCommand, TargetAccount,
};
use tracing::debug;

use crate::client::ScimClient;
use crate::resources::{self, Group, User};
use crate::settings::{MEMBER, ScimSettings, ScimSetupError};

/// A connector for the users and groups of one SCIM service provider. It needs a
/// token allowed to read and write both; groups themselves are the application's and
/// are never created or deleted here.
pub struct ScimConnector {
    client: ScimClient,
    system: String,
}

impl ScimConnector {
    /// A connector for the service provider `settings` names. Nothing is sent yet:
    /// [`ScimConnector::probe`] checks that it answers.
    pub fn new(settings: ScimSettings) -> Result<Self, ScimSetupError> {
        if settings.system.is_empty() {
            return Err(ScimSetupError::NoSystem);
        }
        Ok(ScimConnector {
            client: ScimClient::new(&settings)?,
            system: settings.system,
        })
    }

    /// The system name of the entitlements this connector executes.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// Reads the service provider's configuration, so a wrong URL or token shows at
    /// start rather than on every command.
    pub async fn probe(&self) -> Result<(), ConnectorError> {
        self.client.probe().await
    }

    /// The group an entitlement names, refused when it is not a membership of this
    /// connector's system.
    fn group_of<'a>(&self, entitlement: &'a Entitlement) -> Result<&'a str, ConnectorError> {
        if entitlement.system != self.system {
            return Err(ConnectorError::Permanent(format!(
                "entitlement {entitlement} is for system {:?}; this connector manages {:?}",
                entitlement.system, self.system
            )));
        }
        if entitlement.permission != MEMBER {
            return Err(ConnectorError::Permanent(format!(
                "entitlement {entitlement}: a SCIM group grants only {MEMBER:?}, \
                 as in {}:{}:{MEMBER}",
                self.system, entitlement.resource
            )));
        }
        if entitlement.resource.trim().is_empty() {
            return Err(ConnectorError::Permanent(format!(
                "entitlement {entitlement} names no group"
            )));
        }
        Ok(&entitlement.resource)
    }

    /// The group named `name` as it is now, with its members; a missing group needs
    /// a person (the application's administrator creates groups, not Tenure).
    async fn existing_group(&self, name: &str) -> Result<Group, ConnectorError> {
        let missing = || {
            ConnectorError::Permanent(format!("group {name:?} does not exist in the application"))
        };
        let found = self.client.find_group(name).await?.ok_or_else(missing)?;
        // Read by id: a query may leave members out of its results.
        self.client.group(&found.id).await?.ok_or_else(missing)
    }

    /// The holder's user, created if missing and enabled if disabled; says whether
    /// anything changed.
    async fn ensure_user(&self, holder: &TargetAccount) -> Result<(User, bool), ConnectorError> {
        let name = holder.name.as_str();
        let user = match self.client.find_user(name).await? {
            Some(user) => user,
            None => match self
                .client
                .create_user(name, &resources::new_user(holder))
                .await?
            {
                Some(created) => return Ok((created, true)),
                // Taken between the lookup and the creation (another instance of the
                // connector): use that user.
                None => self.client.find_user(name).await?.ok_or_else(|| {
                    ConnectorError::Permanent(format!(
                        "creating user {name:?}: the service provider says it conflicts \
                         with an existing user (409), yet none has that userName \
                         (another unique attribute, such as the e-mail, is taken?)"
                    ))
                })?,
            },
        };
        if user.is_active() {
            return Ok((user, false));
        }
        self.client.set_active(&user, true).await?;
        Ok((user, true))
    }

    /// Sets whether the holder's user is active (suspend and restore). SCIM can only
    /// disable a whole user, so every grant's suspension after the first finds it
    /// disabled already, as `docs/connectors.md` expects of such a target.
    async fn set_active(
        &self,
        command: &SuspensionCommand,
        active: bool,
    ) -> Result<Applied, ConnectorError> {
        self.group_of(&command.entitlement)?;
        let name = account(&command.holder)?;
        let unchanged = if active {
            Applied::AlreadyPresent
        } else {
            Applied::AlreadyAbsent
        };
        let Some(user) = self.client.find_user(name).await? else {
            // A user that does not exist has no access to disable; one to enable
            // again is gone, and a person must find out why.
            return if active {
                Err(ConnectorError::Permanent(format!(
                    "user {name:?} does not exist, so it cannot be enabled again"
                )))
            } else {
                Ok(unchanged)
            };
        };
        if user.is_active() == active {
            return Ok(unchanged);
        }
        self.client.set_active(&user, active).await?;
        Ok(Applied::Done)
    }
}

/// The holder's account name, the user's `userName`; a command without one cannot
/// be executed.
fn account(holder: &TargetAccount) -> Result<&str, ConnectorError> {
    if holder.name.trim().is_empty() {
        return Err(ConnectorError::Permanent(
            "the command names no account (holder.name is empty)".into(),
        ));
    }
    Ok(&holder.name)
}

impl Connector for ScimConnector {
    async fn grant(&self, command: &GrantCommand) -> Result<Applied, ConnectorError> {
        let group_name = self.group_of(&command.entitlement)?;
        account(&command.holder)?;
        // The group first: a grant to a group that does not exist must not leave a
        // new, unused user behind.
        let group = self.existing_group(group_name).await?;
        let (user, changed) = self.ensure_user(&command.holder).await?;
        if group.has_member(&user.id) {
            // A user enabled again above did change the target.
            return Ok(if changed {
                Applied::Done
            } else {
                Applied::AlreadyPresent
            });
        }
        self.client.add_member(&group.id, &user.id).await?;
        Ok(Applied::Done)
    }

    async fn revoke(&self, command: &RevocationCommand) -> Result<Applied, ConnectorError> {
        let group_name = self.group_of(&command.entitlement)?;
        let name = account(&command.holder)?;
        let Some(user) = self.client.find_user(name).await? else {
            return Ok(Applied::AlreadyAbsent);
        };
        let Some(found) = self.client.find_group(group_name).await? else {
            return Ok(Applied::AlreadyAbsent);
        };
        let Some(group) = self.client.group(&found.id).await? else {
            return Ok(Applied::AlreadyAbsent);
        };
        if !group.has_member(&user.id) {
            return Ok(Applied::AlreadyAbsent);
        }
        self.client.remove_member(&group.id, &user.id).await?;
        // Only access really gone may be reported gone: a server that accepts the
        // PATCH but keeps the member (a member managed elsewhere) is said so.
        match self.client.group(&group.id).await? {
            Some(after) if after.has_member(&user.id) => Err(ConnectorError::Permanent(format!(
                "user {name:?} is still a member of group {group_name:?} after PATCH \
                 (the service provider did not remove it)"
            ))),
            _ => Ok(Applied::Done),
        }
    }

    async fn suspend(&self, command: &SuspensionCommand) -> Result<Applied, ConnectorError> {
        self.set_active(command, false).await
    }

    async fn restore(&self, command: &SuspensionCommand) -> Result<Applied, ConnectorError> {
        self.set_active(command, true).await
    }

    async fn list(&self) -> Result<Vec<HeldAccess>, ConnectorError> {
        let names: HashMap<String, String> = self
            .client
            .all_users()
            .await?
            .into_iter()
            .filter(|u| !u.user_name.is_empty())
            .map(|u| (u.id, u.user_name))
            .collect();
        let mut held = Vec::new();
        for group in self.client.all_groups().await? {
            for member in group.members() {
                if member.is_group() {
                    continue;
                }
                match names.get(&member.value) {
                    Some(account) => held.push(HeldAccess {
                        account: account.clone(),
                        entitlement: Entitlement::new(&self.system, &group.display_name, MEMBER),
                    }),
                    // A nested group without a type, or a user created after the
                    // users were listed: the next reconciliation sees it.
                    None => debug!(group = %group.display_name, member = %member.value,
                                   "a group member that is no known user is skipped"),
                }
            }
        }
        // A server that ignores paging returns some resources twice.
        held.sort();
        held.dedup();
        Ok(held)
    }
}
