//! Kafka offsets kept in PostgreSQL, committed with the state they produced and
//! fenced by compare-and-set so a stale consumer instance cannot commit.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use crate::error::StoreError;
use crate::sql;

/// A topic partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub topic: String,
    pub partition: i32,
}

/// Move a partition's stored offset from `expected` (what this instance last read or
/// wrote; `None` if nothing was stored) to `next` (the offset to consume next).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetAdvance {
    pub partition: PartitionKey,
    pub expected: Option<i64>,
    pub next: i64,
    /// Messages handled in this advance (duplicates included), for the processed counter.
    pub messages: i64,
}

/// The stored next offsets of `partitions` for `group`; absent partitions start from the beginning.
pub async fn load(
    client: &impl GenericClient,
    group: &str,
    partitions: &[PartitionKey],
) -> Result<HashMap<PartitionKey, i64>, StoreError> {
    let topics: Vec<&str> = partitions.iter().map(|p| p.topic.as_str()).collect();
    let numbers: Vec<i32> = partitions.iter().map(|p| p.partition).collect();
    let rows = client
        .query(sql::LOAD_OFFSETS, &[&group, &topics, &numbers])
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                PartitionKey {
                    topic: r.get(0),
                    partition: r.get(1),
                },
                r.get(2),
            )
        })
        .collect())
}

/// Advances offsets inside the caller's transaction. Fails with
/// [`StoreError::Fenced`] if any stored offset is not the expected one, in which case
/// the caller must roll back.
pub async fn advance(
    client: &impl GenericClient,
    group: &str,
    advances: &[OffsetAdvance],
) -> Result<(), StoreError> {
    for a in advances {
        let changed = match a.expected {
            Some(expected) => {
                client
                    .execute(
                        sql::ADVANCE_OFFSET,
                        &[
                            &group,
                            &a.partition.topic,
                            &a.partition.partition,
                            &expected,
                            &a.next,
                            &a.messages,
                        ],
                    )
                    .await?
            }
            None => {
                client
                    .execute(
                        sql::INSERT_FIRST_OFFSET,
                        &[
                            &group,
                            &a.partition.topic,
                            &a.partition.partition,
                            &a.next,
                            &a.messages,
                        ],
                    )
                    .await?
            }
        };
        if changed != 1 {
            return Err(StoreError::Fenced {
                topic: a.partition.topic.clone(),
                partition: a.partition.partition,
                expected: a.expected,
            });
        }
    }
    Ok(())
}

/// The stored next offset of every partition of `topic` that `group` has committed.
pub async fn positions(
    client: &impl GenericClient,
    group: &str,
    topic: &str,
) -> Result<HashMap<i32, i64>, StoreError> {
    let rows = client
        .query(sql::PARTITION_POSITIONS, &[&group, &topic])
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// How many records of `topic` (whose partitions end at `ends`) `group` has not yet
/// committed; 0 means it has caught up.
pub async fn lag(
    client: &impl GenericClient,
    group: &str,
    topic: &str,
    ends: &[(i32, i64)],
) -> Result<i64, StoreError> {
    let done = positions(client, group, topic).await?;
    Ok(ends
        .iter()
        .map(|(p, end)| (end - done.get(p).copied().unwrap_or(0)).max(0))
        .sum())
}
