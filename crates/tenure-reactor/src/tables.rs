//! The reactor's own tables: its folded state, the events it has seen, its deadlines.

use std::collections::{HashMap, HashSet};

use tenure_core::STATE_DOCUMENT_VERSION;
use tenure_core::{CommandId, EventId, IdentityId, IdentityState, IdentityStatus, process};
use tenure_store::{StoreError, state_document};
use tokio_postgres::Transaction;

use crate::sql;

/// Records these event ids as handled; returns those not handled before.
pub(crate) async fn mark_seen(
    txn: &Transaction<'_>,
    ids: &[EventId],
) -> Result<HashSet<EventId>, StoreError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = txn.query(sql::MARK_EVENTS_SEEN, &[&ids]).await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// The reactor's states for these identities, locked for this transaction.
pub(crate) async fn load_states(
    txn: &Transaction<'_>,
    ids: &[IdentityId],
) -> Result<HashMap<IdentityId, IdentityState>, StoreError> {
    let rows = txn.query(sql::LOAD_IDENTITY_STATES, &[&ids]).await?;
    rows.into_iter()
        .map(|row| {
            let state: IdentityState = state_document::decode(
                "reactor_identities",
                row.get(0),
                STATE_DOCUMENT_VERSION,
                row.get(1),
            )?;
            Ok((state.identity_id, state))
        })
        .collect()
}

pub(crate) async fn save_states<'a>(
    txn: &Transaction<'_>,
    states: impl Iterator<Item = &'a IdentityState>,
) -> Result<(), StoreError> {
    let (mut ids, mut docs, mut statuses) = (Vec::new(), Vec::new(), Vec::new());
    for s in states {
        ids.push(s.identity_id);
        docs.push(tenure_store::JsonText::of(s));
        statuses.push(s.status.as_str());
    }
    if ids.is_empty() {
        return Ok(());
    }
    txn.execute(
        sql::SAVE_IDENTITY_STATES,
        &[&ids, &docs, &statuses, &STATE_DOCUMENT_VERSION],
    )
    .await?;
    Ok(())
}

/// Keeps the owner index of non-human identities in step with their states: live
/// ones with an owner are listed, others are removed.
pub(crate) async fn save_owners<'a>(
    txn: &Transaction<'_>,
    states: impl Iterator<Item = &'a IdentityState>,
) -> Result<(), StoreError> {
    let (mut ids, mut owners, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for s in states.filter(|s| s.kind.is_non_human()) {
        match process::owner_to_notify(s) {
            Some(owner) => {
                ids.push(s.identity_id);
                owners.push(owner);
            }
            None => gone.push(s.identity_id),
        }
    }
    if !gone.is_empty() {
        txn.execute(sql::DELETE_NHI_OWNERS, &[&gone]).await?;
    }
    if !ids.is_empty() {
        txn.execute(sql::SAVE_NHI_OWNERS, &[&ids, &owners]).await?;
    }
    Ok(())
}

/// Takes a transaction-scoped advisory lock per owner, in the given (sorted) order.
pub(crate) async fn lock_owners(txn: &Transaction<'_>, owners: &[&str]) -> Result<(), StoreError> {
    for owner in owners {
        txn.execute(sql::LOCK_OWNER, &[owner]).await?;
    }
    Ok(())
}

/// Which of these people (HR employee ids) have left.
pub(crate) async fn departed(
    txn: &Transaction<'_>,
    people: &[&str],
) -> Result<HashSet<String>, StoreError> {
    let ids: Vec<IdentityId> = people
        .iter()
        .map(|p| tenure_core::ids::identity(tenure_core::ids::PEOPLE, p))
        .collect();
    let rows = txn
        .query(
            sql::FIND_IDENTITIES_WITH_STATUS,
            &[&ids, &IdentityStatus::Left.as_str()],
        )
        .await?;
    let left: HashSet<IdentityId> = rows.into_iter().map(|r| r.get(0)).collect();
    Ok(people
        .iter()
        .zip(&ids)
        .filter(|(_, id)| left.contains(id))
        .map(|(person, _)| (*person).to_owned())
        .collect())
}

/// The live non-human identities owned by any of these people.
pub(crate) async fn owned_by(
    txn: &Transaction<'_>,
    owners: &[&str],
) -> Result<Vec<(String, IdentityId)>, StoreError> {
    let rows = txn.query(sql::LIST_OWNED_IDENTITIES, &[&owners]).await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Makes the unfired deadlines of these identities exactly those their states wait for.
pub(crate) async fn replace_deadlines<'a>(
    txn: &Transaction<'_>,
    states: impl Iterator<Item = &'a IdentityState>,
    policy: &tenure_core::Policy,
) -> Result<(), StoreError> {
    let mut identities = Vec::new();
    let mut d_ids = Vec::new();
    let mut d_identities = Vec::new();
    let mut d_kinds = Vec::new();
    let mut d_grants = Vec::new();
    let mut d_due = Vec::new();
    for s in states {
        identities.push(s.identity_id);
        for d in s.deadlines_under(policy) {
            d_ids.push(d.deadline_id);
            d_identities.push(d.identity_id);
            d_kinds.push(d.kind.as_str());
            d_grants.push(d.grant_id);
            d_due.push(d.due_time);
        }
    }
    txn.execute(sql::DELETE_UNFIRED_DEADLINES, &[&identities])
        .await?;
    if !d_ids.is_empty() {
        txn.execute(
            sql::INSERT_DEADLINES,
            &[&d_ids, &d_identities, &d_kinds, &d_grants, &d_due],
        )
        .await?;
        // A scheduler asleep until a later deadline (or its horizon) must look again.
        let horizon = chrono::Utc::now()
            + chrono::TimeDelta::from_std(crate::scheduler::HORIZON).unwrap_or_default();
        if d_due.iter().any(|due| *due <= horizon) {
            tenure_store::wakeup::announce(txn, tenure_store::wakeup::DEADLINES).await?;
        }
    }
    Ok(())
}

/// Records what was issued under each command id, so that ingest can check a
/// connector's acknowledgement against it (a re-decided command keeps its first row).
pub(crate) async fn record_issued_commands(
    txn: &Transaction<'_>,
    commands: &[(CommandId, tenure_core::intake::IssuedCommand)],
    issued_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    if commands.is_empty() {
        return Ok(());
    }
    txn.execute(
        sql::RECORD_ISSUED_COMMANDS,
        &[
            &commands.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            &commands
                .iter()
                .map(|(_, c)| c.command_type.as_str())
                .collect::<Vec<_>>(),
            &commands
                .iter()
                .map(|(_, c)| c.identity_id)
                .collect::<Vec<_>>(),
            &commands.iter().map(|(_, c)| c.grant_id).collect::<Vec<_>>(),
            &commands
                .iter()
                .map(|(_, c)| c.target_system.as_str())
                .collect::<Vec<_>>(),
            &issued_at,
        ],
    )
    .await?;
    Ok(())
}
