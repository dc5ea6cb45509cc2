//! The transactional outbox: messages written with the state change that caused
//! them, published afterwards by a relay (deploy/architecture.md).

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::StoreError;
use crate::sql;

/// One message waiting to be published. `message_id` is deterministic (a command id
/// or a fact's event id), so writing the same decision twice stores it once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    pub message_id: Uuid,
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// Why the message is held back from publication (the safety brake), if it is.
    pub held: Option<String>,
}

/// A stored outbox message with its position and publication state.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub seq: i64,
    pub message: OutboxMessage,
    pub attempts: i32,
}

/// Adds messages inside the caller's transaction; ids already present are skipped.
/// Returns how many were new. Relays listening are woken when the transaction commits.
pub async fn insert(
    client: &impl GenericClient,
    messages: &[OutboxMessage],
) -> Result<u64, StoreError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = messages.iter().map(|m| m.message_id).collect();
    let held: Vec<Option<&str>> = messages.iter().map(|m| m.held.as_deref()).collect();
    let topics: Vec<&str> = messages.iter().map(|m| m.topic.as_str()).collect();
    let keys: Vec<&str> = messages.iter().map(|m| m.key.as_str()).collect();
    let payloads: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_slice()).collect();
    let headers: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::Value::Array(
                m.headers
                    .iter()
                    .map(|(k, v)| serde_json::json!([k, v]))
                    .collect(),
            )
        })
        .collect();
    let inserted = client
        .execute(
            sql::INSERT_OUTBOX_MESSAGES,
            &[&ids, &topics, &keys, &payloads, &headers, &held],
        )
        .await?;
    if messages.iter().any(|m| m.held.is_none()) && inserted > 0 {
        crate::wakeup::announce(client, crate::wakeup::OUTBOX).await?;
    }
    Ok(inserted)
}

/// The oldest unpublished messages, in the order they were written; inside a
/// transaction they are locked, so parallel relays do not publish the same rows.
pub async fn unpublished(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<StoredMessage>, StoreError> {
    let replaced = prefer_index_scans(client).await?;
    let rows = client.query(sql::UNPUBLISHED_MESSAGES, &[&limit]).await;
    restore_scans(client, replaced).await?;
    let rows = rows?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let headers: serde_json::Value = r.get(5);
            let headers = headers
                .as_array()
                .map(|pairs| {
                    pairs
                        .iter()
                        .filter_map(|p| {
                            Some((
                                p.get(0)?.as_str()?.to_owned(),
                                p.get(1)?.as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            StoredMessage {
                seq: r.get(0),
                message: OutboxMessage {
                    message_id: r.get(1),
                    topic: r.get(2),
                    key: r.get(3),
                    payload: r.get(4),
                    headers,
                    held: None,
                },
                attempts: r.get(6),
            }
        })
        .collect())
}

/// Records that the broker acknowledged these messages.
pub async fn mark_published(
    client: &impl GenericClient,
    seqs: &[i64],
    published_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    client
        .execute(sql::MARK_MESSAGES_PUBLISHED, &[&seqs, &published_at])
        .await?;
    Ok(())
}

/// How many messages wait to be published (not counting held ones).
pub async fn depth(client: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(client
        .query_one(sql::COUNT_UNPUBLISHED_MESSAGES, &[])
        .await?
        .get(0))
}

/// How many messages the safety brake holds back.
pub async fn held(client: &impl GenericClient) -> Result<i64, StoreError> {
    let replaced = prefer_index_scans(client).await?;
    let held = client.query_one(sql::COUNT_HELD_MESSAGES, &[]).await;
    restore_scans(client, replaced).await?;
    Ok(held?.get(0))
}

/// The scan settings [`prefer_index_scans`] replaced.
struct ScanSettings {
    seqscan: String,
    bitmapscan: String,
}

/// Reads the outbox through its partial indexes for the rest of the caller's
/// transaction (see `sql/outbox/prefer_index_scans.sql`: a queue's statistics lag
/// behind it); outside a transaction it changes nothing.
async fn prefer_index_scans(client: &impl GenericClient) -> Result<ScanSettings, StoreError> {
    let row = client.query_one(sql::PREFER_INDEX_SCANS, &[]).await?;
    Ok(ScanSettings {
        seqscan: row.get(0),
        bitmapscan: row.get(1),
    })
}

/// Puts back what [`prefer_index_scans`] replaced, so the caller's other statements
/// are planned as usual.
async fn restore_scans(
    client: &impl GenericClient,
    replaced: ScanSettings,
) -> Result<(), StoreError> {
    client
        .execute(
            sql::RESTORE_SCANS,
            &[&replaced.seqscan, &replaced.bitmapscan],
        )
        .await?;
    Ok(())
}
