//! The safety brake's adapter: gathers the figures the core's rule
//! ([`tenure_core::process::brake`]) decides on, under one lock across partitions, and
//! records holds and an operator's release (with the actor) on the log.

use chrono::{DateTime, Utc};
use tenure_core::process::brake::{BrakeFigures, released_fact, verdict as decide};
use tenure_store::StoreError;
use tokio_postgres::{GenericClient, Transaction};
use uuid::Uuid;

pub use tenure_core::process::brake::BrakePolicy;

/// Advisory lock key serialising brake decisions across partition transactions.
const BRAKE_LOCK: i64 = 0x0062_7261_6b65;

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
    let already_held = tenure_store::outbox::held(txn).await?;
    let released: Option<DateTime<Utc>> = txn
        .query_one("SELECT released_at FROM brake_state WHERE id = 1", &[])
        .await?
        .get(0);
    let since = policy.window_start(latest, released);
    let row = txn
        .query_one(
            "SELECT (SELECT count(*) FROM command_tracking
                       WHERE issued_at > $1 AND command_type = 'revoke' AND cause <> ALL($2)),
                    (SELECT coalesce(sum(active_grants), 0)::bigint FROM reactor_totals)",
            &[&since, &policy.exempt_causes()],
        )
        .await?;
    Ok(decide(
        policy,
        BrakeFigures {
            already_held,
            recent: row.get(0),
            new,
            active_grants: row.get(1),
        },
    ))
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

/// Who released the brake and why: both go on the log with every released revocation.
#[derive(Clone, Debug)]
pub struct Release {
    pub actor: String,
    pub reason: String,
}

/// Why an operator's release was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The release names no actor or no reason, or one that cannot be stored: the
    /// caller must say who releases and why.
    #[error("{0}")]
    Invalid(String),
    /// The database failed; nothing was released. Try again.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Release {
    fn check(&self) -> Result<(), ReleaseError> {
        let problems = tenure_core::process::brake::release_problems(&self.actor, &self.reason);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ReleaseError::Invalid(problems.join("; ")))
        }
    }
}

/// Releases every held revocation for publication and restarts the counting window;
/// each release is recorded on the held revocation's identity log with `release`'s
/// actor and reason.
pub async fn release(
    client: &mut tokio_postgres::Client,
    retry: &crate::RetryPolicy,
    release: &Release,
) -> Result<u64, ReleaseError> {
    release.check()?;
    let txn = client.transaction().await.map_err(StoreError::from)?;
    // The reactor holds revocations under the brake's lock: taking it here means the
    // rows read below are all there is to release, none slips in before the update.
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&BRAKE_LOCK])
        .await
        .map_err(StoreError::from)?;
    let now = Utc::now();
    let held = txn
        .query(
            "SELECT o.message_id, t.identity_id, t.grant_id FROM outbox o
               JOIN command_tracking t ON t.command_id = o.message_id
              WHERE o.held_at IS NOT NULL
              ORDER BY o.seq FOR UPDATE OF o",
            &[],
        )
        .await
        .map_err(StoreError::from)?;
    let commands: Vec<Uuid> = held.iter().map(|row| row.get(0)).collect();
    let facts: Vec<_> = held
        .iter()
        .map(|row| {
            let (command, identity, grant): (Uuid, Uuid, Uuid) =
                (row.get(0), row.get(1), row.get(2));
            crate::messages::fact(&released_fact(
                identity,
                grant,
                command,
                &release.actor,
                &release.reason,
                now,
            ))
        })
        .collect();
    txn.execute(
        "UPDATE command_tracking SET next_attempt_at = $1 WHERE command_id = ANY($2)",
        &[&(now + retry.backoff(1)), &commands],
    )
    .await
    .map_err(StoreError::from)?;
    let released = txn
        .execute(
            "UPDATE outbox SET held_at = NULL, held_reason = NULL WHERE message_id = ANY($1)",
            &[&commands],
        )
        .await
        .map_err(StoreError::from)?;
    tenure_store::outbox::insert(&txn, &facts).await?;
    txn.execute(
        "UPDATE brake_state SET released_at = $1 WHERE id = 1",
        &[&now],
    )
    .await
    .map_err(StoreError::from)?;
    txn.commit().await.map_err(StoreError::from)?;
    tracing::warn!(released, actor = %release.actor, reason = %release.reason, "safety brake released by an operator");
    Ok(released)
}
