//! The closed loop with connectors: a revocation that is not acknowledged is published
//! again with the same id, and one that cannot be done (a permanent failure, or
//! retries exhausted) is escalated where the query API shows it.

use std::collections::BTreeMap;
use std::time::Duration;

use prost::Message;
use serde_json::{Value, json};
use tenure_core::EventPayload;
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, read_topic, start_tenure_run};

/// Revocation commands on the topic, by target system: (command, times published).
async fn revocations(
    env: &TestEnv,
) -> anyhow::Result<BTreeMap<String, (v1::RevocationCommand, usize)>> {
    let mut by_system: BTreeMap<String, (v1::RevocationCommand, usize)> = BTreeMap::new();
    for record in read_topic(env.bootstrap(), topics::COMMANDS).await? {
        if record.header("ce_type") != Some("tenure.commands.v1.revoke") {
            continue;
        }
        let command = v1::RevocationCommand::decode(record.payload.as_slice())?;
        let system = command
            .entitlement
            .as_ref()
            .map(|e| e.system.clone())
            .unwrap_or_default();
        let entry = by_system.entry(system).or_insert((command.clone(), 0));
        assert_eq!(
            entry.0.command_id, command.command_id,
            "a retry reuses the command id"
        );
        entry.1 += 1;
    }
    Ok(by_system)
}

async fn outcome(
    http: &reqwest::Client,
    base: &str,
    command: &v1::RevocationCommand,
    status: &str,
    attempt: u32,
) -> anyhow::Result<()> {
    let response = http
        .post(format!("{base}/v1/connectors/outcomes"))
        .json(&json!({"command_id": command.command_id, "grant_id": command.grant_id,
                      "identity_id": command.identity_id, "command_type": "revoke", "status": status,
                      "connector": "test", "detail": format!("{status} on attempt {attempt}"), "attempt": attempt}))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 202,
        "outcome refused: {}",
        response.text().await?
    );
    Ok(())
}

