//! `tenure reconcile --system S`: asks a system's connector to list what its target
//! holds now; Tenure compares the answer with its grants and records the findings
//! (`GET /v1/reconciliation/findings`, `/metrics`, the dashboard).

use clap::Args;
use tenure_kafka::topics::{self, CommandTopics};
use tenure_kafka::{Publisher, headers};

/// What to reconcile.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The target system whose connector lists its target (`postgres`).
    #[arg(long)]
    pub system: String,
}

/// Publishes one reconciliation request for `args.system` on its command topic.
pub async fn run(
    bootstrap: &str,
    routes: CommandTopics,
    args: ReconcileArgs,
) -> anyhow::Result<()> {
    let system = args.system.trim();
    anyhow::ensure!(!system.is_empty(), "--system must name a target system");
    let topic = routes.commands_for(system);
    if routes == CommandTopics::PerSystem {
        topics::ensure_system_topics(bootstrap, system, topics::DEFAULT_PARTITIONS).await?;
    }
    let request_id = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    let mut hs = headers::cloud_event(
        &request_id.to_string(),
        tenure_core::reconcile::RECONCILIATION_SOURCE,
        tenure_proto::reconcile::RECONCILE_CE_TYPE,
        now,
        system,
    );
    hs.push((headers::TARGET_SYSTEM.to_owned(), system.to_owned()));
    let payload = tenure_proto::reconcile::encode_reconciliation_request(request_id, system, now);
    Publisher::new(bootstrap)?
        .send(&topic, system, &payload, &hs)
        .await?;
    println!(
        "asked the {system} connector to reconcile (request {request_id} on {topic}); \
         its findings appear in GET /v1/reconciliation/findings?system={system}"
    );
    Ok(())
}
