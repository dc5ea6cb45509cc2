//! The demo's PostgreSQL target: a database of the same server whose roles the
//! PostgreSQL reference connector really grants and revokes, so the demo shows real
//! access really removed, not only commands acknowledged by a stand-in.

use anyhow::Context;
use tenure_store::Database;
use tenure_store::db::quote_ident;

use crate::sql;

/// The group role each demo role's birthright grants in the target database.
pub const GROUP_ROLES: [(&str, &str); 2] =
    [("engineer", "demo_deploy"), ("sales", "demo_crm_reader")];

/// Every login the demo's people get in the target (their HR `login`).
pub fn logins() -> impl Iterator<Item = &'static str> {
    super::scenario::PEOPLE.iter().map(|p| p.login)
}

/// `policy` (TOML) with each demo role's birthright extended by its membership of
/// a group role in `database`.
pub fn extend_policy(policy: &str, database: &str) -> anyhow::Result<String> {
    let mut value: toml::Table = toml::from_str(policy).context("the policy is not TOML")?;
    for (role, group) in GROUP_ROLES {
        let birthright = value
            .get_mut("roles")
            .and_then(|r| r.get_mut(role))
            .and_then(|r| r.as_table_mut())
            .with_context(|| format!("the demo needs role {role} in the policy"))?
            .entry("birthright")
            .or_insert_with(|| toml::Value::Array(Vec::new()));
        if let Some(list) = birthright.as_array_mut() {
            list.push(toml::Value::String(format!("postgres:{database}:{group}")));
        }
    }
    Ok(toml::to_string(&value)?)
}

/// Creates the target database afresh, with the group roles and none of the demo's
/// logins (the previous run's are dropped: roles belong to the server).
pub async fn prepare(admin_url: &str, target_url: &str) -> anyhow::Result<()> {
    let admin = recreate_database(admin_url, target_url).await?;
    let mut ddl = String::new();
    for login in logins() {
        // Built at run time: role names are identifiers (quoted).
        ddl.push_str(&format!("DROP ROLE IF EXISTS {};", quote_ident(login)));
    }
    for (_, group) in GROUP_ROLES {
        // Built at run time: role names are identifiers (quoted).
        ddl.push_str(&format!(
            "DROP ROLE IF EXISTS {0}; CREATE ROLE {0} NOLOGIN;",
            quote_ident(group)
        ));
    }
    admin
        .batch_execute(&ddl)
        .await
        .context("cannot prepare the demo's PostgreSQL target (CREATEROLE needed)")?;
    Ok(())
}

/// Drops and creates the database `target_url` names, on the server of `admin_url`;
/// returns the administrative connection for the roles that go with it.
pub(crate) async fn recreate_database(
    admin_url: &str,
    target_url: &str,
) -> anyhow::Result<tokio_postgres::Client> {
    Database::drop_database(target_url).await?;
    let admin = Database::connect_unmanaged(admin_url).await?;
    let database = target_url
        .rsplit('/')
        .next()
        .and_then(|d| d.split('?').next())
        .context("the target URL names no database")?;
    // Built at run time: a database name is an identifier (quoted), and CREATE
    // DATABASE takes no parameters and runs alone, outside any transaction.
    admin
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(database)))
        .await
        .context("cannot create the PostgreSQL target (CREATEDB needed)")?;
    Ok(admin)
}

/// The demo target's memberships in the demo's group roles: (login, role).
pub async fn memberships(target_url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let client = Database::connect_unmanaged(target_url).await?;
    let groups: Vec<&str> = GROUP_ROLES.iter().map(|(_, g)| *g).collect();
    let rows = client.query(sql::TARGET_MEMBERSHIPS, &[&groups]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_policy_grants_real_postgres_roles_on_top_of_the_shipped_one() {
        let extended =
            extend_policy(crate::services::DEFAULT_POLICY, "tenure_demo_target").unwrap();
        let policy = tenure_core::Policy::from_toml(&extended).unwrap();
        let engineer: Vec<String> = policy
            .birthright("engineer")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            engineer.contains(&"postgres:tenure_demo_target:demo_deploy".to_owned()),
            "{engineer:?}"
        );
        assert!(
            engineer.contains(&"github:acme:member".to_owned()),
            "{engineer:?}"
        );
        assert!(extend_policy("[roles.x]\nowner = \"o\"\n", "db").is_err());
    }
}
