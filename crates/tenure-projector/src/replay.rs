//! Replay: the projection rebuilt from the beginning of the log into a schema of its
//! own, compared with the live one by checksum, and on request swapped in for it.
//!
//! A replay runs the same pure fold as the live projector under its own consumer
//! group, so it never disturbs the live one and never emits anything: the projector
//! only writes tables.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tenure_kafka::{ConsumerSettings, KafkaAdapterError, run_consumer, topics};
use tenure_store::{Database, StoreError};

use crate::{BATCH_LINGER_MS, BATCH_RECORDS, GROUP, ProjectionHandler};

/// The projection's tables: what a replay rebuilds, compares and swaps.
pub const PROJECTION_TABLES: [&str; 8] = [
    "projection_identities",
    "projection_grants",
    "projection_events",
    "grant_history",
    "identity_history",
    "projection_access_requests",
    "projection_revocations",
    "projection_discrepancies",
];

/// The consumer group a replay into `schema` uses.
pub fn replay_group(schema: &str) -> String {
    format!("tenure-replay-{schema}")
}

/// Why a replay stopped; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kafka(#[from] KafkaAdapterError),
    #[error("the replay consumer stopped before reaching the end of the log: {0}")]
    Stopped(String),
    #[error(
        "the live projector has moved past the replay ({0} records); run the replay again to catch up, then switch"
    )]
    LiveAhead(i64),
    #[error(
        "schema {0:?} is not usable: lowercase letters, digits and _, starting with a letter (public only as the live side)"
    )]
    BadSchema(String),
}

/// `public` (the live projection) or a schema a replay may own; anything else is
/// refused before it reaches SQL.
fn checked(schema: &str) -> Result<&str, ReplayError> {
    if schema == "public" || tenure_store::db::is_replay_schema(schema) {
        Ok(schema)
    } else {
        Err(ReplayError::BadSchema(schema.to_owned()))
    }
}

/// Replays the log into `db` (a database in the replay's schema) until every
/// partition reaches `ends`; `progress(done, total)` is called as it goes. Events
/// recorded after `until` are skipped, to rebuild the projection as it was then.
pub async fn replay(
    bootstrap: &str,
    db: &Database,
    group: &str,
    until: Option<DateTime<Utc>>,
    ends: &[(i32, i64)],
    mut progress: impl FnMut(i64, i64),
) -> Result<(), ReplayError> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = ConsumerSettings::new(bootstrap, group, &[topics::LIFECYCLE])
        .with_batches(BATCH_RECORDS, Duration::from_millis(BATCH_LINGER_MS));
    let handler = ProjectionHandler::until(until);
    let consumer = tokio::spawn(run_consumer(settings, db.clone(), handler, stopped));
    let total: i64 = ends.iter().map(|(_, e)| e).sum();
    loop {
        let client = db.client().await?;
        let client: &tokio_postgres::Client = &client;
        let lag = tenure_store::offsets::lag(client, group, topics::LIFECYCLE, ends).await?;
        progress(total - lag, total);
        if lag == 0 {
            break;
        }
        if consumer.is_finished() {
            let outcome = consumer
                .await
                .map_err(|e| ReplayError::Stopped(e.to_string()))?;
            return Err(ReplayError::Stopped(format!("{outcome:?}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    consumer
        .await
        .map_err(|e| ReplayError::Stopped(e.to_string()))??;
    Ok(())
}

/// A fingerprint of the projection tables in one schema: rows and an md5 (in SQL) over the
/// sorted rows of each table, leaving out what depends on processing order or the
/// clock (history version numbers, projection timestamps).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checksum {
    pub tables: Vec<(String, i64, String)>,
}

impl Checksum {
    /// One md5 over every table's fingerprint.
    pub fn digest(&self) -> String {
        let joined: String = self
            .tables
            .iter()
            .map(|(t, n, h)| format!("{t}:{n}:{h};"))
            .collect();
        hex::encode(&Sha256::digest(joined.as_bytes())[..16])
    }

    /// Total rows compared.
    pub fn rows(&self) -> i64 {
        self.tables.iter().map(|(_, n, _)| n).sum()
    }
}

/// The comparable columns of each projection table.
fn comparable(table: &str) -> &'static str {
    match table {
        "projection_identities" => {
            "identity_id, kind, status, role, display_name, source_person_id, events_applied, state::text"
        }
        "projection_grants" => {
            "grant_id, identity_id, system, resource, permission, owner, business_reason, expires_at,
             ends_on_role_change, origin, status, granted_at, revocation_command_id, revocation_cause,
             status_since, suspended"
        }
        "projection_events" => {
            "event_id, identity_id, event_type, effective_time, recorded_time, source_system,
             source_event_id, causation_id, payload::text, log_partition, log_offset"
        }
        "grant_history" => {
            "grant_id, identity_id, system, resource, permission, valid_from, valid_to,
             recorded_from, recorded_to, event_id"
        }
        "projection_access_requests" => {
            "source_system, request_id, identity_id, state, state_effective_time,
             state_recorded_time, requested_at, closed_at, fulfilled_at"
        }
        "projection_revocations" => "command_id, grant_id, identity_id, cause, issued_at",
        "projection_discrepancies" => {
            "event_id, observation_id, identity_id, kind, system, resource, permission, account,
             grant_id, connector, observed_at"
        }
        _ => "identity_id, status, role, valid_from, recorded_from, event_id",
    }
}

/// The checksum of the projection in `schema`.
pub async fn checksum(
    client: &tokio_postgres::Client,
    schema: &str,
) -> Result<Checksum, ReplayError> {
    let schema = checked(schema)?;
    let mut tables = Vec::new();
    for table in PROJECTION_TABLES {
        // Built at run time: it reads a table in a schema chosen at run time.
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), COALESCE(md5(string_agg(h, '' ORDER BY h)), '')
                       FROM (SELECT md5(ROW({cols})::text) AS h FROM {schema}.{table}) rows",
                    cols = comparable(table)
                ),
                &[],
            )
            .await
            .map_err(StoreError::from)?;
        tables.push((table.to_owned(), row.get(0), row.get(1)));
    }
    Ok(Checksum { tables })
}

