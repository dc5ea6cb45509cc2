//! The scheduler: the one component that reads the clock (deploy/architecture.md).
//!
//! When a deadline falls due it appends a `DeadlineReached` event to the log; the
//! reactor reacts to that event like to any other, so a replay never needs the clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tenure_core::{
    DeadlineId, DeadlineKind, EventPayload, GrantId, IdentityId, LifecycleEvent, ids,
};
use tenure_kafka::{KafkaAdapterError, Publisher};
use tenure_store::wakeup::{self, Wakeup};
use tenure_store::{Database, StoreError};
use tokio::sync::watch;
use tokio_postgres::Transaction;
use tracing::{info, warn};

use crate::sql;

/// The source system of deadline events.
pub const SCHEDULER_SOURCE: &str = "tenure-scheduler";

/// The longest the scheduler sleeps without looking; a deadline written nearer than
/// this wakes it (`tenure_store::wakeup::DEADLINES`), so it never waits on a tick.
pub const HORIZON: Duration = Duration::from_secs(30);

/// Fires each deadline the moment it falls due until `shutdown` turns true: sleeps
/// until the earliest unfired deadline, and is woken when an earlier one is written.
pub async fn run(
    db: Database,
    publisher: Publisher,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    let wakeup = Wakeup::listen(&db, wakeup::DEADLINES);
    while !*shutdown.borrow() {
        let pause = match fire_due(&db, &publisher, Utc::now()).await {
            Ok(_) => match next_due(&db).await {
                Ok(next) => until(next, Utc::now()),
                Err(e) => {
                    warn!(error = %e, "scheduler could not read its next deadline; will retry");
                    Duration::from_secs(1)
                }
            },
            Err(e) => {
                warn!(error = %e, "scheduler failed; will retry");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = wakeup.wait(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
    Ok(())
}

/// How long to sleep at `now` for a next deadline due at `next`: until it, at most
/// [`HORIZON`]; a little when it is already due (another scheduler holds it, or more
/// than one pass's worth fell due at once).
fn until(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    match next {
        None => HORIZON,
        Some(due) => (due - now)
            .to_std()
            .map_or(Duration::from_millis(5), |d| d.min(HORIZON)),
    }
}

/// The kinds this build can fire; a newer build's kinds wait for it.
fn known_kinds() -> Vec<&'static str> {
    DeadlineKind::ALL.iter().map(|k| k.as_str()).collect()
}

fn parse_kind(kind: &str) -> Option<DeadlineKind> {
    DeadlineKind::ALL.into_iter().find(|k| k.as_str() == kind)
}

/// Appends a `DeadlineReached` event for every deadline due at `now`; returns how many.
pub async fn fire_due(
    db: &Database,
    publisher: &Publisher,
    now: DateTime<Utc>,
) -> Result<usize, KafkaAdapterError> {
    let mut client = db.client().await?;
    let txn = client.transaction().await.map_err(StoreError::from)?;
    let rows = lock_due(&txn, now, &known_kinds()).await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut fired: Vec<DeadlineId> = Vec::with_capacity(rows.len());
    for row in rows {
        let deadline_id = row.deadline_id;
        let Some(kind) = parse_kind(&row.kind) else {
            warn!(%deadline_id, kind = %row.kind, "unknown deadline kind; leaving it unfired");
            continue;
        };
        let due = row.due_time;
        events.push(LifecycleEvent {
            event_id: ids::deadline_event(deadline_id),
            identity_id: row.identity_id,
            effective_time: due,
            recorded_time: now,
            source_system: SCHEDULER_SOURCE.to_owned(),
            source_event_id: deadline_id.to_string(),
            causation_id: None,
            payload: EventPayload::DeadlineReached {
                kind,
                grant_id: row.grant_id,
                due_time: due,
            },
        });
        fired.push(deadline_id);
    }
    if events.is_empty() {
        return Ok(0);
    }
    for result in join_all(events.iter().map(|e| publisher.send_event(e))).await {
        result?;
    }
    mark_fired(&txn, &fired, now).await?;
    txn.commit().await.map_err(StoreError::from)?;
    info!(count = fired.len(), "deadlines fired");
    Ok(fired.len())
}

/// When the earliest unfired deadline this build can fire falls due.
async fn next_due(db: &Database) -> Result<Option<DateTime<Utc>>, StoreError> {
    let client = db.client().await?;
    Ok(client
        .query_one(sql::NEXT_DEADLINE, &[&known_kinds()])
        .await?
        .get(0))
}

// Typed access to `deadlines` for the scheduler (the statements are in `sql/scheduler/`).

/// A deadline due, as stored: its kind may be one this build does not know.
struct DueDeadline {
    deadline_id: DeadlineId,
    identity_id: IdentityId,
    kind: String,
    grant_id: Option<GrantId>,
    due_time: DateTime<Utc>,
}

/// The unfired deadlines of these `kinds` due at `now` (at most 500, earliest first),
/// locked for the rest of `txn`; rows another scheduler holds are skipped.
async fn lock_due(
    txn: &Transaction<'_>,
    now: DateTime<Utc>,
    kinds: &[&str],
) -> Result<Vec<DueDeadline>, StoreError> {
    let rows = txn.query(sql::LOCK_DUE_DEADLINES, &[&now, &kinds]).await?;
    Ok(rows
        .iter()
        .map(|r| DueDeadline {
            deadline_id: r.get(0),
            identity_id: r.get(1),
            kind: r.get(2),
            grant_id: r.get(3),
            due_time: r.get(4),
        })
        .collect())
}

/// Records that these deadlines fired at `at`.
async fn mark_fired(
    txn: &Transaction<'_>,
    deadlines: &[DeadlineId],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    txn.execute(sql::MARK_DEADLINES_FIRED, &[&deadlines, &at])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_until_the_next_deadline_and_no_longer_than_the_horizon() {
        let now = Utc::now();
        assert_eq!(until(None, now), HORIZON);
        assert_eq!(
            until(Some(now + chrono::Duration::milliseconds(1_500)), now),
            Duration::from_millis(1_500)
        );
        assert_eq!(until(Some(now + chrono::Duration::days(3)), now), HORIZON);
        assert_eq!(
            until(Some(now - chrono::Duration::seconds(1)), now),
            Duration::from_millis(5)
        );
    }
}
