//! What SCIM reads from PostgreSQL: the projected Users and where the projector
//! stands, as typed functions over the statements in `sql/scim/`.

use tenure_core::{IdentityId, IdentityState};
use tokio_postgres::Client;

use crate::sql;

/// The projector's consumer group, whose stored offsets say what the projection holds.
const PROJECTOR_GROUP: &str = "tenure-projector";

/// A User's stored state, or why the stored document is not an [`IdentityState`].
pub(super) type StoredState = Result<IdentityState, serde_json::Error>;

/// The offset the projector will consume next in `partition` of the lifecycle log
/// (`None`: it has committed nothing there).
pub(super) async fn projector_next_offset(
    client: &Client,
    partition: i32,
) -> Result<Option<i64>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            sql::PROJECTED_NEXT_OFFSET,
            &[
                &PROJECTOR_GROUP,
                &tenure_kafka::topics::LIFECYCLE,
                &partition,
            ],
        )
        .await?
        .map(|r| r.get(0)))
}

/// The projected states of the Users (employees and contractors) among `ids`.
pub(super) async fn people(
    client: &Client,
    ids: &[IdentityId],
) -> Result<Vec<StoredState>, tokio_postgres::Error> {
    let rows = client.query(sql::PEOPLE_STATES, &[&ids]).await?;
    Ok(rows
        .into_iter()
        .map(|r| decode(r.get(0), r.get(1)))
        .collect())
}

/// Whether `id` is a service account, API key or agent the projection knows.
pub(super) async fn is_known_non_human(
    client: &Client,
    id: IdentityId,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(sql::KNOWN_NON_HUMAN, &[&id])
        .await?
        .is_some())
}

/// At most `limit` Users after identity `after` (nil: from the first), ordered by
/// identity id.
pub(super) async fn people_page(
    client: &Client,
    after: IdentityId,
    limit: i64,
) -> Result<Vec<StoredState>, tokio_postgres::Error> {
    let rows = client.query(sql::PEOPLE_PAGE, &[&after, &limit]).await?;
    Ok(rows
        .into_iter()
        .map(|r| decode(r.get(0), r.get(1)))
        .collect())
}

/// The ids of every User not deleted at its source, in id order.
pub(super) async fn visible_people_ids(
    client: &Client,
) -> Result<Vec<IdentityId>, tokio_postgres::Error> {
    let rows = client
        .query(sql::PEOPLE_IDS, &[&tenure_core::intake::DELETED_AT_SOURCE])
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// The Users whose userName is `user_name`, without regard to case.
pub(super) async fn people_by_login(
    client: &Client,
    user_name: &str,
) -> Result<Vec<StoredState>, tokio_postgres::Error> {
    let rows = client.query(sql::PEOPLE_BY_LOGIN, &[&user_name]).await?;
    Ok(rows
        .into_iter()
        .map(|r| decode(r.get(0), r.get(1)))
        .collect())
}

/// The Users whose externalId is `external_id` (case-exact).
pub(super) async fn people_by_external_id(
    client: &Client,
    external_id: &str,
) -> Result<Vec<StoredState>, tokio_postgres::Error> {
    let rows = client
        .query(sql::PEOPLE_BY_EXTERNAL_ID, &[&external_id])
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| decode(r.get(0), r.get(1)))
        .collect())
}

/// A projected state document, refused (as unreadable) when another version of Tenure
/// wrote it.
fn decode(version: i16, document: serde_json::Value) -> StoredState {
    if version != tenure_core::STATE_DOCUMENT_VERSION {
        return Err(serde::de::Error::custom(format!(
            "state document version {version}; this build reads version {}",
            tenure_core::STATE_DOCUMENT_VERSION
        )));
    }
    serde_json::from_value(document)
}
