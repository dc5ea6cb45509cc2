//! Bitemporal history: which grant was held when (effective time), and since when
//! Tenure believed it (recorded time). Versions are appended, never rewritten: a late
//! event closes the version it corrects, so "what did we believe at K" stays answerable.

use chrono::{DateTime, Utc};
use tenure_core::{
    Entitlement, EventId, EventPayload, GrantId, GrantStatus, IdentityId, IdentityState,
    IdentityStatus, LifecycleEvent,
};
use tenure_store::StoreError;
use tokio_postgres::Transaction;

use crate::sql;

/// When a grant was held: from its grant to its confirmed revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Interval {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

/// One believed version of a grant's interval.
pub(crate) struct GrantVersion {
    grant_id: GrantId,
    identity_id: IdentityId,
    entitlement: Entitlement,
    interval: Interval,
    recorded_from: DateTime<Utc>,
    event_id: EventId,
}

/// One fact about an identity's role or status from some effective time on.
pub(crate) struct IdentityVersion {
    identity_id: IdentityId,
    status: &'static str,
    role: Option<String>,
    valid_from: DateTime<Utc>,
    recorded_from: DateTime<Utc>,
    event_id: EventId,
}

/// The grant an event is about, if it can change a grant's interval.
pub(crate) fn grant_of(event: &LifecycleEvent) -> Option<GrantId> {
    match &event.payload {
        EventPayload::AccessGranted { grant_id, .. }
        | EventPayload::AccessRevoked { grant_id, .. } => Some(*grant_id),
        _ => None,
    }
}

/// The interval of `grant_id` in `state`, if the grant is known.
pub(crate) fn interval(state: &IdentityState, grant_id: GrantId) -> Option<Interval> {
    state.grants.get(&grant_id).map(|g| Interval {
        from: g.granted_at,
        to: match g.status {
            GrantStatus::Revoked { revoked_at, .. } => Some(revoked_at),
            _ => None,
        },
    })
}

/// What history `event` adds, given the grant interval before it and the state after it.
pub(crate) fn versions(
    event: &LifecycleEvent,
    grant_before: Option<Interval>,
    after: &IdentityState,
    grants: &mut Vec<GrantVersion>,
    identities: &mut Vec<IdentityVersion>,
) {
    if let Some(grant_id) = grant_of(event) {
        let now = interval(after, grant_id);
        if let (Some(now), Some(grant)) = (now, after.grants.get(&grant_id))
            && grant_before.as_ref() != Some(&now)
        {
            grants.push(GrantVersion {
                grant_id,
                identity_id: after.identity_id,
                entitlement: grant.entitlement.clone(),
                interval: now,
                recorded_from: event.recorded_time,
                event_id: event.event_id,
            });
        }
    }
    let by_event = match &event.payload {
        EventPayload::IdentityJoined { .. }
        | EventPayload::IdentityMoved { .. }
        | EventPayload::LeaveOfAbsenceEnded => IdentityStatus::Active,
        EventPayload::IdentityLeft { .. } => IdentityStatus::Left,
        EventPayload::LeaveOfAbsenceStarted { .. } => IdentityStatus::OnLeave,
        _ => return,
    };
    // The event's own status holds from its effective time, even when it arrives late
    // (a mover dated before an already-recorded leave); but nothing after a leave, and
    // nothing before a start, makes the person active.
    let after_leave = after.status == IdentityStatus::Left
        && after
            .left_at
            .is_some_and(|left| event.effective_time >= left)
        && by_event != IdentityStatus::Left;
    if after_leave
        || (after.status == IdentityStatus::PreHire && by_event != IdentityStatus::Active)
    {
        return;
    }
    let status = by_event;
    let role = match &event.payload {
        EventPayload::IdentityJoined { role, .. } | EventPayload::IdentityMoved { role, .. } => {
            Some(role.clone())
        }
        _ => after.role.clone(),
    };
    identities.push(IdentityVersion {
        identity_id: after.identity_id,
        status: status.as_str(),
        role,
        valid_from: event.effective_time,
        recorded_from: event.recorded_time,
        event_id: event.event_id,
    });
}

/// Appends the batch's versions, closing the versions they supersede.
pub(crate) async fn write(
    txn: &Transaction<'_>,
    grants: &[GrantVersion],
    identities: &[IdentityVersion],
) -> Result<(), StoreError> {
    if !grants.is_empty() {
        // Close each grant's open version at the first new version of this batch.
        let mut first: std::collections::HashMap<GrantId, DateTime<Utc>> =
            std::collections::HashMap::new();
        for v in grants {
            first.entry(v.grant_id).or_insert(v.recorded_from);
        }
        let (ids, froms): (Vec<GrantId>, Vec<DateTime<Utc>>) = first.into_iter().unzip();
        txn.execute(sql::CLOSE_OPEN_GRANT_VERSIONS, &[&ids, &froms])
            .await?;
        // Within the batch, each version is closed by the next one of the same grant.
        let mut recorded_to: Vec<Option<DateTime<Utc>>> = vec![None; grants.len()];
        let mut last_index: std::collections::HashMap<GrantId, usize> =
            std::collections::HashMap::new();
        for (i, v) in grants.iter().enumerate() {
            if let Some(prev) = last_index.insert(v.grant_id, i) {
                recorded_to[prev] = Some(v.recorded_from.max(grants[prev].recorded_from));
            }
        }
        let column = |f: fn(&GrantVersion) -> String| grants.iter().map(f).collect::<Vec<String>>();
        txn.execute(
            sql::INSERT_GRANT_VERSIONS,
            &[
                &grants.iter().map(|v| v.grant_id).collect::<Vec<_>>(),
                &grants.iter().map(|v| v.identity_id).collect::<Vec<_>>(),
                &column(|v| v.entitlement.system.clone()),
                &column(|v| v.entitlement.resource.clone()),
                &column(|v| v.entitlement.permission.clone()),
                &grants.iter().map(|v| v.interval.from).collect::<Vec<_>>(),
                &grants.iter().map(|v| v.interval.to).collect::<Vec<_>>(),
                &grants.iter().map(|v| v.recorded_from).collect::<Vec<_>>(),
                &recorded_to,
                &grants.iter().map(|v| v.event_id).collect::<Vec<_>>(),
            ],
        )
        .await?;
    }
    if !identities.is_empty() {
        txn.execute(
            sql::INSERT_IDENTITY_VERSIONS,
            &[
                &identities.iter().map(|v| v.identity_id).collect::<Vec<_>>(),
                &identities.iter().map(|v| v.status).collect::<Vec<_>>(),
                &identities
                    .iter()
                    .map(|v| v.role.clone())
                    .collect::<Vec<_>>(),
                &identities.iter().map(|v| v.valid_from).collect::<Vec<_>>(),
                &identities
                    .iter()
                    .map(|v| v.recorded_from)
                    .collect::<Vec<_>>(),
                &identities.iter().map(|v| v.event_id).collect::<Vec<_>>(),
            ],
        )
        .await?;
    }
    Ok(())
}
