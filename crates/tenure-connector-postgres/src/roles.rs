//! Role memberships as grants: GRANT role TO login, REVOKE, NOLOGIN for a leave of
//! absence, a new password for a rotation, and `pg_auth_members` for reconciliation.

use std::sync::Arc;

use tenure_connector::{
    Applied, Connector, ConnectorError, Entitlement, GrantCommand, HeldAccess, RevocationCommand,
    RotationCommand, SuspensionCommand,
};
use tenure_store::Database;
use tenure_store::db::quote_ident;
use tokio::sync::Mutex;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::sql;

/// The system name entitlements carry for this connector.
pub const SYSTEM: &str = "postgres";

/// A connector for the roles of one PostgreSQL server, connected to one database
/// (the entitlements' resource). It needs a role with CREATEROLE (or a superuser).
pub struct PostgresRoles {
    url: String,
    database: String,
    /// Roles reconciliation looks at (empty: every role but PostgreSQL's own).
    managed: Vec<String>,
    client: Mutex<Option<Arc<Client>>>,
}

impl PostgresRoles {
    /// Connects to `url`; `managed` limits reconciliation to these roles.
    pub async fn connect(url: &str, managed: Vec<String>) -> Result<Self, ConnectorError> {
        let client = Database::connect_unmanaged(url)
            .await
            .map_err(|e| ConnectorError::Retryable(format!("cannot connect: {e}")))?;
        let database: String = client
            .query_one(sql::CURRENT_DATABASE, &[])
            .await
            .map_err(classify)?
            .get(0);
        Ok(PostgresRoles {
            url: url.to_owned(),
            database,
            managed,
            client: Mutex::new(Some(Arc::new(client))),
        })
    }

    /// The database whose entitlements this connector executes.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// A live connection, reconnecting once the old one closed.
    async fn client(&self) -> Result<Arc<Client>, ConnectorError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(
            Database::connect_unmanaged(&self.url)
                .await
                .map_err(|e| ConnectorError::Retryable(format!("cannot connect: {e}")))?,
        );
        *slot = Some(client.clone());
        Ok(client)
    }

    /// The role an entitlement names, refused when it is for another database.
    fn role_of<'a>(&self, entitlement: &'a Entitlement) -> Result<&'a str, ConnectorError> {
        if entitlement.resource != self.database {
            return Err(ConnectorError::Permanent(format!(
                "entitlement {entitlement} is for database {:?}; this connector manages {:?}",
                entitlement.resource, self.database
            )));
        }
        name("role", &entitlement.permission)
    }

    /// Whether `role` exists, and if so whether it may log in.
    async fn can_login(&self, client: &Client, role: &str) -> Result<Option<bool>, ConnectorError> {
        Ok(client
            .query_opt(sql::ROLE_EXISTS, &[&role])
            .await
            .map_err(classify)?
            .map(|r| r.get(0)))
    }

    async fn is_member(
        &self,
        client: &Client,
        role: &str,
        login: &str,
    ) -> Result<bool, ConnectorError> {
        Ok(client
            .query_opt(sql::IS_MEMBER, &[&role, &login])
            .await
            .map_err(classify)?
            .is_some())
    }

    /// Sets whether the holder of a suspended grant may log in (suspend and restore).
    async fn set_login(
        &self,
        command: &SuspensionCommand,
        allowed: bool,
    ) -> Result<Applied, ConnectorError> {
        self.role_of(&command.entitlement)?;
        let login = name("account", &command.holder.name)?;
        let client = self.client().await?;
        match self.can_login(&client, login).await? {
            None => Err(ConnectorError::Permanent(format!(
                "login role {login:?} does not exist"
            ))),
            Some(now) if now == allowed => Ok(if allowed {
                Applied::AlreadyPresent
            } else {
                Applied::AlreadyAbsent
            }),
            Some(_) => {
                let flag = if allowed { "LOGIN" } else { "NOLOGIN" };
                // Built at run time: a role name is an identifier (quoted), not a parameter.
                let statement = format!("ALTER ROLE {} {flag}", quote_ident(login));
                client.batch_execute(&statement).await.map_err(classify)?;
                Ok(Applied::Done)
            }
        }
    }
}

/// A name that can be quoted safely: not empty, no NUL, no longer than PostgreSQL keeps.
fn name<'a>(what: &str, value: &'a str) -> Result<&'a str, ConnectorError> {
    if value.is_empty() || value.contains('\0') || value.len() > 63 {
        return Err(ConnectorError::Permanent(format!(
            "{what} {value:?} is not a PostgreSQL role name (1 to 63 bytes, no NUL)"
        )));
    }
    Ok(value)
}

