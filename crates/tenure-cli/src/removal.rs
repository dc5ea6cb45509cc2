//! The bench's PostgreSQL target: every person of the latency run holds a membership
//! of one group role, granted by the PostgreSQL reference connector, so a leaver can
//! be timed until the membership is really gone, not only until its command.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tenure_store::Database;
use tenure_store::db::quote_ident;

use crate::sql;

/// The group role every person of the latency run is a member of.
pub const GROUP_ROLE: &str = "tenure_bench_member";

/// The login of person `p` of the latency run.
pub fn login(p: usize) -> String {
    format!("tenure_bench_p{p}")
}

/// `policy` (TOML) with every role's birthright extended by membership of
/// [`GROUP_ROLE`] in `database`.
pub fn extend_policy(policy: &str, database: &str) -> anyhow::Result<String> {
    let mut value: toml::Table = toml::from_str(policy).context("the policy is not TOML")?;
    let roles = value
        .get_mut("roles")
        .and_then(|r| r.as_table_mut())
        .context("the policy defines no roles")?;
    for (_, role) in roles.iter_mut() {
        if let Some(role) = role.as_table_mut() {
            let birthright = role
                .entry("birthright")
                .or_insert_with(|| toml::Value::Array(Vec::new()));
            if let Some(list) = birthright.as_array_mut() {
                list.push(toml::Value::String(format!(
                    "postgres:{database}:{GROUP_ROLE}"
                )));
            }
        }
    }
    Ok(toml::to_string(&value)?)
}

/// Creates the target database afresh with the group role, and drops the logins an
/// earlier run left.
pub async fn prepare(admin_url: &str, target_url: &str) -> anyhow::Result<()> {
    clean(admin_url).await?;
    let admin = crate::demo::recreate_database(admin_url, target_url).await?;
    // Built at run time: a role name is an identifier (quoted); DDL takes no parameters.
    admin
        .batch_execute(&format!("CREATE ROLE {} NOLOGIN", quote_ident(GROUP_ROLE)))
        .await?;
    Ok(())
}

/// Drops the bench's logins and group role from the server.
pub async fn clean(admin_url: &str) -> anyhow::Result<()> {
    let admin = Database::connect_unmanaged(admin_url).await?;
    let logins: Vec<String> = admin
        .query(sql::BENCH_LOGINS, &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut ddl = String::new();
    for name in logins.iter().map(String::as_str).chain([GROUP_ROLE]) {
        // Built at run time: role names are identifiers (quoted).
        ddl.push_str(&format!("DROP ROLE IF EXISTS {};", quote_ident(name)));
    }
    admin.batch_execute(&ddl).await?;
    Ok(())
}

/// Waits until `people` logins are members of [`GROUP_ROLE`].
pub async fn wait_provisioned(
    target_url: &str,
    people: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let client = Database::connect_unmanaged(target_url).await?;
    let started = std::time::Instant::now();
    loop {
        let members: i64 = client
            .query_one(sql::COUNT_TARGET_MEMBERS, &[&GROUP_ROLE])
            .await?
            .get(0);
        if members as usize >= people {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "the PostgreSQL connector provisioned {members} of {people} memberships within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Leavers whose membership is still waited for: login → when the leaver was sent.
pub type Pending = Arc<Mutex<HashMap<String, DateTime<Utc>>>>;

/// Polls the target every 2 ms until `stop`, recording for each pending login the
/// milliseconds from its leaver's POST to the moment its membership was gone.
pub async fn watch_removals(
    target_url: String,
    pending: Pending,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<f64>> {
    let client = Database::connect_unmanaged(&target_url).await?;
    let mut gone = Vec::new();
    while !*stop.borrow() {
        let waiting: Vec<String> = pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        if !waiting.is_empty() {
            let still: std::collections::HashSet<String> = client
                .query(sql::TARGET_MEMBERS, &[&GROUP_ROLE, &waiting])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let now = Utc::now();
            let mut pending = pending.lock().unwrap_or_else(|p| p.into_inner());
            for login in waiting.iter().filter(|l| !still.contains(*l)) {
                if let Some(sent) = pending.remove(login) {
                    gone.push((now - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(gone)
}
