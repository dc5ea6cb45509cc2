//! Reads of the projection, for the CLI, the demo and tests.

use std::collections::BTreeMap;

use tenure_core::STATE_DOCUMENT_VERSION;
use tenure_core::{IdentityId, IdentityState};
use tenure_store::{StoreError, state_document};
use tokio_postgres::GenericClient;

use crate::sql;

/// Every projected identity's folded state, by id.
pub async fn all_states(
    client: &impl GenericClient,
) -> Result<BTreeMap<IdentityId, IdentityState>, StoreError> {
    let rows = client.query(sql::ALL_IDENTITY_STATES, &[]).await?;
    let mut states = BTreeMap::new();
    for row in rows {
        let state: IdentityState = state_document::decode(
            "projection_identities",
            row.get(0),
            STATE_DOCUMENT_VERSION,
            row.get(1),
        )?;
        states.insert(state.identity_id, state);
    }
    Ok(states)
}

/// One identity's folded state, if it was ever seen.
pub async fn identity(
    client: &impl GenericClient,
    identity_id: IdentityId,
) -> Result<Option<IdentityState>, StoreError> {
    let row = client
        .query_opt(sql::IDENTITY_STATE, &[&identity_id])
        .await?;
    row.map(|r| {
        state_document::decode(
            "projection_identities",
            r.get(0),
            STATE_DOCUMENT_VERSION,
            r.get(1),
        )
    })
    .transpose()
}

/// How many distinct events the projection holds.
pub async fn event_count(client: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(client.query_one(sql::EVENT_COUNT, &[]).await?.get(0))
}
