//! A connector's acknowledgement changes Tenure's records only for a command Tenure
//! issued, reported as it was issued, by a credential allowed to speak for its target
//! system. Forged, contradicting and other-system reports are refused over HTTP (404,
//! 409, 403) and dead-lettered from `tenure.outcomes.v1`, and change nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use prost::Message;
use serde_json::{Value, json};
use tenure_core::LifecycleEvent;
use tenure_kafka::{Publisher, topics};
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, log_dir, read_topic, start_tenure_run};

const CREDENTIALS: &str = r#"
[[credential]]
name = "workday"
token = "hr-token-0123456789abcdef"
scopes = ["hr"]

[[credential]]
name = "github-connector"
token = "github-token-0123456789abcdef"
scopes = ["connector"]
systems = ["github"]

[[credential]]
name = "auditor"
token = "reader-token-0123456789abcdef"
scopes = ["reader"]
"#;
const HR: &str = "hr-token-0123456789abcdef";
const GITHUB: &str = "github-token-0123456789abcdef";
const READER: &str = "reader-token-0123456789abcdef";

/// The revocation commands on the topic for one identity, by target system.
async fn revocations(
    env: &TestEnv,
    identity: &str,
) -> anyhow::Result<BTreeMap<String, v1::RevocationCommand>> {
    let mut by_system = BTreeMap::new();
    for record in read_topic(env.bootstrap(), topics::COMMANDS).await? {
        if record.header("ce_type") == Some("tenure.commands.v1.revoke") {
            let command = v1::RevocationCommand::decode(record.payload.as_slice())?;
            if command.identity_id == identity {
                let system = command.entitlement.as_ref().map(|e| e.system.clone());
                by_system.insert(system.unwrap_or_default(), command);
            }
        }
    }
    Ok(by_system)
}

