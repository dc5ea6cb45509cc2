//! The safety brake's adapter: gathers the figures the core's rule
//! ([`tenure_core::process::brake`]) decides on, under one lock across partitions, and
//! records holds and an operator's release (with the actor) on the log.

use chrono::{DateTime, Utc};
use tenure_core::process::brake::{BrakeFigures, released_fact, verdict as decide};
use tenure_core::{CommandId, GrantId, IdentityId};
use tenure_store::StoreError;
use tokio_postgres::{GenericClient, Transaction};

use crate::sql;

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
    take_lock(txn).await?;
    let already_held = tenure_store::outbox::held(txn).await?;
    let released = released_at(txn).await?;
    let since = policy.window_start(latest, released);
    let (recent, active_grants) =
        recent_revocations_and_active_grants(txn, since, &policy.exempt_causes()).await?;
    Ok(decide(
        policy,
        BrakeFigures {
            already_held,
            recent,
            new,
            active_grants,
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
        txn.execute(sql::ADD_ACTIVE_GRANTS, &[&partition, &delta])
            .await?;
    }
    Ok(())
}

/// What the brake holds, for operators.
pub async fn status(client: &impl GenericClient) -> Result<serde_json::Value, StoreError> {
    let commands = held_commands(client).await?;
    let released = released_at(client).await?;
    let held: Vec<serde_json::Value> = commands
        .iter()
        .map(|c| {
            serde_json::json!({
                "command_id": c.command_id, "identity_id": c.identity,
                "held_at": c.held_at, "reason": c.reason,
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
    take_lock(&txn).await?;
    let now = Utc::now();
    let held = lock_held_revocations(&txn).await?;
    let commands: Vec<CommandId> = held.iter().map(|h| h.command_id).collect();
    let facts: Vec<_> = held
        .iter()
        .map(|h| {
            crate::messages::fact(&released_fact(
                h.identity_id,
                h.grant_id,
                h.command_id,
                &release.actor,
                &release.reason,
                now,
            ))
        })
        .collect();
    reschedule(&txn, &commands, now + retry.backoff(1)).await?;
    let released = clear_holds(&txn, &commands).await?;
    tenure_store::outbox::insert(&txn, &facts).await?;
    record_release(&txn, now).await?;
    txn.commit().await.map_err(StoreError::from)?;
    tracing::warn!(released, actor = %release.actor, reason = %release.reason, "safety brake released by an operator");
    Ok(released)
}

// The brake's tables: typed access to `brake_state`, `reactor_totals` and the held rows
// of `outbox` and `command_tracking` (the statements are in `sql/brake/`).

/// Takes the brake's lock for the rest of `txn`.
async fn take_lock(txn: &Transaction<'_>) -> Result<(), StoreError> {
    txn.execute(sql::TAKE_BRAKE_LOCK, &[&BRAKE_LOCK]).await?;
    Ok(())
}

/// When an operator last released the brake, if ever.
async fn released_at(client: &impl GenericClient) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(client
        .query_one(sql::READ_BRAKE_RELEASED_AT, &[])
        .await?
        .get(0))
}

/// Revocations issued after `since` for causes other than `exempt`, and the active
/// grants across all log partitions.
async fn recent_revocations_and_active_grants(
    txn: &Transaction<'_>,
    since: DateTime<Utc>,
    exempt: &[&str],
) -> Result<(i64, i64), StoreError> {
    let row = txn
        .query_one(sql::COUNT_BRAKE_FIGURES, &[&since, &exempt])
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// A command the brake holds back, as operators see it.
struct HeldCommand {
    command_id: CommandId,
    /// The outbox message's key: the identity id.
    identity: String,
    held_at: DateTime<Utc>,
    reason: Option<String>,
}

/// The commands the brake holds, oldest first (at most 1000).
async fn held_commands(client: &impl GenericClient) -> Result<Vec<HeldCommand>, StoreError> {
    let rows = client.query(sql::LIST_HELD_COMMANDS, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| HeldCommand {
            command_id: r.get(0),
            identity: r.get(1),
            held_at: r.get(2),
            reason: r.get(3),
        })
        .collect())
}

/// A held revocation, locked for release.
struct HeldRevocation {
    command_id: CommandId,
    identity_id: IdentityId,
    grant_id: GrantId,
}

/// Every held revocation, oldest first, locked for the rest of `txn`.
async fn lock_held_revocations(txn: &Transaction<'_>) -> Result<Vec<HeldRevocation>, StoreError> {
    let rows = txn.query(sql::LOCK_HELD_REVOCATIONS, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| HeldRevocation {
            command_id: r.get(0),
            identity_id: r.get(1),
            grant_id: r.get(2),
        })
        .collect())
}

/// Sets when these commands are next retried unless acknowledged.
async fn reschedule(
    txn: &Transaction<'_>,
    commands: &[CommandId],
    next_attempt_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    txn.execute(
        sql::RESCHEDULE_RELEASED_COMMANDS,
        &[&next_attempt_at, &commands],
    )
    .await?;
    Ok(())
}

/// Releases these commands' holds; returns how many were held.
async fn clear_holds(txn: &Transaction<'_>, commands: &[CommandId]) -> Result<u64, StoreError> {
    let released = txn.execute(sql::CLEAR_HOLDS, &[&commands]).await?;
    tenure_store::wakeup::announce(txn, tenure_store::wakeup::OUTBOX).await?;
    Ok(released)
}

/// Records that the brake was released at `at`.
async fn record_release(txn: &Transaction<'_>, at: DateTime<Utc>) -> Result<(), StoreError> {
    txn.execute(sql::RECORD_BRAKE_RELEASE, &[&at]).await?;
    Ok(())
}