/// Retryable unless PostgreSQL says the request itself cannot work.
fn classify(e: tokio_postgres::Error) -> ConnectorError {
    let permanent = [
        SqlState::UNDEFINED_OBJECT,
        SqlState::INSUFFICIENT_PRIVILEGE,
        SqlState::INVALID_GRANT_OPERATION,
        SqlState::INVALID_NAME,
        SqlState::SYNTAX_ERROR,
        SqlState::RESERVED_NAME,
    ];
    match e.code() {
        Some(code) if permanent.contains(code) => ConnectorError::Permanent(e.to_string()),
        _ => ConnectorError::Retryable(e.to_string()),
    }
}

impl Connector for PostgresRoles {
    async fn grant(&self, command: &GrantCommand) -> Result<Applied, ConnectorError> {
        let role = self.role_of(&command.entitlement)?;
        let login = name("account", &command.holder.name)?;
        let client = self.client().await?;
        if self.can_login(&client, role).await?.is_none() {
            return Err(ConnectorError::Permanent(format!(
                "role {role:?} does not exist"
            )));
        }
        if self.can_login(&client, login).await?.is_none() {
            // Built at run time: a role name is an identifier (quoted), not a parameter.
            let create = format!("CREATE ROLE {} LOGIN", quote_ident(login));
            match client.batch_execute(&create).await {
                Ok(()) => {}
                // Another connector instance created it between the check and here.
                Err(e) if e.code() == Some(&SqlState::DUPLICATE_OBJECT) => {}
                Err(e) => return Err(classify(e)),
            }
        }
        if self.is_member(&client, role, login).await? {
            return Ok(Applied::AlreadyPresent);
        }
        // Built at run time: role names are identifiers (quoted), not parameters.
        let grant = format!("GRANT {} TO {}", quote_ident(role), quote_ident(login));
        client.batch_execute(&grant).await.map_err(classify)?;
        Ok(Applied::Done)
    }

    async fn revoke(&self, command: &RevocationCommand) -> Result<Applied, ConnectorError> {
        let role = self.role_of(&command.entitlement)?;
        let login = name("account", &command.holder.name)?;
        let client = self.client().await?;
        if self.can_login(&client, login).await?.is_none()
            || self.can_login(&client, role).await?.is_none()
            || !self.is_member(&client, role, login).await?
        {
            return Ok(Applied::AlreadyAbsent);
        }
        // Built at run time: role names are identifiers (quoted), not parameters.
        let revoke = format!("REVOKE {} FROM {}", quote_ident(role), quote_ident(login));
        client.batch_execute(&revoke).await.map_err(classify)?;
        // A membership granted by another role survives our REVOKE: say so rather
        // than report access removed that is still there.
        if self.is_member(&client, role, login).await? {
            return Err(ConnectorError::Permanent(format!(
                "{login} is still a member of {role} after REVOKE (granted by another role?)"
            )));
        }
        Ok(Applied::Done)
    }

    async fn suspend(&self, command: &SuspensionCommand) -> Result<Applied, ConnectorError> {
        self.set_login(command, false).await
    }

    async fn restore(&self, command: &SuspensionCommand) -> Result<Applied, ConnectorError> {
        self.set_login(command, true).await
    }

    async fn rotate(&self, command: &RotationCommand) -> Result<Applied, ConnectorError> {
        let login = name("account", &command.holder.name)?;
        let client = self.client().await?;
        if self.can_login(&client, login).await?.is_none() {
            return Err(ConnectorError::Permanent(format!(
                "login role {login:?} does not exist"
            )));
        }
        // The old password stops working; handing the new one to its owner (a vault)
        // is the deployment's business, so this reference connector keeps none.
        let secret = uuid::Uuid::new_v4().simple().to_string();
        // Built at run time: a role name is an identifier and a password a literal
        // (both quoted); ALTER ROLE takes no parameters.
        let statement = format!("ALTER ROLE {} PASSWORD '{secret}'", quote_ident(login));
        client.batch_execute(&statement).await.map_err(classify)?;
        Ok(Applied::Done)
    }

    async fn list(&self) -> Result<Vec<HeldAccess>, ConnectorError> {
        let client = self.client().await?;
        let rows = client
            .query(sql::LIST_MEMBERSHIPS, &[&self.managed])
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| HeldAccess {
                account: r.get(0),
                entitlement: Entitlement::new(SYSTEM, &self.database, r.get(1)),
            })
            .collect())
    }
}
