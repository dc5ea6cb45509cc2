//! `tenure replay` rebuilds the projection from the log into a fresh schema and proves
//! it equal to the live one: over 100,000 events, and with a back-dated event whose
//! history both must agree on. A replay up to a time shows the past; `--switch` swaps
//! the replayed projection in without stopping the API.

use std::time::Duration;

use chrono::Utc;
use futures::future::try_join_all;
use serde_json::{Value, json};
use tenure_gen::synthetic_history;
use tenure_kafka::Publisher;
use tenure_tests::{TestEnv, eventually, start_tenure_run, wait_caught_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_a_100k_event_log_matches_the_live_projection() -> anyhow::Result<()> {
    let env = TestEnv::start("replay_large").await?;
    let history = synthetic_history(15_500, 11);
    assert!(history.len() >= 100_000, "{} events", history.len());
    let publisher = Publisher::new(env.bootstrap())?;
    for chunk in history.chunks(5_000) {
        try_join_all(chunk.iter().map(|e| publisher.send_event(e))).await?;
    }
    let projector = env.spawn_tenure(&["projector"], "replay_large-projector")?;
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(600)).await?;
    projector.assert_running()?;

    let out = env
        .run_tenure(&["replay", "--schema", "replay_large", "--json"])
        .await?;
    let report: Value = serde_json::from_str(&out)?;
    assert!(
        report["records"].as_i64().unwrap_or(0) >= 100_000,
        "{report}"
    );
    assert_eq!(report["live_lag"], 0, "{report}");
    assert_eq!(report["equal"], true, "{report}");
    assert_eq!(report["live_checksum"], report["replay_checksum"]);
    assert!(
        report["rows_compared"].as_i64().unwrap_or(0) > 200_000,
        "{report}"
    );

    // The checksum sees a difference: damage one replayed grant and compare again.
    let client = env.db.client().await?;
    client
        .batch_execute(
            "UPDATE replay_large.projection_grants SET status = 'revoked'
              WHERE grant_id = (SELECT grant_id FROM replay_large.projection_grants
                                 WHERE status = 'active' ORDER BY grant_id LIMIT 1)",
        )
        .await?;
    let live = tenure_projector::replay::checksum(&client, "public").await?;
    let damaged = tenure_projector::replay::checksum(&client, "replay_large").await?;
    assert_ne!(live.digest(), damaged.digest());
    projector.assert_running()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_agrees_on_back_dated_history_and_switches_in() -> anyhow::Result<()> {
    let env = TestEnv::start("replay_history").await?;
    let (tenure, base) = start_tenure_run(&env, "replay_history-tenure", &[]).await?;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        let (http, url) = (http.clone(), format!("{base}/v1/hr/events"));
        async move {
            let response = http.post(url).json(&body).send().await?;
            anyhow::ensure!(response.status() == 202, "{}", response.text().await?);
            anyhow::Ok(())
        }
    };
    let now = Utc::now();
    post(
        json!({"event_id": "hire", "type": "joiner", "employee_id": "E900", "role": "engineer",
        "effective_time": (now - chrono::Duration::days(100)).to_rfc3339()}),
    )
    .await?;
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(60)).await?;
    let before_leave = Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // HR reports, late, that E900 left ten days ago.
    post(
        json!({"event_id": "leave", "type": "leaver", "employee_id": "E900",
        "effective_time": (now - chrono::Duration::days(10)).to_rfc3339()}),
    )
    .await?;
    eventually(
        "the leave to be projected",
        Duration::from_secs(60),
        || async {
            let body: Value = http
                .get(format!("{base}/v1/identities/hr:E900"))
                .send()
                .await?
                .json()
                .await?;
            Ok((body["status"] == "left").then_some(()))
        },
    )
    .await?;
    // Let the revocations come back as facts so the log is quiet.
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(60)).await?;

    let client = env.db.client().await?;
    let back_dated: i64 = client
        .query_one(
            "SELECT count(*) FROM identity_history WHERE status = 'left' AND valid_from < recorded_from - interval '9 days'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        back_dated, 1,
        "the live history records the back-dated leave"
    );

    let report: Value = serde_json::from_str(
        &env.run_tenure(&["replay", "--schema", "replay_hist", "--json"])
            .await?,
    )?;
    assert_eq!(report["equal"], true, "{report}");
    let replayed: i64 = client
        .query_one(
            "SELECT count(*) FROM replay_hist.identity_history WHERE status = 'left' AND valid_from < recorded_from - interval '9 days'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(replayed, 1, "the replay records the same back-dated leave");

    // As Tenure knew it before the late leaver arrived: still employed.
    let until = before_leave.to_rfc3339();
    let report: Value = serde_json::from_str(
        &env.run_tenure(&[
            "replay",
            "--schema",
            "replay_past",
            "--until",
            &until,
            "--json",
        ])
        .await?,
    )?;
    assert_eq!(report["equal"], false, "{report}");
    let status: String = client
        .query_one(
            "SELECT status FROM replay_past.projection_identities WHERE source_person_id = 'E900'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(status, "active");

    // Switch the live API to a fresh replay; it keeps answering, with the same answer.
    let report: Value = serde_json::from_str(
        &env.run_tenure(&["replay", "--schema", "replay_new", "--switch", "--json"])
            .await?,
    )?;
    assert_eq!(report["switched"], true, "{report}");
    let body: Value = http
        .get(format!("{base}/v1/identities/hr:E900"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(body["status"], "left", "{body}");
    let retired: i64 = client
        .query_one(
            "SELECT count(*) FROM replay_new_retired.projection_identities",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(retired, 1);
    // The live projector goes on projecting into the switched-in tables.
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .json(
            &json!({"event_id": "hire-2", "type": "joiner", "employee_id": "E901", "role": "sales",
            "effective_time": Utc::now().to_rfc3339()}),
        )
        .send()
        .await?;
    assert_eq!(response.status(), 202);
    eventually(
        "a new joiner in the switched projection",
        Duration::from_secs(60),
        || async {
            let response = http
                .get(format!("{base}/v1/identities/hr:E901"))
                .send()
                .await?;
            Ok((response.status() == 200).then_some(()))
        },
    )
    .await?;
    tenure.assert_running()?;
    Ok(())
}
