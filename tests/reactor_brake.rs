//! The safety brake: a burst of non-leaver revocations beyond the configured share of
//! active grants is held back from the connectors until an operator releases it;
//! leavers are never held.

use std::collections::BTreeMap;
use std::time::Duration;

use prost::Message;
use serde_json::{Value, json};
use tenure_core::EventPayload;
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, read_topic, start_tenure_run, wait_caught_up};

/// Revocation commands on the topic: cause → distinct command ids.
async fn published(
    env: &TestEnv,
) -> anyhow::Result<BTreeMap<i32, std::collections::BTreeSet<String>>> {
    let mut by_cause: BTreeMap<i32, std::collections::BTreeSet<String>> = BTreeMap::new();
    for record in read_topic(env.bootstrap(), topics::COMMANDS).await? {
        if record.header("ce_type") == Some("tenure.commands.v1.revoke") {
            let c = v1::RevocationCommand::decode(record.payload.as_slice())?;
            by_cause.entry(c.cause).or_default().insert(c.command_id);
        }
    }
    Ok(by_cause)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_revocations_are_held_until_released_but_leavers_are_not() -> anyhow::Result<()> {
    let env = TestEnv::start("reactor_brake").await?;
    let (tenure, base) = start_tenure_run(
        &env,
        "reactor_brake-tenure",
        &[
            "--brake-minimum",
            "3",
            "--brake-share",
            "0.1",
            "--brake-window-secs",
            "86400",
        ],
    )
    .await?;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/v1/hr/events");
        async move {
            let response = http.post(url).json(&body).send().await?;
            anyhow::ensure!(response.status() == 202, "{}", response.text().await?);
            anyhow::Ok(())
        }
    };
    let hired = (chrono::Utc::now() - chrono::Duration::days(100)).to_rfc3339();
    for (person, role) in [
        ("E401", "engineer"),
        ("E402", "engineer"),
        ("E403", "sales"),
    ] {
        post(
            json!({"event_id": format!("hire-{person}"), "type": "joiner", "employee_id": person,
                    "role": role, "effective_time": hired}),
        )
        .await?;
    }
    eventually(
        "eleven birthright grants",
        Duration::from_secs(60),
        || async {
            let body: Value = http
                .get(format!("{base}/v1/governance"))
                .send()
                .await?
                .json()
                .await?;
            Ok((body["counters"]["active_grants"] == 11).then_some(()))
        },
    )
    .await?;

    // A bad feed moves both engineers to sales: four revocations (github and aws-dev
    // each), more than the minimum of three.
    for person in ["E401", "E402"] {
        post(
            json!({"event_id": format!("move-{person}"), "type": "mover", "employee_id": person,
                    "role": "sales", "effective_time": chrono::Utc::now().to_rfc3339()}),
        )
        .await?;
    }
    let held = eventually("the brake to engage", Duration::from_secs(60), || async {
        tenure.assert_running()?;
        let body: Value = http
            .get(format!("{base}/v1/brake"))
            .send()
            .await?
            .json()
            .await?;
        Ok((body["engaged"] == true).then_some(body))
    })
    .await?;
    assert!(
        held["commands"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("exceed"),
        "{held}"
    );
    wait_caught_up(&env, "tenure-reactor", Duration::from_secs(60)).await?;
    let mover = v1::RevocationCause::Mover as i32;
    let before_release = published(&env).await?.get(&mover).map_or(0, |s| s.len());
    assert_eq!(
        before_release + held["held"].as_i64().unwrap_or(0) as usize,
        4,
        "{held}"
    );
    assert!(before_release < 4, "some mover revocations are held back");

    // A leaver is not held, even with the brake engaged.
    post(
        json!({"event_id": "leave-E403", "type": "leaver", "employee_id": "E403",
                "effective_time": chrono::Utc::now().to_rfc3339()}),
    )
    .await?;
    let leaver = v1::RevocationCause::Leaver as i32;
    eventually(
        "the leaver's revocations to be published",
        Duration::from_secs(60),
        || async {
            Ok((published(&env).await?.get(&leaver).map_or(0, |s| s.len()) == 3).then_some(()))
        },
    )
    .await?;

    // A release must say who releases and why: without them nothing is released.
    let refused = http
        .post(format!("{base}/v1/brake/release"))
        .json(&json!({"reason": "looks fine"}))
        .send()
        .await?;
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await?;
    assert!(
        refused["message"].as_str().unwrap_or("").contains("actor"),
        "{refused}"
    );
    let still: Value = http
        .get(format!("{base}/v1/brake"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(still["held"], held["held"], "{still}");

    // The operator reviews and releases: the held revocations go out.
    let released: Value = http
        .post(format!("{base}/v1/brake/release"))
        .json(&json!({"actor": "ops@example.com", "reason": "sales reorganisation confirmed with HR"}))
        .send()
        .await?
        .json()
        .await?;
    let held_count = held["held"].as_u64().unwrap_or(0);
    assert!(held_count >= 1, "{held}");
    assert_eq!(
        released["released"].as_u64(),
        Some(held_count),
        "{released}"
    );
    eventually(
        "the held revocations to be published",
        Duration::from_secs(60),
        || async {
            Ok((published(&env).await?.get(&mover).map_or(0, |s| s.len()) == 4).then_some(()))
        },
    )
    .await?;
    let after: Value = http
        .get(format!("{base}/v1/brake"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(after["engaged"], false);
    assert!(after["last_released_at"].is_string());

    // Each hold and each release is a fact on the identity's log; every release names
    // the operator and the reason, and each held command was released exactly once.
    let facts = eventually(
        "the holds and releases to be on the log",
        Duration::from_secs(60),
        || async {
            let mut holds = std::collections::BTreeSet::new();
            let mut releases = Vec::new();
            for record in read_topic(env.bootstrap(), topics::LIFECYCLE).await? {
                let event = tenure_proto::decode_event(&record.payload)?;
                match event.payload {
                    EventPayload::RevocationHeld { command_id, .. } => {
                        holds.insert(command_id);
                    }
                    EventPayload::RevocationReleased {
                        command_id,
                        actor,
                        reason,
                        ..
                    } => releases.push((command_id, actor, reason, event.source_system)),
                    _ => {}
                }
            }
            Ok(
                (holds.len() as u64 == held_count && releases.len() as u64 == held_count)
                    .then_some((holds, releases)),
            )
        },
    )
    .await?;
    let (holds, releases) = facts;
    let released: std::collections::BTreeSet<_> = releases.iter().map(|r| r.0).collect();
    assert_eq!(released, holds, "each held command is released, once");
    for (_, actor, reason, source) in &releases {
        assert_eq!(actor, "ops@example.com");
        assert_eq!(reason, "sales reorganisation confirmed with HR");
        assert_eq!(source, tenure_core::process::OPERATOR_SOURCE);
    }
    tenure.assert_running()?;
    Ok(())
}
