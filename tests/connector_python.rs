//! A connector written only from docs/connectors.md and the .proto files works: the
//! Python example (tests/connector-python, classes generated from the proto at start)
//! executes a joiner's grant and the leaver's revocation from a running Tenure, and
//! Tenure records both acknowledgements as the connector's.
//!
//! Needs Python 3 with `tests/connector-python/requirements.txt` installed (`.ci/run`
//! installs them); `TENURE_TEST_PYTHON` names another interpreter.

use std::time::Duration;

use serde_json::{Value, json};
use tenure_core::ids;
use tenure_tests::{TestEnv, eventually, log_dir, post_accepted, start_tenure_run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_connector_from_the_proto_alone_closes_the_loop() -> anyhow::Result<()> {
    let env = TestEnv::start("connector_python").await?;
    let logs = log_dir();
    let policy = logs.join("connector_python-policy.toml");
    std::fs::write(
        &policy,
        "[roles.analyst]\nowner = \"head-of-data\"\nbirthright = [\"demo:repo-x:admin\"]\n",
    )?;
    let (_tenure, base) = start_tenure_run(
        &env,
        "connector_python-tenure",
        &["--policy", policy.to_str().unwrap_or_default()],
    )
    .await?;

    let state = logs.join("connector_python-state.json");
    let _ = std::fs::remove_file(&state);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("connector-python/connector.py");
    let python = std::env::var("TENURE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::fs::File::create(logs.join("connector_python-connector.log"))?;
    let mut connector = tokio::process::Command::new(&python)
        .arg(&script)
        .args([
            "--bootstrap",
            env.bootstrap(),
            "--system",
            "demo",
            "--exit-after",
            "2",
        ])
        .args(["--timeout", "120", "--state"])
        .arg(&state)
        .stdout(output.try_clone()?)
        .stderr(output)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {python} {}: {e}", script.display()))?;

    let http = reqwest::Client::new();
    let hired = (chrono::Utc::now() - chrono::Duration::days(10)).to_rfc3339();
    post_accepted(
        &http,
        &format!("{base}/v1/hr/events"),
        json!({
        "source_system": "workday", "event_id": "hire-E700", "type": "joiner",
        "employee_id": "E700", "display_name": "Grace Hopper", "role": "analyst",
        "login": "grace", "effective_time": hired}),
    )
    .await?;
    post_accepted(
        &http,
        &format!("{base}/v1/hr/events"),
        json!({
        "source_system": "workday", "event_id": "leave-E700", "type": "leaver",
        "employee_id": "E700", "effective_time": chrono::Utc::now().to_rfc3339()}),
    )
    .await?;

    let status = tokio::time::timeout(Duration::from_secs(180), connector.wait()).await??;
    assert!(
        status.success(),
        "the Python connector failed ({status}); see target/test-logs/connector_python-connector.log \
         (are tests/connector-python/requirements.txt installed?)"
    );
    // The target saw the grant and then the revocation of the account Tenure named.
    let target: Value = serde_json::from_str(&std::fs::read_to_string(&state)?)?;
    let processed = target["processed"].as_object().map(|p| p.len());
    assert_eq!(processed, Some(2), "{target}");
    let held = target["accounts"]["grace"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(held, 0, "grace's access is gone from the target: {target}");
    assert!(
        target["processed"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(_, r)| r["status"] == "COMMAND_STATUS_DONE"),
        "both commands changed the target: {target}"
    );

    // Tenure took both acknowledgements as the connector's own.
    let identity = ids::identity(ids::PEOPLE, "E700");
    let timeline: Value = eventually(
        "Tenure to record both acknowledgements",
        Duration::from_secs(60),
        || async {
            let t: Value = http
                .get(format!("{base}/v1/identities/{identity}/timeline"))
                .send()
                .await?
                .json()
                .await?;
            let text = t.to_string();
            Ok(
                (text.contains("access_revoked") && text.contains("command_completed"))
                    .then_some(t),
            )
        },
    )
    .await?;
    assert!(
        timeline.to_string().contains("python-example"),
        "{timeline}"
    );
    Ok(())
}