async fn lifecycle_log(env: &TestEnv) -> anyhow::Result<Vec<LifecycleEvent>> {
    read_topic(env.bootstrap(), topics::LIFECYCLE)
        .await?
        .iter()
        .map(|r| Ok(tenure_proto::decode_event(&r.payload)?))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_acknowledgements_of_issued_commands_change_anything() -> anyhow::Result<()> {
    let env = TestEnv::start("acknowledgements").await?;
    let file = log_dir().join("acknowledgements-credentials.toml");
    std::fs::write(&file, CREDENTIALS)?;
    let path = file.to_string_lossy().into_owned();
    let (tenure, base) =
        start_tenure_run(&env, "acknowledgements-tenure", &["--credentials", &path]).await?;
    let http = reqwest::Client::new();
    let identity = tenure_core::ids::identity(tenure_core::ids::PEOPLE, "E700").to_string();
    let ack = |body: Value| {
        let request = http
            .post(format!("{base}/v1/connectors/outcomes"))
            .bearer_auth(GITHUB)
            .json(&body);
        async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await?;
            anyhow::Ok((status, body))
        }
    };

    // E700's grants as the query API shows them to a reader.
    let grants_of_e700 = || {
        let request = http
            .get(format!("{base}/v1/identities/hr:E700"))
            .bearer_auth(READER);
        async move {
            let body: Value = request.send().await?.json().await?;
            anyhow::Ok(body["grants"].as_array().cloned().unwrap_or_default())
        }
    };
    let hired = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .bearer_auth(HR)
        .json(
            &json!({"event_id": "hire-E700", "type": "joiner", "employee_id": "E700",
                      "role": "engineer", "effective_time": hired}),
        )
        .send()
        .await?;
    assert_eq!(response.status(), 202, "{}", response.text().await?);
    let grants = eventually(
        "four birthright grants",
        Duration::from_secs(60),
        || async {
            let grants = grants_of_e700().await?;
            Ok((grants.len() == 4).then_some(grants))
        },
    )
    .await?;
    let github_grant = grants
        .iter()
        .find(|g| g["entitlement"]["system"] == "github")
        .and_then(|g| g["grant_id"].as_str())
        .expect("a github grant")
        .to_owned();

    // A made-up revocation of a real, active grant: nothing was ever issued for it.
    let forged = uuid::Uuid::from_u128(0xf0f0).to_string();
    let (status, body) = ack(json!({"command_id": forged, "grant_id": github_grant,
        "identity_id": identity, "command_type": "revoke", "status": "done", "connector": "github"}))
    .await?;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["problems"][0]["problem"]
            .as_str()
            .unwrap_or("")
            .contains("never issued"),
        "{body}"
    );

    // The person leaves: Tenure issues four revocations.
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .bearer_auth(HR)
        .json(
            &json!({"event_id": "leave-E700", "type": "leaver", "employee_id": "E700",
                      "effective_time": chrono::Utc::now().to_rfc3339()}),
        )
        .send()
        .await?;
    assert_eq!(response.status(), 202, "{}", response.text().await?);
    let issued = eventually("four revocations", Duration::from_secs(60), || async {
        let issued = revocations(&env, &identity).await?;
        Ok((issued.len() == 4).then_some(issued))
    })
    .await?;
    let github = &issued["github"];
    let aws = &issued["aws"];

    // The right command with another grant's id contradicts what was issued.
    let (status, body) = ack(json!({"command_id": github.command_id, "grant_id": aws.grant_id,
        "identity_id": identity, "command_type": "revoke", "status": "done", "connector": "github"}))
    .await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["problems"][0]["field"], "grant_id", "{body}");
    // The github connector cannot acknowledge the aws command.
    let (status, body) = ack(json!({"command_id": aws.command_id, "grant_id": aws.grant_id,
        "identity_id": identity, "command_type": "revoke", "status": "done", "connector": "github"}))
    .await?;
    assert_eq!(status, 403, "{body}");
    // A forged report on the outcomes topic is dead-lettered with its reason.
    let publisher = Publisher::new(env.bootstrap())?;
    let wire = v1::CommandOutcome {
        command_id: forged.clone(),
        status: v1::CommandStatus::Done as i32,
        detail: String::new(),
        grant_id: github.grant_id.clone(),
        identity_id: identity.clone(),
        command_type: v1::CommandType::Revoke as i32,
        connector: "github".into(),
        ..Default::default()
    };
    publisher
        .send(topics::OUTCOMES, &identity, &wire.encode_to_vec(), &[])
        .await?;
    let reason = eventually(
        "the forged outcome to be dead-lettered",
        Duration::from_secs(60),
        || async {
            let letters = read_topic(env.bootstrap(), topics::DEAD_LETTERS).await?;
            Ok(letters.iter().find_map(|r| {
                r.header(tenure_ingest::bridge::ERROR_HEADER)
                    .map(str::to_owned)
            }))
        },
    )
    .await?;
    assert!(reason.contains("never issued"), "{reason}");

    // The genuine acknowledgement is accepted and revokes the grant.
    let (status, body) = ack(json!({"command_id": github.command_id, "grant_id": github.grant_id,
        "identity_id": identity, "command_type": "revoke", "status": "done", "connector": "github"}))
    .await?;
    assert_eq!(status, 202, "{body}");
    eventually(
        "the github grant to be revoked",
        Duration::from_secs(60),
        || async {
            let revoked = grants_of_e700()
                .await?
                .iter()
                .any(|g| g["grant_id"] == github.grant_id.as_str() && g["status"] == "revoked");
            Ok(revoked.then_some(()))
        },
    )
    .await?;

    // Exactly one acknowledgement reached the log: the genuine one.
    let acknowledged: Vec<LifecycleEvent> = lifecycle_log(&env)
        .await?
        .into_iter()
        .filter(|e| e.source_system.starts_with("connector:"))
        .collect();
    assert_eq!(acknowledged.len(), 1, "{acknowledged:?}");
    assert_eq!(
        acknowledged[0].causation_id.map(|c| c.to_string()),
        Some(github.command_id.clone())
    );
    tenure.assert_running()?;
    Ok(())
}
