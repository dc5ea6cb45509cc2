//! The PostgreSQL reference connector removes real access: a joiner's birthright
//! becomes a real role membership in the local server, the leaver's revocation takes
//! it away, Tenure records the connector's acknowledgements, and a redelivered
//! command is answered from the connector's ledger without being executed again.
//! The same holds with per-system command topics, where an outcome for the
//! connector's command published on another system's outcome topic is refused.

use std::time::Duration;

use serde_json::{Value, json};
use tenure_connector::{Metrics, RunnerConfig};
use tenure_connector_postgres::{PostgresRoles, SYSTEM};
use tenure_core::{CommandStatus, CommandType, ids};
use tenure_kafka::topics::CommandTopics;
use tenure_kafka::{Publisher, topics};
use tenure_tests::{
    TestEnv, eventually, log_dir, pg_server, post_accepted, read_topic, start_tenure_run,
};

/// Direct members of `role` in the local server.
async fn members(admin: &tokio_postgres::Client, role: &str) -> anyhow::Result<Vec<String>> {
    let rows = admin
        .query(
            "SELECT m.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
             JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = $1 ORDER BY 1",
            &[&role],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leavers_postgres_role_membership_is_really_gone() -> anyhow::Result<()> {
    leaver_loses_the_role("connector_postgres", CommandTopics::Shared).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_per_system_topics_the_connector_reads_and_answers_only_its_own() -> anyhow::Result<()>
{
    leaver_loses_the_role("connector_postgres_per_system", CommandTopics::PerSystem).await
}

async fn leaver_loses_the_role(name: &str, routes: CommandTopics) -> anyhow::Result<()> {
    let env = TestEnv::start(name).await?;
    // Roles are the server's, not a database's: names unique to this run.
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (role, login) = (format!("it_{suffix}_reader"), format!("it_{suffix}_ada"));
    let target_db = format!("tenure_target_{suffix}");
    let (admin, connection) =
        tokio_postgres::connect(&format!("{}/postgres", pg_server()), tokio_postgres::NoTls)
            .await?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {target_db}"))
        .await?;
    admin
        .batch_execute(&format!("CREATE ROLE {role} NOLOGIN"))
        .await?;

    let policy = log_dir().join(format!("connector_postgres-{suffix}.toml"));
    std::fs::write(
        &policy,
        format!(
            "[roles.analyst]\nowner = \"head-of-data\"\nbirthright = [\"postgres:{target_db}:{role}\"]\n\
             [reconciliation]\nrevoke_out_of_band = [\"postgres\"]\n"
        ),
    )?;
    let mode = match routes {
        CommandTopics::Shared => "shared",
        CommandTopics::PerSystem => "per-system",
    };
    let (_tenure, base) = start_tenure_run(
        &env,
        &format!("{name}-tenure"),
        &[
            "--policy",
            policy.to_str().unwrap_or_default(),
            "--command-topics",
            mode,
        ],
    )
    .await?;

    let connector =
        PostgresRoles::connect(&format!("{}/{target_db}", pg_server()), vec![role.clone()])
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ledger = log_dir().join(format!("connector_postgres-{suffix}.ledger"));
    let mut config = RunnerConfig::new(env.bootstrap(), SYSTEM, "pg-e2e", ledger);
    if routes == CommandTopics::PerSystem {
        config = config.per_system_topics();
        // The system's topics come with its first command; until then there is
        // nothing to subscribe to.
        tenure_kafka::topics::ensure_system_topics(env.bootstrap(), SYSTEM, 4).await?;
    }
    let (commands_topic, outcomes_topic) =
        (config.commands_topic.clone(), config.outcomes_topic.clone());
    config.group_id = format!("pg-e2e-{suffix}");
    let metrics = Metrics::default();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(tenure_connector::run(
        connector,
        config,
        metrics.clone(),
        shutdown,
    ));

    let http = reqwest::Client::new();
    let person = format!("E{suffix}");
    let hired = (chrono::Utc::now() - chrono::Duration::days(10)).to_rfc3339();
    post_accepted(
        &http,
        &format!("{base}/v1/hr/events"),
        json!({
        "source_system": "workday", "event_id": format!("hire-{person}"), "type": "joiner",
        "employee_id": person, "display_name": "Ada Lovelace", "role": "analyst",
        "login": login, "email": "ada@example.com", "effective_time": hired}),
    )
    .await?;
    eventually(
        "the login to become a member of the role",
        Duration::from_secs(60),
        || async { Ok(members(&admin, &role).await?.contains(&login).then_some(())) },
    )
    .await?;

    post_accepted(
        &http,
        &format!("{base}/v1/hr/events"),
        json!({
        "source_system": "workday", "event_id": format!("leave-{person}"), "type": "leaver",
        "employee_id": person, "effective_time": chrono::Utc::now().to_rfc3339()}),
    )
    .await?;
    eventually(
        "the membership to be gone",
        Duration::from_secs(60),
        || async { Ok(members(&admin, &role).await?.is_empty().then_some(())) },
    )
    .await?;

    // Tenure recorded the connector's confirmation of the revocation.
    let identity = ids::identity(ids::PEOPLE, &person);
    let timeline: Value = eventually(
        "Tenure to record the revocation",
        Duration::from_secs(30),
        || async {
            let t: Value = http
                .get(format!("{base}/v1/identities/{identity}/timeline"))
                .send()
                .await?
                .json()
                .await?;
            Ok(t.to_string().contains("access_revoked").then_some(t))
        },
    )
    .await?;
    assert!(
        timeline.to_string().contains("pg-e2e"),
        "the revocation names the connector: {timeline}"
    );
    assert_eq!(metrics.outcomes(CommandType::Grant, CommandStatus::Done), 1);
    assert_eq!(
        metrics.outcomes(CommandType::Revoke, CommandStatus::Done),
        1
    );

    // The revocation delivered again (as after a lost acknowledgement): answered from
    // the ledger, not executed, and the role stays as it is.
    let commands = read_topic(env.bootstrap(), &commands_topic).await?;
    assert_eq!(
        metrics.duplicates(),
        0,
        "no duplicate before the redelivery"
    );
    let revoke = commands
        .iter()
        .find(|r| r.header("ce_type") == Some("tenure.commands.v1.revoke"))
        .ok_or_else(|| anyhow::anyhow!("no revocation on the topic"))?;
    let headers: Vec<(String, String)> = revoke.headers.clone();
    Publisher::new(env.bootstrap())?
        .send(
            &commands_topic,
            &identity.to_string(),
            &revoke.payload,
            &headers,
        )
        .await?;
    eventually(
        "the redelivery to be answered",
        Duration::from_secs(30),
        || async { Ok((metrics.duplicates() == 1).then_some(())) },
    )
    .await?;
    assert_eq!(
        metrics.outcomes(CommandType::Revoke, CommandStatus::Done),
        1,
        "not executed twice"
    );
    assert!(members(&admin, &role).await?.is_empty());
    let outcomes = read_topic(env.bootstrap(), &outcomes_topic).await?;
    let mine: Vec<_> = outcomes
        .iter()
        .filter(|r| r.header("ce_source") == Some("connector:pg-e2e"))
        .collect();
    assert_eq!(
        mine.len(),
        3,
        "grant, revoke and the revoke's repeated acknowledgement"
    );
    assert_eq!(
        mine[1].payload, mine[2].payload,
        "the repeated acknowledgement is the same fact"
    );

    if routes == CommandTopics::PerSystem {
        // Nothing went to the shared topic, and another system's outcome topic cannot
        // acknowledge a postgres command: the report is parked with its reason.
        let shared = read_topic(env.bootstrap(), topics::COMMANDS).await?;
        assert!(
            shared.is_empty(),
            "{} commands on the shared topic",
            shared.len()
        );
        tenure_kafka::topics::ensure_system_topics(env.bootstrap(), "github", 4).await?;
        Publisher::new(env.bootstrap())?
            .send(
                "tenure.outcomes.v1.github",
                &identity.to_string(),
                &mine[1].payload,
                &[],
            )
            .await?;
        let reason = eventually(
            "the misdirected outcome to be parked",
            Duration::from_secs(60),
            || async {
                let letters = read_topic(env.bootstrap(), topics::DEAD_LETTERS).await?;
                Ok(letters.iter().find_map(|l| {
                    l.header(tenure_ingest::bridge::ERROR_HEADER)
                        .map(str::to_owned)
                }))
            },
        )
        .await?;
        assert!(reason.contains("postgres"), "{reason}");
    }

    // Reconciliation: the leaver's membership comes back out of band (a revocation
    // that did not stick) and someone Tenure never granted joins the role. One pass
    // finds both; the revocation is issued again and really carried out.
    let mallory = format!("it_{suffix}_mallory");
    admin
        .batch_execute(&format!(
            "GRANT {role} TO {login}; CREATE ROLE {mallory} LOGIN; GRANT {role} TO {mallory}"
        ))
        .await?;
    env.run_tenure(&["reconcile", "--system", SYSTEM, "--command-topics", mode])
        .await?;
    let findings: Value = eventually(
        "reconciliation's findings",
        Duration::from_secs(60),
        || async {
            let f: Value = http
                .get(format!("{base}/v1/reconciliation/findings?system={SYSTEM}"))
                .send()
                .await?
                .json()
                .await?;
            Ok((f["findings"].as_array().map(Vec::len) == Some(2)).then_some(f))
        },
    )
    .await?;
    let found: std::collections::BTreeSet<(String, String)> = findings["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_owned(),
                f["account"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("not_removed".to_owned(), login.clone()),
            ("out_of_band".to_owned(), mallory.clone())
        ]
        .into(),
        "{findings}"
    );
    // The policy revokes out-of-band access on postgres: both memberships go.
    eventually(
        "the re-issued and the out-of-band revocations to take both memberships away",
        Duration::from_secs(60),
        || async { Ok(members(&admin, &role).await?.is_empty().then_some(())) },
    )
    .await?;
    assert_eq!(metrics.reconciliations(), 1);
    assert_eq!(
        metrics.outcomes(CommandType::Revoke, CommandStatus::Done),
        3,
        "the first revocation, the re-issued one and the out-of-band one"
    );
    let exposition = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        exposition.contains(&format!(
            "tenure_reconciliation_findings_total{{system=\"{SYSTEM}\",kind=\"not_removed\"}} 1"
        )),
        "{exposition}"
    );

    stop.send(true)?;
    let summary = running.await??;
    assert_eq!(
        (
            summary.executed,
            summary.duplicates,
            summary.reconciliations
        ),
        (4, 1, 1)
    );
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {login}; DROP ROLE IF EXISTS {mallory}; DROP ROLE IF EXISTS {role}"
        ))
        .await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {target_db} WITH (FORCE)"))
        .await?;
    Ok(())
}
