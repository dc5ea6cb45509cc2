//! Reads of the projection, for the CLI, the demo and tests.

use std::collections::BTreeMap;

use tenure_core::IdentityState;
use tenure_store::StoreError;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Every projected identity's folded state, by id.
pub async fn all_states(
    client: &impl GenericClient,
) -> Result<BTreeMap<Uuid, IdentityState>, StoreError> {
    let rows = client
        .query("SELECT state FROM projection_identities", &[])
        .await?;
    let mut states = BTreeMap::new();
    for row in rows {
        let value: serde_json::Value = row.get(0);
        let state: IdentityState = serde_json::from_value(value)
            .map_err(|e| StoreError::Corrupt(format!("unreadable identity state: {e}")))?;
        states.insert(state.identity_id, state);
    }
    Ok(states)
}

/// One identity's folded state, if it was ever seen.
pub async fn identity(
    client: &impl GenericClient,
    identity_id: Uuid,
) -> Result<Option<IdentityState>, StoreError> {
    let row = client
        .query_opt(
            "SELECT state FROM projection_identities WHERE identity_id = $1",
            &[&identity_id],
        )
        .await?;
    row.map(|r| {
        serde_json::from_value(r.get(0))
            .map_err(|e| StoreError::Corrupt(format!("unreadable identity state: {e}")))
    })
    .transpose()
}

/// How many distinct events the projection holds.
pub async fn event_count(client: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(client
        .query_one("SELECT count(*) FROM projection_events", &[])
        .await?
        .get(0))
}