/// Identities whose projected state differs between the two schemas (at most `limit`),
/// with what differs: present on one side only, or a different state.
pub async fn differences(
    client: &tokio_postgres::Client,
    live: &str,
    replayed: &str,
    limit: i64,
) -> Result<Vec<String>, ReplayError> {
    let (live, replayed) = (checked(live)?, checked(replayed)?);
    // Built at run time: it joins the tables of two schemas chosen at run time.
    let rows = client
        .query(
            &format!(
                "SELECT COALESCE(l.identity_id, r.identity_id)::text,
                        CASE WHEN l.identity_id IS NULL THEN 'only in the replay'
                             WHEN r.identity_id IS NULL THEN 'only in the live projection'
                             ELSE 'live: ' || l.status || ' after ' || l.events_applied || ' events; replay: '
                                  || r.status || ' after ' || r.events_applied || ' events' END
                   FROM {live}.projection_identities l
                   FULL JOIN {replayed}.projection_identities r USING (identity_id)
                  WHERE l.identity_id IS NULL OR r.identity_id IS NULL OR l.state::text <> r.state::text
                  ORDER BY 1 LIMIT $1"
            ),
            &[&limit],
        )
        .await
        .map_err(StoreError::from)?;
    Ok(rows
        .iter()
        .map(|r| format!("{}: {}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
}

/// Swaps the replayed projection in for the live one in one transaction: the live
/// tables move to `retired`, the replayed ones into `live`, and the live projector's
/// offsets stay where they are. Refused when the live projector has processed records
/// the replay has not (it would lose them); replaying past the live projector is
/// harmless, since the projector recognises events it has journaled.
pub async fn switch(
    client: &mut tokio_postgres::Client,
    live: &str,
    replayed: &str,
    replay_group: &str,
    retired: &str,
) -> Result<(), ReplayError> {
    let (live, replayed, retired) = (checked(live)?, checked(replayed)?, checked(retired)?);
    let txn = client.transaction().await.map_err(StoreError::from)?;
    // The tables first, then the projector's offsets: its own transactions write
    // them in that order too, so the two cannot deadlock.
    let tables: Vec<String> = PROJECTION_TABLES
        .iter()
        .map(|t| format!("{live}.{t}"))
        .collect();
    // Built at run time: it locks the tables of the live schema, chosen at run time.
    txn.batch_execute(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        tables.join(", ")
    ))
    .await
    .map_err(StoreError::from)?;
    // Holding the live projector's offset rows stops it committing until the swap is done.
    // Built at run time: it reads the offsets in the live schema, chosen at run time.
    let live_positions: HashMap<i32, i64> = txn
        .query(
            &format!(
                "SELECT partition, next_offset FROM {live}.consumer_offsets
                  WHERE consumer_group = $1 AND topic = $2 FOR UPDATE"
            ),
            &[&GROUP, &topics::LIFECYCLE],
        )
        .await
        .map_err(StoreError::from)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // Built at run time: it reads the offsets in the replay's schema, chosen at run time.
    let replayed_positions: HashMap<i32, i64> = txn
        .query(
            &format!(
                "SELECT partition, next_offset FROM {replayed}.consumer_offsets
                  WHERE consumer_group = $1 AND topic = $2"
            ),
            &[&replay_group, &topics::LIFECYCLE],
        )
        .await
        .map_err(StoreError::from)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let behind: i64 = live_positions
        .iter()
        .map(|(p, live)| (live - replayed_positions.get(p).copied().unwrap_or(0)).max(0))
        .sum();
    if behind > 0 {
        return Err(ReplayError::LiveAhead(behind));
    }
    // Built at run time: DDL moving tables between schemas chosen at run time.
    let mut statements = format!("CREATE SCHEMA {retired};");
    for table in PROJECTION_TABLES {
        statements.push_str(&format!(
            "ALTER TABLE {live}.{table} SET SCHEMA {retired};
             ALTER TABLE {replayed}.{table} SET SCHEMA {live};"
        ));
    }
    txn.batch_execute(&statements)
        .await
        .map_err(StoreError::from)?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}
