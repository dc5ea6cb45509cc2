//! Parking records a consumer cannot read, so that moving past them loses nothing.

use tokio_postgres::GenericClient;

use crate::error::StoreError;

/// A record that could not be read, and why.
#[derive(Clone, Debug)]
pub struct DeadLetter<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub payload: &'a [u8],
    pub error: String,
}

/// Parks `letter` for `group` inside the caller's transaction (once per offset).
pub async fn park(
    client: &impl GenericClient,
    group: &str,
    letter: &DeadLetter<'_>,
) -> Result<(), StoreError> {
    tracing::error!(group, topic = letter.topic, partition = letter.partition, offset = letter.offset,
                    error = %letter.error, "record parked in dead_letters");
    client
        .execute(
            "INSERT INTO dead_letters (consumer_group, topic, partition, log_offset, payload, error)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&group, &letter.topic, &letter.partition, &letter.offset, &letter.payload, &letter.error],
        )
        .await?;
    Ok(())
}
