//! The scheduler: the one component that reads the clock (DESIGN.md, decision 5).
//!
//! When a deadline falls due it appends a `DeadlineReached` event to the log; the
//! reactor reacts to that event like to any other, so a replay never needs the clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tenure_core::{DeadlineKind, EventPayload, LifecycleEvent, ids};
use tenure_kafka::{KafkaAdapterError, Publisher};
use tenure_store::{Database, StoreError};
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

/// The source system of deadline events.
pub const SCHEDULER_SOURCE: &str = "tenure-scheduler";

/// Fires due deadlines every `tick` until `shutdown` turns true.
pub async fn run(
    db: Database,
    publisher: Publisher,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    while !*shutdown.borrow() {
        if let Err(e) = fire_due(&db, &publisher, Utc::now()).await {
            warn!(error = %e, "scheduler failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
    Ok(())
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
    let rows = txn
        .query(
            "SELECT deadline_id, identity_id, kind, grant_id, due_time FROM deadlines
              WHERE fired_at IS NULL AND due_time <= $1
                AND kind = ANY($2)
              ORDER BY due_time LIMIT 500 FOR UPDATE SKIP LOCKED",
            &[&now, &known_kinds()],
        )
        .await
        .map_err(StoreError::from)?;
    let mut events = Vec::with_capacity(rows.len());
    let mut fired: Vec<Uuid> = Vec::with_capacity(rows.len());
    for row in rows {
        let deadline_id: Uuid = row.get(0);
        let kind: String = row.get(2);
        let Some(kind) = parse_kind(&kind) else {
            warn!(%deadline_id, %kind, "unknown deadline kind; leaving it unfired");
            continue;
        };
        let due: DateTime<Utc> = row.get(4);
        events.push(LifecycleEvent {
            event_id: ids::deadline_event(deadline_id),
            identity_id: row.get(1),
            effective_time: due,
            recorded_time: now,
            source_system: SCHEDULER_SOURCE.to_owned(),
            source_event_id: deadline_id.to_string(),
            causation_id: None,
            payload: EventPayload::DeadlineReached {
                kind,
                grant_id: row.get(3),
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
    txn.execute(
        "UPDATE deadlines SET fired_at = $2 WHERE deadline_id = ANY($1)",
        &[&fired, &now],
    )
    .await
    .map_err(StoreError::from)?;
    txn.commit().await.map_err(StoreError::from)?;
    info!(count = fired.len(), "deadlines fired");
    Ok(fired.len())
}