async fn commands(http: &reqwest::Client, base: &str, state: &str) -> anyhow::Result<Vec<Value>> {
    let body: Value = http
        .get(format!("{base}/v1/commands?state={state}"))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["commands"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_revocations_are_retried_then_escalated() -> anyhow::Result<()> {
    let env = TestEnv::start("reactor_retry").await?;
    let (tenure, base) = start_tenure_run(
        &env,
        "reactor_retry-tenure",
        &["--ack-timeout-secs", "1", "--max-attempts", "3"],
    )
    .await?;
    let http = reqwest::Client::new();
    let hired = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    for (id, body) in [
        (
            "hire",
            json!({"event_id": "hire-E300", "type": "joiner", "employee_id": "E300", "role": "engineer", "effective_time": hired}),
        ),
        (
            "leave",
            json!({"event_id": "leave-E300", "type": "leaver", "employee_id": "E300",
                         "effective_time": chrono::Utc::now().to_rfc3339()}),
        ),
    ] {
        if id == "leave" {
            eventually("birthright grants", Duration::from_secs(60), || async {
                let body: Value = http
                    .get(format!("{base}/v1/identities/hr:E300"))
                    .send()
                    .await?
                    .json()
                    .await?;
                Ok((body["grants"].as_array().map_or(0, Vec::len) == 4).then_some(()))
            })
            .await?;
        }
        let response = http
            .post(format!("{base}/v1/hr/events"))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(response.status() == 202, "{id}: {}", response.text().await?);
    }
    let first = eventually(
        "four revocation commands",
        Duration::from_secs(60),
        || async {
            let seen = revocations(&env).await?;
            Ok((seen.len() == 4).then_some(seen))
        },
    )
    .await?;
    // google and aws are confirmed; github fails (retryable) and slack never answers.
    outcome(&http, &base, &first["google"].0, "done", 1).await?;
    outcome(&http, &base, &first["aws"].0, "already_absent", 1).await?;
    outcome(&http, &base, &first["github"].0, "failed_retryable", 1).await?;

    eventually(
        "github's revocation to be published again",
        Duration::from_secs(60),
        || async {
            tenure.assert_running()?;
            Ok((revocations(&env).await?["github"].1 >= 2).then_some(()))
        },
    )
    .await?;
    outcome(&http, &base, &first["github"].0, "failed_permanent", 2).await?;

    let escalated = eventually("two escalations", Duration::from_secs(60), || async {
        let escalated = commands(&http, &base, "escalated").await?;
        Ok((escalated.len() == 2).then_some(escalated))
    })
    .await?;
    let reason = |system: &str| {
        escalated
            .iter()
            .find(|c| c["target_system"] == system)
            .and_then(|c| c["escalation_reason"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    assert!(
        reason("github").contains("permanent failure"),
        "{escalated:?}"
    );
    assert!(
        reason("slack").contains("no acknowledgement after 3"),
        "{escalated:?}"
    );
    let published = revocations(&env).await?;
    assert_eq!(
        published["slack"].1, 3,
        "slack's command was published exactly max-attempts times"
    );

    // Each retry and each escalation is a fact on the identity's log, once.
    let (republished, escalations) = eventually(
        "the escalations to be on the log",
        Duration::from_secs(60),
        || async {
            let mut republished: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            let mut escalations: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for record in read_topic(env.bootstrap(), topics::LIFECYCLE).await? {
                match tenure_proto::decode_event(&record.payload)?.payload {
                    EventPayload::CommandRepublished {
                        command_id,
                        attempt,
                        ..
                    } => republished
                        .entry(command_id.to_string())
                        .or_default()
                        .push(attempt),
                    EventPayload::CommandEscalated {
                        command_id, reason, ..
                    } => escalations
                        .entry(command_id.to_string())
                        .or_default()
                        .push(reason),
                    _ => {}
                }
            }
            Ok((escalations.len() == 2).then_some((republished, escalations)))
        },
    )
    .await?;
    let slack = &published["slack"].0.command_id;
    let github = &published["github"].0.command_id;
    assert_eq!(republished.get(slack), Some(&vec![2, 3]), "{republished:?}");
    assert!(republished.contains_key(github), "{republished:?}");
    assert_eq!(escalations[slack].len(), 1, "{escalations:?}");
    assert!(escalations[slack][0].contains("no acknowledgement after 3"));
    assert!(
        escalations[github][0].contains("permanent failure"),
        "{escalations:?}"
    );
    for command in [
        &published["google"].0.command_id,
        &published["aws"].0.command_id,
    ] {
        assert!(!escalations.contains_key(command), "{escalations:?}");
    }

    let acknowledged = commands(&http, &base, "acknowledged").await?;
    let systems: Vec<&str> = acknowledged
        .iter()
        .filter_map(|c| c["target_system"].as_str())
        .collect();
    assert_eq!(acknowledged.len(), 2, "{systems:?}");
    assert!(
        acknowledged
            .iter()
            .all(|c| c["time_to_revoke_ms"].as_i64().is_some_and(|ms| ms >= 0))
    );

    let governance: Value = http
        .get(format!("{base}/v1/governance"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(governance["counters"]["escalated_revocations"], 2);
    assert_eq!(governance["counters"]["unacknowledged_revocations"], 0);

    // The same picture, and the time to revoke, in Prometheus text on /metrics.
    let response = http.get(format!("{base}/metrics")).send().await?;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4"))
    );
    let metrics = response.text().await?;
    let value = |name: &str| -> Option<f64> {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    assert_eq!(
        value("tenure_escalated_revocations"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        value("tenure_time_to_revoke_seconds_count"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        value("tenure_time_to_revoke_seconds_bucket{le=\"+Inf\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("tenure_events_total{source=\"hr\",type=\"identity_joined\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE tenure_time_to_revoke_seconds histogram"));
    // Pipeline health: this process's batches and each group's lag per partition.
    assert!(
        value("tenure_consumer_batches_total{group=\"tenure-reactor\"}").is_some_and(|b| b > 0.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "tenure_consumer_batch_duration_seconds_bucket{group=\"tenure-projector\",le=\"+Inf\"}"
        ),
        "{metrics}"
    );
    let lags: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tenure_consumer_lag{group=\"tenure-projector\""))
        .collect();
    assert!(!lags.is_empty(), "{metrics}");
    let (status, _) = {
        let r = http
            .get(format!("{base}/v1/commands?state=lost"))
            .send()
            .await?;
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 400);
    tenure.assert_running()?;
    Ok(())
}
