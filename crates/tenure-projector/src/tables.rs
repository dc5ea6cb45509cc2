//! The projector's writes: the event journal, identity states and grants.

use std::collections::{HashMap, HashSet};

use tenure_core::STATE_DOCUMENT_VERSION;
use tenure_core::{EventId, GrantId, GrantOrigin, GrantStatus, IdentityId, IdentityState};
use tenure_store::{StoreError, state_document};
use tokio_postgres::Transaction;

use crate::handler::Positioned;
use crate::sql;

/// Journals the batch's events; returns the ids that were not journaled before.
pub(crate) async fn journal(
    txn: &Transaction<'_>,
    events: &[Positioned],
) -> Result<HashSet<EventId>, StoreError> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut identities = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut effective = Vec::with_capacity(events.len());
    let mut recorded = Vec::with_capacity(events.len());
    let mut sources = Vec::with_capacity(events.len());
    let mut source_ids = Vec::with_capacity(events.len());
    let mut causes = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    let mut partitions = Vec::with_capacity(events.len());
    let mut offsets = Vec::with_capacity(events.len());
    for p in events {
        let e = &p.event;
        ids.push(e.event_id);
        identities.push(e.identity_id);
        types.push(e.payload.kind());
        effective.push(e.effective_time);
        recorded.push(e.recorded_time);
        sources.push(e.source_system.as_str());
        source_ids.push(e.source_event_id.as_str());
        causes.push(e.causation_id);
        payloads.push(tenure_store::JsonText::of(&e.payload));
        partitions.push(p.partition);
        offsets.push(p.offset);
    }
    let rows = txn
        .query(
            sql::JOURNAL_EVENTS,
            &[
                &ids,
                &identities,
                &types,
                &effective,
                &recorded,
                &sources,
                &source_ids,
                &causes,
                &payloads,
                &partitions,
                &offsets,
            ],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// The current states of these identities (absent ones have no events yet). No row
/// locks: a partition has one owner, and a stale instance's writes are rolled back by
/// the offset compare-and-set at the end of its transaction.
pub(crate) async fn load_states(
    txn: &Transaction<'_>,
    ids: &[IdentityId],
) -> Result<HashMap<IdentityId, IdentityState>, StoreError> {
    let rows = txn.query(sql::LOAD_IDENTITY_STATES, &[&ids]).await?;
    let mut states = HashMap::with_capacity(rows.len());
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

/// Writes identities, and those of their grants that the batch touched.
/// The `externalId` of a SCIM source record kept as sent, as text (`None` for a record
/// that is not a JSON object or has none), for the SCIM lookup by externalId.
fn scim_external_id(record: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Record {
        #[serde(rename = "externalId")]
        external_id: Option<serde_json::Value>,
    }
    // A derived Deserialize also reads a struct from an array: only an object counts.
    if !record.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str::<Record>(record).ok()?.external_id? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

pub(crate) async fn save_states<'a>(
    txn: &Transaction<'_>,
    states: impl Iterator<Item = &'a IdentityState>,
    touched_grants: &HashSet<GrantId>,
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    let mut statuses = Vec::new();
    let mut roles = Vec::new();
    let mut names = Vec::new();
    let mut person_ids = Vec::new();
    let mut applied = Vec::new();
    let mut docs = Vec::new();
    let mut owned_by = Vec::new();
    let mut orphaned = Vec::new();
    let mut logins = Vec::new();
    let mut external_ids = Vec::new();

    let mut g_ids = Vec::new();
    let mut g_identities = Vec::new();
    let mut g_systems = Vec::new();
    let mut g_resources = Vec::new();
    let mut g_permissions = Vec::new();
    let mut g_owners = Vec::new();
    let mut g_reasons = Vec::new();
    let mut g_expires = Vec::new();
    let mut g_role_change = Vec::new();
    let mut g_origins = Vec::new();
    let mut g_statuses = Vec::new();
    let mut g_granted = Vec::new();
    let mut g_commands = Vec::new();
    let mut g_causes = Vec::new();
    let mut g_since = Vec::new();
    let mut g_suspended = Vec::new();
    let mut g_ungoverned = Vec::new();

    for s in states {
        ids.push(s.identity_id);
        kinds.push(s.kind.as_str());
        statuses.push(s.status.as_str());
        roles.push(s.role.clone());
        names.push(s.attributes.display_name.clone());
        person_ids.push(s.source_person_id.clone());
        applied.push(s.events_applied as i64);
        docs.push(tenure_store::JsonText::of(s));
        owned_by.push(tenure_core::process::owner_to_notify(s));
        orphaned.push(tenure_core::governance::is_orphaned(s));
        logins.push(s.attributes.login.as_deref());
        external_ids.push(
            s.attributes
                .source_record
                .as_deref()
                .and_then(scim_external_id),
        );
        for g in s
            .grants
            .values()
            .filter(|g| touched_grants.contains(&g.grant_id))
        {
            g_ids.push(g.grant_id);
            g_identities.push(s.identity_id);
            g_systems.push(g.entitlement.system.clone());
            g_resources.push(g.entitlement.resource.clone());
            g_permissions.push(g.entitlement.permission.clone());
            g_owners.push(g.owner.clone());
            g_reasons.push(g.business_reason.clone());
            g_expires.push(g.revocation.expires_at);
            g_role_change.push(g.revocation.ends_on_role_change);
            g_origins.push(match &g.origin {
                GrantOrigin::Birthright { role } => format!("birthright:{role}"),
                GrantOrigin::Request { request_id } => format!("request:{request_id}"),
            });
            g_statuses.push(g.status.as_str());
            g_suspended.push(g.suspended);
            g_ungoverned.push(tenure_core::governance::is_ungoverned(g));
            g_granted.push(g.granted_at);
            let (command, cause, since) = match &g.status {
                GrantStatus::Active => (None, None, Some(g.granted_at)),
                GrantStatus::RevocationPending {
                    command_id,
                    cause,
                    since,
                } => (Some(*command_id), Some(cause.as_str()), Some(*since)),
                GrantStatus::Revoked {
                    command_id,
                    cause,
                    revoked_at,
                } => (
                    Some(*command_id),
                    cause.map(|c| c.as_str()),
                    Some(*revoked_at),
                ),
            };
            g_commands.push(command);
            g_causes.push(cause);
            g_since.push(since);
        }
    }
    txn.execute(
        sql::UPSERT_IDENTITIES,
        &[
            &ids,
            &kinds,
            &statuses,
            &roles,
            &names,
            &person_ids,
            &applied,
            &docs,
            &owned_by,
            &orphaned,
            &STATE_DOCUMENT_VERSION,
            &logins,
            &external_ids,
        ],
    )
    .await?;
    if !g_ids.is_empty() {
        txn.execute(
            sql::UPSERT_GRANTS,
            &[
                &g_ids,
                &g_identities,
                &g_systems,
                &g_resources,
                &g_permissions,
                &g_owners,
                &g_reasons,
                &g_expires,
                &g_role_change,
                &g_origins,
                &g_statuses,
                &g_granted,
                &g_commands,
                &g_causes,
                &g_since,
                &g_suspended,
                &g_ungoverned,
            ],
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::scim_external_id;

    #[test]
    fn the_external_id_is_read_from_a_scim_record_and_nothing_else() {
        assert_eq!(
            scim_external_id(r#"{"userName":"a","externalId":"00u1"}"#).as_deref(),
            Some("00u1")
        );
        assert_eq!(
            scim_external_id(r#"{"externalId":42}"#).as_deref(),
            Some("42")
        );
        assert_eq!(scim_external_id(r#"{"userName":"a"}"#), None);
        assert_eq!(scim_external_id(r#"{"externalId":null}"#), None);
        assert_eq!(scim_external_id("not json"), None);
        assert_eq!(scim_external_id(r#"["externalId"]"#), None);
    }
}
