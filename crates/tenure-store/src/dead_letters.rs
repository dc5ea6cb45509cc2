//! Parking records a consumer cannot process, so that moving past them loses nothing:
//! each keeps its payload, key, headers, position and reason until an operator sends
//! it back to its topic after a fix (`tenure dead-letters retry`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::error::StoreError;
use crate::sql;

/// A record that could not be processed, and why.
#[derive(Clone, Debug)]
pub struct DeadLetter<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    pub headers: &'a [(String, String)],
    pub error: String,
}

/// PostgreSQL text cannot hold NUL; an error message may quote the hostile input.
fn storable_text(text: &str) -> String {
    text.replace('\0', "\\u0000")
}

/// Parks `letter` for `group` inside the caller's transaction (once per offset).
pub async fn park(
    client: &impl GenericClient,
    group: &str,
    letter: &DeadLetter<'_>,
) -> Result<(), StoreError> {
    let error = storable_text(&letter.error);
    tracing::error!(group, topic = letter.topic, partition = letter.partition, offset = letter.offset,
                    error = %error, "record parked in dead_letters");
    let headers = serde_json::to_vec(letter.headers).unwrap_or_else(|_| b"[]".to_vec());
    client
        .execute(
            sql::PARK_DEAD_LETTER,
            &[
                &group,
                &letter.topic,
                &letter.partition,
                &letter.offset,
                &letter.key,
                &letter.payload,
                &headers,
                &error,
            ],
        )
        .await?;
    Ok(())
}

/// A parked record as an operator sees it.
#[derive(Clone, Debug, Serialize)]
pub struct Parked {
    pub id: i64,
    pub consumer_group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub error: String,
    pub parked_at: DateTime<Utc>,
    pub retried_at: Option<DateTime<Utc>>,
    pub payload_bytes: i32,
    #[serde(skip)]
    pub key: Option<Vec<u8>>,
    #[serde(skip)]
    pub payload: Vec<u8>,
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
}

/// Which dead letters to list or retry.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only these ids (all when empty).
    pub ids: Vec<i64>,
    /// Only this consumer group.
    pub group: Option<String>,
    /// Include those already sent back.
    pub include_retried: bool,
}

/// The dead letters `selection` names, oldest first.
pub async fn list(
    client: &impl GenericClient,
    selection: &Selection,
) -> Result<Vec<Parked>, StoreError> {
    let rows = client
        .query(
            sql::LIST_DEAD_LETTERS,
            &[&selection.ids, &selection.group, &selection.include_retried],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let headers: Vec<u8> = r.get(11);
            Parked {
                id: r.get(0),
                consumer_group: r.get(1),
                topic: r.get(2),
                partition: r.get(3),
                offset: r.get(4),
                error: r.get(5),
                parked_at: r.get(6),
                retried_at: r.get(7),
                payload_bytes: r.get(8),
                key: r.get(9),
                payload: r.get(10),
                headers: serde_json::from_slice(&headers).unwrap_or_default(),
            }
        })
        .collect())
}

/// Records that `ids` were sent back to their topics.
pub async fn mark_retried(client: &impl GenericClient, ids: &[i64]) -> Result<u64, StoreError> {
    Ok(client
        .execute(sql::MARK_DEAD_LETTERS_RETRIED, &[&ids])
        .await?)
}

/// Dead letters waiting for an operator, by consumer group (for `/metrics`).
pub async fn waiting_by_group(
    client: &impl GenericClient,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = client
        .query(sql::COUNT_WAITING_DEAD_LETTERS_BY_GROUP, &[])
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
