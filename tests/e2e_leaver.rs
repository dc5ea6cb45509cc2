//! Issue 2's end-to-end check: HR events posted over HTTP to a running `tenure run`
//! process come out as revocation commands, with their deterministic ids, on
//! `tenure.commands.v1` of a real tansu broker, with state in the real PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use prost::Message;
use serde_json::json;
use tenure_core::{GrantId, Policy, RevocationCause, ids};
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, read_topic, wait_caught_up};

const POLICY: &str = include_str!("../deploy/policy.toml");

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let response = http.post(url).json(&body).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    anyhow::ensure!(status == 202, "{url} answered {status}: {body}");
    Ok(body)
}

/// The trace the HR system's leaver request belongs to (W3C trace context).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The trace id of a `traceparent` header value.
fn trace_of(record: &tenure_tests::ReadRecord) -> Option<String> {
    record
        .header("traceparent")
        .and_then(tenure_kafka::trace::TraceContext::parse)
        .map(|t| t.trace_id())
}

fn revocations(
    records: &[tenure_tests::ReadRecord],
) -> anyhow::Result<Vec<(v1::RevocationCommand, String, String)>> {
    records
        .iter()
        .filter(|r| r.header("ce_type") == Some("tenure.commands.v1.revoke"))
        .map(|r| {
            let command = v1::RevocationCommand::decode(r.payload.as_slice())?;
            let target = r
                .header("tenure_target_system")
                .unwrap_or_default()
                .to_owned();
            let key = String::from_utf8(r.key.clone().unwrap_or_default())?;
            Ok((command, target, key))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaver_over_http_yields_deterministic_revocation_commands_on_the_topic()
-> anyhow::Result<()> {
    let env = TestEnv::start("e2e_leaver").await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let tenure = env.spawn_tenure(
        &["run", "--listen", &format!("127.0.0.1:{port}")],
        "e2e_leaver-tenure",
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(
        "the ingest API to answer",
        Duration::from_secs(60),
        || async {
            Ok(http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success()))
        },
    )
    .await?;

    tenure_tests::hire_owner(&base, "E001").await?;
    let now = chrono::Utc::now();
    let hired = (now - chrono::Duration::days(10)).to_rfc3339();
    post(&http, &format!("{base}/v1/hr/events"), json!({
        "source_system": "workday", "event_id": "hire-E100", "type": "joiner", "employee_id": "E100",
        "display_name": "Ada Lovelace", "role": "engineer", "effective_time": hired}))
    .await?;
    post(&http, &format!("{base}/v1/itsm/events"), json!({
        "source_system": "servicenow", "event_id": "sn-1", "type": "access_fulfilled", "request_id": "RITM-1",
        "employee_id": "E100", "entitlement": "aws:prod-account:admin", "owner": "E001",
        "business_reason": "on-call rotation", "effective_time": now.to_rfc3339(),
        "revocation": {"expires_at": (now + chrono::Duration::days(30)).to_rfc3339()}}))
    .await?;

    // The joiner's birthright (from the policy) plus the requested grant become active.
    let identity = ids::identity("hr", "E100");
    let birthright = Policy::from_toml(POLICY)?.birthright("engineer").to_vec();
    let hire_event = ids::event("workday", "hire-E100");
    let mut grants: BTreeSet<GrantId> = birthright
        .iter()
        .map(|e| ids::birthright_grant(identity, hire_event, e))
        .collect();
    grants.insert(ids::request_grant("servicenow", "RITM-1"));
    eventually(
        "all grants to be projected as active",
        Duration::from_secs(60),
        || async {
            tenure.assert_running()?;
            let client = env.db.client().await?;
            let state = tenure_projector::queries::identity(&**client, identity).await?;
            Ok(state.filter(|s| {
                s.active_grants().count() == grants.len()
                    && s.grants.keys().copied().collect::<BTreeSet<_>>() == grants
            }))
        },
    )
    .await?;

    let leaver = json!({"source_system": "workday", "event_id": "leave-E100", "type": "leaver",
                        "employee_id": "E100", "reason": "resignation", "effective_time": chrono::Utc::now().to_rfc3339()});
    // Sent within the HR system's own trace: the command carries it on.
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&leaver)
        .send()
        .await?;
    assert_eq!(response.status(), 202);

    let leave_event = ids::event("workday", "leave-E100");
    let expected: BTreeSet<String> = grants
        .iter()
        .map(|g| ids::revocation_command(*g, RevocationCause::Leaver, leave_event).to_string())
        .collect();
    let commands = eventually(
        "the revocation commands on tenure.commands.v1",
        Duration::from_secs(60),
        || async {
            tenure.assert_running()?;
            let records = read_topic(env.bootstrap(), topics::COMMANDS).await?;
            let commands = revocations(&records)?;
            Ok((commands.len() >= expected.len()).then_some(commands))
        },
    )
    .await?;
    let ids_seen: BTreeSet<String> = commands
        .iter()
        .map(|(c, _, _)| c.command_id.clone())
        .collect();
    assert_eq!(
        ids_seen, expected,
        "revocation command ids are the deterministic ones"
    );
    // One leaver, one trace: the event on the log and every command it caused carry
    // the request's trace id.
    let records = read_topic(env.bootstrap(), topics::COMMANDS).await?;
    let revoke_traces: Vec<Option<String>> = records
        .iter()
        .filter(|r| r.header("ce_type") == Some("tenure.commands.v1.revoke"))
        .map(trace_of)
        .collect();
    assert_eq!(revoke_traces.len(), expected.len());
    assert!(
        revoke_traces.iter().all(|t| t.as_deref() == Some(TRACE_ID)),
        "{revoke_traces:?}"
    );
    let logged = read_topic(env.bootstrap(), topics::LIFECYCLE).await?;
    let leaver_record = logged
        .iter()
        .find(|r| r.header("ce_id") == Some(leave_event.to_string().as_str()))
        .expect("the leaver is on the log");
    assert_eq!(trace_of(leaver_record).as_deref(), Some(TRACE_ID));
    for (command, target, key) in &commands {
        assert_eq!(command.identity_id, identity.to_string());
        assert_eq!(command.cause, v1::RevocationCause::Leaver as i32);
        assert_eq!(command.trigger_event_id, leave_event.to_string());
        let entitlement = command
            .entitlement
            .as_ref()
            .expect("commands name their entitlement");
        assert_eq!(
            target, &entitlement.system,
            "the target-system header routes the command"
        );
        assert_eq!(key, &identity.to_string(), "commands are keyed by identity");
    }

    // A redelivered leaver is the same event: once everything has caught up, no
    // second command was issued.
    post(&http, &format!("{base}/v1/hr/events"), leaver).await?;
    wait_caught_up(&env, "tenure-reactor", Duration::from_secs(60)).await?;
    eventually("the outbox to drain", Duration::from_secs(30), || async {
        let client = env.db.client().await?;
        Ok((tenure_store::outbox::depth(&**client).await? == 0).then_some(()))
    })
    .await?;
    let after = revocations(&read_topic(env.bootstrap(), topics::COMMANDS).await?)?;
    assert_eq!(
        after.len(),
        expected.len(),
        "a duplicate leaver must not issue commands again"
    );
    tenure.assert_running()?;
    Ok(())
}
