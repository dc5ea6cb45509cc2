//! The outbox relay: publishes what the reactor decided, in the order it decided it.
//!
//! A crash between publishing and marking a row published republishes it with the
//! same id (at-least-once); connectors and consumers recognise the duplicate.

use std::time::Duration;

use futures::future::join_all;
use std::collections::BTreeSet;
use std::sync::Mutex;

use tenure_kafka::{KafkaAdapterError, Publisher, topics};
use tenure_store::wakeup::{self, Wakeup};
use tenure_store::{Database, StoreError, outbox};
use tokio::sync::watch;
use tokio_postgres::Transaction;
use tracing::warn;

use crate::sql;

/// Most messages published per transaction.
const BATCH: i64 = 500;
/// Advisory lock key that makes the relay single-flight across reactor instances.
const RELAY_LOCK: i64 = 0x0072_656c_6179;

/// How long the relay sleeps with nothing to publish before it looks anyway (a
/// notice lost while its listener reconnected, a standby relay taking over).
const FALLBACK: Duration = Duration::from_secs(1);

/// Publishes the outbox until `shutdown` turns true, woken the moment a transaction
/// that wrote to it commits (`tenure_store::wakeup::OUTBOX`).
pub async fn run(
    db: Database,
    publisher: Publisher,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    let wakeup = Wakeup::listen(&db, wakeup::OUTBOX);
    while !*shutdown.borrow() {
        let pause = match relay_once(&db, &publisher, BATCH).await {
            Ok(0) => FALLBACK,
            Ok(_) => Duration::ZERO,
            Err(e) => {
                warn!(error = %e, "outbox relay failed; will retry");
                Duration::from_secs(1)
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = wakeup.wait(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    Ok(())
}

/// Publishes up to `limit` pending messages; returns how many were published.
pub async fn relay_once(
    db: &Database,
    publisher: &Publisher,
    limit: i64,
) -> Result<usize, KafkaAdapterError> {
    let mut client = db.client().await?;
    let txn = client.transaction().await.map_err(StoreError::from)?;
    // One relay at a time: two relays publishing neighbouring rows side by side could
    // reorder one identity's commands (a revoke overtaking its grant).
    if !try_lead(&txn).await? {
        return Ok(0);
    }
    let pending = outbox::unpublished(&*txn, limit).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    // The log's facts first, acknowledged, then the commands: a connector can only
    // see a command once the decision behind it (`revocation_issued`, …) is on the
    // identity's log, so its acknowledgement always lands after that decision.
    let (commands, facts): (Vec<_>, Vec<_>) = pending
        .iter()
        .partition(|m| topics::is_commands_topic(&m.message.topic));
    ensure_system_topics(publisher, &commands).await?;
    for phase in [facts, commands] {
        let sends = phase.iter().map(|m| {
            publisher.send(
                &m.message.topic,
                &m.message.key,
                &m.message.payload,
                &m.message.headers,
            )
        });
        for result in join_all(sends).await {
            result?;
        }
    }
    let seqs: Vec<i64> = pending.iter().map(|m| m.seq).collect();
    outbox::mark_published(&*txn, &seqs, chrono::Utc::now()).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(pending.len())
}

/// Creates the per-system topics of `commands` that this process has not seen yet
/// (and the matching outcome topics, so their connectors can answer at once).
async fn ensure_system_topics(
    publisher: &Publisher,
    commands: &[&outbox::StoredMessage],
) -> Result<(), KafkaAdapterError> {
    static ENSURED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let wanted: BTreeSet<String> = commands
        .iter()
        .map(|m| m.message.topic.clone())
        .filter(|t| t.starts_with(topics::COMMANDS_PREFIX))
        .filter(|t| {
            !ENSURED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(t)
        })
        .collect();
    for topic in wanted {
        let system = topic.trim_start_matches(topics::COMMANDS_PREFIX);
        topics::ensure_system_topics(publisher.bootstrap(), system, topics::DEFAULT_PARTITIONS)
            .await?;
        ENSURED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic);
    }
    Ok(())
}

/// Takes the relay's lock for the rest of `txn` if no other relay holds it; returns
/// whether it did (the statement is `sql/relay/try_lock.sql`).
async fn try_lead(txn: &Transaction<'_>) -> Result<bool, StoreError> {
    Ok(txn
        .query_one(sql::TRY_RELAY_LOCK, &[&RELAY_LOCK])
        .await?
        .get(0))
}
