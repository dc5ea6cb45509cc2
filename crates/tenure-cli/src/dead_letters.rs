//! `tenure dead-letters`: what the consumers parked, and sending it back after a fix.
//!
//! A parked record is published again to its own topic with its own key, payload and
//! headers. Every consumer recognises a record it already processed by its event id,
//! so sending back a record that one consumer group parked and another processed has
//! no second effect on the latter.

use std::collections::BTreeMap;

use clap::Subcommand;
use tenure_kafka::Publisher;
use tenure_store::Database;
use tenure_store::dead_letters::{self, Selection};

/// What an operator does with dead letters.
#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// List parked records (waiting ones; --all includes those already retried) as JSON lines.
    List {
        /// Only this consumer group (tenure-projector, tenure-reactor).
        #[arg(long)]
        group: Option<String>,
        /// Include records already sent back.
        #[arg(long)]
        all: bool,
    },
    /// Publish parked records back to their topic and mark them retried: name them by
    /// id, or take every waiting one with --all (of one --group if given).
    Retry {
        /// Dead letter ids, as `list` prints them.
        ids: Vec<i64>,
        /// Only this consumer group.
        #[arg(long)]
        group: Option<String>,
        /// Every waiting dead letter (of --group, if given).
        #[arg(long)]
        all: bool,
    },
}

/// Runs one dead-letter action.
pub async fn run(
    database_url: &str,
    bootstrap: Option<String>,
    action: DeadLetterAction,
) -> anyhow::Result<()> {
    let db = Database::open_existing(database_url).await?;
    let client = db.client().await?;
    match action {
        DeadLetterAction::List { group, all } => {
            let selection = Selection {
                ids: Vec::new(),
                group,
                include_retried: all,
            };
            for parked in dead_letters::list(&**client, &selection).await? {
                println!("{}", serde_json::to_string(&parked)?);
            }
            Ok(())
        }
        DeadLetterAction::Retry { ids, group, all } => {
            anyhow::ensure!(
                all || !ids.is_empty(),
                "name the dead letters to retry by id, or pass --all"
            );
            let bootstrap = bootstrap.ok_or_else(|| {
                anyhow::anyhow!("--bootstrap (or KAFKA_BOOTSTRAP_SERVERS) is required to publish")
            })?;
            let selection = Selection {
                ids,
                group,
                include_retried: false,
            };
            let parked = dead_letters::list(&**client, &selection).await?;
            // One record parked by several groups is published once.
            let mut by_position: BTreeMap<(String, i32, i64), Vec<&dead_letters::Parked>> =
                BTreeMap::new();
            for p in &parked {
                by_position
                    .entry((p.topic.clone(), p.partition, p.offset))
                    .or_default()
                    .push(p);
            }
            let publisher = Publisher::new(&bootstrap)?;
            let mut retried = 0usize;
            for ((topic, partition, offset), letters) in by_position {
                let first = letters[0];
                let key = first
                    .key
                    .as_deref()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                let delivered = publisher
                    .send(&topic, &key, &first.payload, &first.headers)
                    .await?;
                let ids: Vec<i64> = letters.iter().map(|l| l.id).collect();
                dead_letters::mark_retried(&**client, &ids).await?;
                retried += ids.len();
                println!(
                    "{topic}[{partition}]@{offset} sent back as {topic}[{}]@{} (dead letters {ids:?})",
                    delivered.partition, delivered.offset
                );
            }
            println!("{retried} dead letter(s) sent back for another try");
            Ok(())
        }
    }
}
