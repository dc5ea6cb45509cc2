//! The safety brake: when revocations in a window exceed a share of all active grants
//! (the signature of a bad HR feed), further revocations are held back from the
//! connectors and reported until an operator releases them. Leavers are never held
//! unless configured: taking a leaver's access away late is the worse failure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_core::RevocationCause;
use tenure_store::StoreError;
use tokio_postgres::{GenericClient, Transaction};

/// Advisory lock key serialising brake decisions across partition transactions.
const BRAKE_LOCK: i64 = 0x0062_7261_6b65;

/// When the brake engages.
#[derive(Clone, Copy, Debug)]
pub struct BrakePolicy {
    /// Share of active grants that may be revoked within `window` (0.2 = 20%).
    pub share: f64,
    /// The window revocations are counted over (in trigger time).
    pub window: Duration,
    /// Revocations always allowed within a window, however small the organisation.
    pub minimum: i64,
    /// Whether leavers' revocations count and can be held too.
    pub hold_leavers: bool,
}

impl Default for BrakePolicy {
    fn default() -> Self {
        BrakePolicy {
            share: 0.2,
            window: Duration::from_secs(3600),
            minimum: 100,
            hold_leavers: false,
        }
    }
}

impl BrakePolicy {
    /// Whether revocations for `cause` are subject to the brake.
    pub fn applies_to(&self, cause: RevocationCause) -> bool {
        cause != RevocationCause::Leaver || self.hold_leavers
    }

    fn exempt_causes(&self) -> Vec<&'static str> {
        if self.hold_leavers {
            vec![]
        } else {
            vec![RevocationCause::Leaver.as_str()]
        }
    }
}

/// Why this batch's revocations must be held, or `None` to publish them. `new` counts
/// the batch's revocations the brake applies to; `latest` is their latest trigger time.
pub(crate) async fn verdict(
    txn: &Transaction<'_>,
    policy: &BrakePolicy,
    new: i64,
    latest: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    if new == 0 {
        return Ok(None);
    }
    // Partitions commit side by side; counting under one lock (held to commit) makes
    // each batch see the revocations of the batches before it.
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&BRAKE_LOCK])
        .await?;
    let held = tenure_store::outbox::held(txn).await?;
    if held > 0 {
        return Ok(Some(format!(
            "brake engaged: {held} revocations already held for review"
        )));
    }
    let released: Option<DateTime<Utc>> = txn
        .query_one("SELECT released_at FROM brake_state WHERE id = 1", &[])
        .await?
        .get(0);
    let window = chrono::Duration::from_std(policy.window).unwrap_or(chrono::Duration::hours(1));
    let since = released.map_or(latest - window, |r| r.max(latest - window));
    let row = txn
        .query_one(
            "SELECT (SELECT count(*) FROM command_tracking
                       WHERE issued_at > $1 AND command_type = 'revoke' AND cause <> ALL($2)),
                    (SELECT coalesce(sum(active_grants), 0)::bigint FROM reactor_totals)",
            &[&since, &policy.exempt_causes()],
        )
        .await?;
    let (recent, active): (i64, i64) = (row.get(0), row.get(1));
    let limit = policy.minimum.max((policy.share * active as f64) as i64);
    Ok((recent + new > limit).then(|| {
        format!(
            "{} revocations within {:?} exceed the limit of {limit} ({:.0}% of {active} active grants)",
            recent + new,
            policy.window,
            policy.share * 100.0
        )
    }))
}

/// Adds `delta` to the active grants counted for a log partition.
pub(crate) async fn add_active(
    txn: &Transaction<'_>,
    partition: i32,
    delta: i64,
) -> Result<(), StoreError> {
    if delta != 0 {
        txn.execute(
            "INSERT INTO reactor_totals (log_partition, active_grants) VALUES ($1, $2)
             ON CONFLICT (log_partition) DO UPDATE SET active_grants = reactor_totals.active_grants + $2",
            &[&partition, &delta],
        )
        .await?;
    }
    Ok(())
}

/// What the brake holds, for operators.
pub async fn status(client: &impl GenericClient) -> Result<serde_json::Value, StoreError> {
    let rows = client
        .query(
            "SELECT message_id, message_key, held_at, held_reason FROM outbox
              WHERE held_at IS NOT NULL ORDER BY seq LIMIT 1000",
            &[],
        )
        .await?;
    let released: Option<DateTime<Utc>> = client
        .query_one("SELECT released_at FROM brake_state WHERE id = 1", &[])
        .await?
        .get(0);
    let held: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "command_id": r.get::<_, uuid::Uuid>(0), "identity_id": r.get::<_, String>(1),
                "held_at": r.get::<_, DateTime<Utc>>(2), "reason": r.get::<_, Option<String>>(3),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "engaged": !held.is_empty(),
        "held": tenure_store::outbox::held(client).await?,
        "last_released_at": released,
        "commands": held,
    }))
}

/// Releases every held revocation for publication and restarts the counting window.
pub async fn release(
    client: &mut tokio_postgres::Client,
    retry: &crate::RetryPolicy,
) -> Result<u64, StoreError> {
    let txn = client.transaction().await?;
    let now = Utc::now();
    txn.execute(
        "UPDATE command_tracking SET next_attempt_at = $1
          WHERE command_id IN (SELECT message_id FROM outbox WHERE held_at IS NOT NULL)",
        &[&(now + retry.backoff(1))],
    )
    .await?;
    let released = tenure_store::outbox::release_held(&txn).await?;
    txn.execute(
        "UPDATE brake_state SET released_at = $1 WHERE id = 1",
        &[&now],
    )
    .await?;
    txn.commit().await?;
    tracing::warn!(released, "safety brake released by an operator");
    Ok(released)
}
