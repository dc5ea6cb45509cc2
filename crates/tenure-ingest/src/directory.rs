//! The projection read as the intake rules' [`View`]: which owners exist and whether
//! they left, which requests were closed. The rules themselves live in
//! `tenure_core::intake`; this adapter only reads what they ask for.

use std::collections::HashMap;

use tenure_core::intake::{IssuedCommand, Lookups, Standing, View};
use tenure_core::{CommandId, CommandType, IdentityId, LifecycleEvent, RequestState, ids};
use tenure_store::Database;

use crate::error::ApiError;
use crate::sql;

/// Reads from the projection what `lookups` names. Fails with 503 when it cannot.
pub(crate) async fn view(db: &Database, lookups: &Lookups) -> Result<View, ApiError> {
    let mut view = View::default();
    if lookups.owners.is_empty() && lookups.requests.is_empty() && lookups.subjects.is_empty() {
        return Ok(view);
    }
    // The database's own error text is logged, never sent to the caller.
    let unavailable = |e: String| {
        tracing::warn!(error = %e, "the identity directory cannot be read");
        ApiError::unavailable_store("the identity directory cannot be read; resend the request")
    };
    let client = db.client().await.map_err(|e| unavailable(e.to_string()))?;
    if !lookups.owners.is_empty() {
        let identities: Vec<IdentityId> = lookups
            .owners
            .iter()
            .map(|o| ids::identity(ids::PEOPLE, o))
            .collect();
        let rows = client
            .query(sql::OWNER_STANDINGS, &[&identities])
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        for row in rows {
            let Some(person) = row.get::<_, Option<String>>(0) else {
                continue;
            };
            let standing = match (row.get::<_, bool>(1), row.get::<_, String>(2).as_str()) {
                (false, _) => Standing::NonHuman,
                (true, "left") => Standing::Left,
                (true, "unknown") => continue,
                (true, _) => Standing::Present,
            };
            view.people.insert(person, standing);
        }
    }
    if !lookups.subjects.is_empty() {
        let rows = client
            .query(sql::KNOWN_SUBJECTS, &[&lookups.subjects])
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        view.known_subjects = rows.iter().map(|r| r.get(0)).collect();
    }
    if !lookups.requests.is_empty() {
        let sources: Vec<&str> = lookups.requests.iter().map(|(s, _)| s.as_str()).collect();
        let requests: Vec<&str> = lookups.requests.iter().map(|(_, r)| r.as_str()).collect();
        let rows = client
            .query(sql::LATEST_REQUEST_STATES, &[&sources, &requests])
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        for row in rows {
            let state = match row.get::<_, Option<String>>(2).as_deref() {
                Some("rejected") => RequestState::Rejected,
                Some("cancelled") => RequestState::Cancelled,
                _ => continue,
            };
            view.closed_requests.insert(
                (
                    row.get(0),
                    row.get::<_, Option<String>>(1).unwrap_or_default(),
                ),
                state,
            );
        }
    }
    Ok(view)
}

/// Tenure's grants on `system`, each with the account it was made to, for comparing
/// a connector's observation of the system with them.
pub(crate) async fn expected_grants(
    db: &Database,
    system: &str,
) -> Result<Vec<tenure_core::reconcile::ExpectedGrant>, String> {
    use tenure_core::reconcile::{ExpectedGrant, Standing};
    let client = db.client().await.map_err(|e| e.to_string())?;
    let rows = client
        .query(sql::STATES_WITH_GRANTS_ON, &[&system])
        .await
        .map_err(|e| e.to_string())?;
    let mut expected = Vec::new();
    for row in rows {
        let state: tenure_core::IdentityState = tenure_store::state_document::decode(
            "projection_identities",
            row.get(0),
            tenure_core::STATE_DOCUMENT_VERSION,
            row.get(1),
        )
        .map_err(|e| e.to_string())?;
        let account = tenure_core::TargetAccount::resolve(
            &state.attributes,
            state.source_person_id.as_deref().unwrap_or_default(),
            system,
        );
        for grant in state
            .grants
            .values()
            .filter(|g| g.entitlement.system == system)
        {
            expected.push(ExpectedGrant {
                identity_id: state.identity_id,
                grant_id: grant.grant_id,
                account: account.name.clone(),
                entitlement: grant.entitlement.clone(),
                standing: match grant.status {
                    tenure_core::GrantStatus::Active => Standing::Held,
                    tenure_core::GrantStatus::RevocationPending { .. } => Standing::Pending,
                    tenure_core::GrantStatus::Revoked { .. } => Standing::Revoked,
                },
            });
        }
    }
    Ok(expected)
}

/// What Tenure issued under each of these command ids (absent: never issued), for
/// checking connectors' acknowledgements. Fails with 503 when it cannot be read.
pub(crate) async fn issued_commands(
    db: &Database,
    command_ids: &[CommandId],
) -> Result<HashMap<CommandId, IssuedCommand>, ApiError> {
    let unavailable = |e: String| {
        tracing::warn!(error = %e, "the issued commands cannot be read");
        ApiError::unavailable_store("the issued commands cannot be read; resend the request")
    };
    let client = db.client().await.map_err(|e| unavailable(e.to_string()))?;
    let rows = client
        .query(sql::ISSUED_COMMANDS, &[&command_ids])
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let command_type = CommandType::from_name(r.get(1))?;
            Some((
                r.get(0),
                IssuedCommand {
                    command_type,
                    identity_id: r.get(2),
                    grant_id: r.get(3),
                    target_system: r.get(4),
                },
            ))
        })
        .collect())
}

/// The identities `events` join.
pub(crate) fn joined(events: &[LifecycleEvent]) -> Vec<IdentityId> {
    events
        .iter()
        .filter(|e| matches!(e.payload, tenure_core::EventPayload::IdentityJoined { .. }))
        .map(|e| e.identity_id)
        .collect()
}

/// Records the identities whose joiners the broker just acknowledged, so a leaver sent
/// right after is recognised before the projection catches up.
pub(crate) async fn record_joined(
    client: &impl tokio_postgres::GenericClient,
    joined: &[IdentityId],
) -> Result<(), tokio_postgres::Error> {
    if !joined.is_empty() {
        client.execute(sql::RECORD_JOINED, &[&joined]).await?;
    }
    Ok(())
}
