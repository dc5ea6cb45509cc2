//! A stand-in provisioning connector for the demo: it reads `tenure.commands.v1`,
//! "executes" each command and acknowledges it over the ingest API, as a real
//! connector would.

use std::time::Duration;

use prost::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use serde_json::json;
use tenure_kafka::{headers, topics};
use tenure_proto::v1;
use tokio::sync::watch;

/// Acknowledges every command as done until `shutdown` turns true.
pub async fn run(
    bootstrap: &str,
    base: &str,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let consumer: StreamConsumer = tenure_kafka::client_config(bootstrap)
        .set("group.id", "tenure-demo-connector")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "25")
        .create()?;
    consumer.subscribe(&[topics::COMMANDS])?;
    let http = reqwest::Client::new();
    let url = format!("{base}/v1/connectors/outcomes");
    loop {
        let message = tokio::select! {
            m = consumer.recv() => m?,
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        // PostgreSQL's commands are the real connector's (demo/target.rs).
        let target = message
            .headers()
            .and_then(|hs| hs.iter().find(|h| h.key == headers::TARGET_SYSTEM))
            .and_then(|h| h.value);
        if target == Some(tenure_connector_postgres::SYSTEM.as_bytes()) {
            continue;
        }
        let kind = message
            .headers()
            .and_then(|hs| hs.iter().find(|h| h.key == headers::CE_TYPE))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let payload = message.payload().unwrap_or_default();
        let outcome = if kind.ends_with(".revoke") {
            let c = v1::RevocationCommand::decode(payload)?;
            let system = c.entitlement.map(|e| e.system).unwrap_or_default();
            json!({"command_id": c.command_id, "grant_id": c.grant_id, "identity_id": c.identity_id,
                   "command_type": "revoke", "status": "done", "connector": format!("demo-{system}"),
                   "detail": "access removed"})
        } else {
            let c = v1::GrantCommand::decode(payload)?;
            let system = c.entitlement.map(|e| e.system).unwrap_or_default();
            json!({"command_id": c.command_id, "grant_id": c.grant_id, "identity_id": c.identity_id,
                   "command_type": "grant", "status": "done", "connector": format!("demo-{system}"),
                   "detail": "access provisioned"})
        };
        // Retry until ingest accepts: an acknowledgement must not be lost.
        loop {
            match http.post(&url).json(&outcome).send().await {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => anyhow::bail!(
                    "ingest refused an outcome: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "outcome not delivered; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
