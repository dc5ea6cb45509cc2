//! One identity as an auditor sees it: `tenure audit` prints its full timeline (every
//! event, grant and revocation with cause, command id and acknowledgement) and
//! `tenure report` its governance picture.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tenure_core::{CommandId, GrantId, IdentityId};
use tenure_core::{EventPayload, IdentityState};
use tenure_store::Database;

use crate::events::identity_id;
use crate::sql;

/// How `tenure audit` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Csv,
}

/// Options of `tenure audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The identity: a UUID or authority:source-id (e.g. hr:E100).
    pub identity: String,
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
}

/// Options of `tenure report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The identity: a UUID or authority:source-id (e.g. hr:E100).
    pub identity: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One line of an identity's timeline.
#[derive(Debug, Serialize)]
pub struct TimelineRow {
    pub effective_time: DateTime<Utc>,
    pub recorded_time: DateTime<Utc>,
    pub event: String,
    pub source: String,
    pub entitlement: String,
    pub cause: String,
    pub command_id: String,
    /// When the connector acknowledged the command, and how.
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub detail: String,
}

/// A revocation's delivery, from command tracking.
struct Delivery {
    acknowledged_at: Option<DateTime<Utc>>,
    outcome: String,
    escalation: Option<String>,
}

/// One fact recorded about an identity, as its timeline shows it.
struct RecordedEvent {
    effective_time: DateTime<Utc>,
    recorded_time: DateTime<Utc>,
    source: String,
    payload: EventPayload,
}

/// How each command issued for `identity` was delivered, by command id.
async fn deliveries(
    client: &tokio_postgres::Client,
    identity: IdentityId,
) -> anyhow::Result<HashMap<CommandId, Delivery>> {
    Ok(client
        .query(sql::COMMAND_DELIVERIES, &[&identity])
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Delivery {
                    acknowledged_at: r.get(1),
                    outcome: r.get(2),
                    escalation: r.get(3),
                },
            )
        })
        .collect())
}

/// Every fact recorded about `identity`, in the order Tenure recorded them.
async fn recorded_events(
    client: &tokio_postgres::Client,
    identity: IdentityId,
) -> anyhow::Result<Vec<RecordedEvent>> {
    client
        .query(sql::IDENTITY_EVENTS, &[&identity])
        .await?
        .iter()
        .map(|r| {
            Ok(RecordedEvent {
                effective_time: r.get(0),
                recorded_time: r.get(1),
                source: r.get(2),
                payload: serde_json::from_value(r.get(3))?,
            })
        })
        .collect()
}

/// An identity's revocations as `tenure report` counts them.
struct RevocationSummary {
    /// Escalated and still unacknowledged.
    escalated: i64,
    acknowledged: i64,
    /// Median and longest time to revoke, in seconds (`None`: none acknowledged).
    median_s: Option<f64>,
    max_s: Option<f64>,
}

async fn revocation_summary(
    client: &tokio_postgres::Client,
    identity: IdentityId,
) -> anyhow::Result<RevocationSummary> {
    let row = client
        .query_one(sql::REVOCATION_SUMMARY, &[&identity])
        .await?;
    Ok(RevocationSummary {
        escalated: row.get(0),
        acknowledged: row.get(1),
        median_s: row.get(2),
        max_s: row.get(3),
    })
}

/// How many identities the person `person` (a source person id) owns.
async fn count_owned(client: &tokio_postgres::Client, person: &str) -> anyhow::Result<i64> {
    Ok(client
        .query_one(sql::COUNT_OWNED_IDENTITIES, &[&person])
        .await?
        .get(0))
}

async fn known(db: &Database, identity: &str) -> anyhow::Result<(IdentityId, IdentityState)> {
    let id = identity_id(identity)?;
    let client = db.client().await?;
    let client: &tokio_postgres::Client = &client;
    let state = tenure_projector::queries::identity(client, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("identity {identity} is not known to Tenure"))?;
    Ok((id, state))
}

/// The identity's timeline, oldest first (by when Tenure recorded each fact).
pub async fn timeline(db: &Database, identity: &str) -> anyhow::Result<Vec<TimelineRow>> {
    let (id, state) = known(db, identity).await?;
    let client = db.client().await?;
    let deliveries = deliveries(&client, id).await?;
    let entitlement = |grant: &GrantId| {
        state
            .grants
            .get(grant)
            .map(|g| g.entitlement.to_string())
            .unwrap_or_default()
    };
    let events = recorded_events(&client, id).await?;
    let mut out = Vec::with_capacity(events.len());
    for RecordedEvent {
        effective_time,
        recorded_time,
        source,
        payload,
    } in events
    {
        let mut row = TimelineRow {
            effective_time,
            recorded_time,
            event: payload.kind().to_owned(),
            source,
            entitlement: String::new(),
            cause: String::new(),
            command_id: String::new(),
            acknowledged_at: None,
            outcome: String::new(),
            detail: String::new(),
        };
        match &payload {
            EventPayload::IdentityJoined { role, kind, .. } => {
                row.detail = format!("{} in role {role}", kind.as_str());
            }
            EventPayload::IdentityMoved { role, .. } => row.detail = format!("to role {role}"),
            EventPayload::IdentityLeft { reason } => row.detail = reason.clone(),
            EventPayload::AccessGranted {
                entitlement,
                owner,
                business_reason,
                revocation,
                ..
            } => {
                row.entitlement = entitlement.to_string();
                row.detail = format!(
                    "owner {owner}; reason: {business_reason}; ends {}{}",
                    revocation
                        .expires_at
                        .map(|e| format!("at {}", e.to_rfc3339()))
                        .unwrap_or_else(|| "—".into()),
                    if revocation.ends_on_role_change {
                        " or on a role change"
                    } else {
                        ""
                    }
                );
            }
            EventPayload::RevocationIssued {
                grant_id,
                command_id,
                cause,
            } => {
                row.entitlement = entitlement(grant_id);
                row.cause = cause.as_str().to_owned();
                row.command_id = command_id.to_string();
                if let Some(d) = deliveries.get(command_id) {
                    row.acknowledged_at = d.acknowledged_at;
                    row.outcome = d.outcome.clone();
                    row.detail = d.escalation.clone().unwrap_or_default();
                }
            }
            EventPayload::AccessRevoked {
                grant_id,
                command_id,
                status,
                connector,
                ..
            } => {
                row.entitlement = entitlement(grant_id);
                row.command_id = command_id.to_string();
                row.outcome = format!("{status:?}").to_lowercase();
                row.detail = format!("confirmed by {connector}");
            }
            EventPayload::CommandFailed {
                grant_id,
                command_id,
                status,
                connector,
                detail,
                ..
            } => {
                row.entitlement = entitlement(grant_id);
                row.command_id = command_id.to_string();
                row.outcome = format!("{status:?}").to_lowercase();
                row.detail = format!("{connector}: {detail}");
            }
            EventPayload::AccessSuspended {
                grant_id,
                command_id,
            }
            | EventPayload::AccessRestored {
                grant_id,
                command_id,
            } => {
                row.entitlement = entitlement(grant_id);
                row.command_id = command_id.to_string();
            }
            EventPayload::DeadlineReached { kind, .. } => row.detail = kind.as_str().to_owned(),
            EventPayload::AccessRequestChanged {
                request_id,
                state,
                entitlement,
                detail,
                ..
            } => {
                row.entitlement = entitlement
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                row.detail = format!("request {request_id} {}: {detail}", state.as_str());
            }
            EventPayload::OwnerLeft { owner, grace_until } => {
                row.detail =
                    format!("owner {owner} left; revoked at {grace_until} unless re-owned");
            }
            EventPayload::CredentialRotationIssued { command_id, .. } => {
                row.command_id = command_id.to_string();
            }
            EventPayload::CommandCompleted {
                grant_id,
                command_id,
                command_type,
                status,
                connector,
            } => {
                row.entitlement = entitlement(grant_id);
                row.command_id = command_id.to_string();
                row.outcome = format!("{status:?}").to_lowercase();
                row.detail = format!("{command_type:?} confirmed by {connector}").to_lowercase();
            }
            EventPayload::LeaveOfAbsenceStarted { reason } => row.detail = reason.clone(),
            EventPayload::LeaveOfAbsenceEnded => {}
            EventPayload::RevocationHeld { .. }
            | EventPayload::RevocationReleased { .. }
            | EventPayload::CommandRepublished { .. }
            | EventPayload::CommandEscalated { .. } => {
                if let Some((grant_id, command_id, detail)) = follow_up(&payload) {
                    row.entitlement = entitlement(&grant_id);
                    row.command_id = command_id.to_string();
                    row.detail = detail;
                }
            }
            EventPayload::AccessDiscrepancyFound {
                kind,
                account,
                entitlement,
                connector,
                ..
            } => {
                row.entitlement = entitlement.to_string();
                row.detail = format!(
                    "reconciliation ({connector}): {} for account {account}",
                    kind.as_str()
                );
            }
        }
        out.push(row);
    }
    Ok(out)
}

/// The grant, command and what happened, for Tenure's follow-ups of a command (brake
/// holds and releases, retries, escalations).
fn follow_up(payload: &EventPayload) -> Option<(GrantId, CommandId, String)> {
    Some(match payload {
        EventPayload::RevocationHeld {
            grant_id,
            command_id,
            reason,
        } => (
            *grant_id,
            *command_id,
            format!("held by the safety brake: {reason}"),
        ),
        EventPayload::RevocationReleased {
            grant_id,
            command_id,
            actor,
            reason,
        } => (
            *grant_id,
            *command_id,
            format!("released by {actor}: {reason}"),
        ),
        EventPayload::CommandRepublished {
            grant_id,
            command_id,
            attempt,
        } => (
            *grant_id,
            *command_id,
            format!("unacknowledged; published again (attempt {attempt})"),
        ),
        EventPayload::CommandEscalated {
            grant_id,
            command_id,
            reason,
        } => (*grant_id, *command_id, format!("escalated: {reason}")),
        _ => return None,
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Runs `tenure audit`.
pub async fn run_audit(database_url: &str, args: AuditArgs) -> anyhow::Result<()> {
    let db = Database::open_existing(database_url).await?;
    let rows = timeline(&db, &args.identity).await?;
    match args.format {
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        AuditFormat::Csv => {
            println!(
                "effective_time,recorded_time,event,source,entitlement,cause,command_id,acknowledged_at,outcome,detail"
            );
            for r in &rows {
                let fields = [
                    r.effective_time.to_rfc3339(),
                    r.recorded_time.to_rfc3339(),
                    r.event.clone(),
                    r.source.clone(),
                    r.entitlement.clone(),
                    r.cause.clone(),
                    r.command_id.clone(),
                    r.acknowledged_at
                        .map(|a| a.to_rfc3339())
                        .unwrap_or_default(),
                    r.outcome.clone(),
                    r.detail.clone(),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                println!("{}", line.join(","));
            }
        }
        AuditFormat::Table => {
            println!(
                "{:<17} {:<26} {:<32} {:<14} {:<16} detail",
                "effective", "event", "entitlement", "cause", "acknowledged"
            );
            for r in &rows {
                println!(
                    "{:<17} {:<26} {:<32} {:<14} {:<16} {}",
                    r.effective_time.format("%Y-%m-%d %H:%M"),
                    r.event,
                    r.entitlement,
                    r.cause,
                    r.acknowledged_at
                        .map(|a| format!("{} {}", a.format("%m-%d %H:%M"), r.outcome))
                        .unwrap_or_else(|| r.outcome.clone()),
                    r.detail
                );
            }
        }
    }
    Ok(())
}

/// One person's governance picture.
#[derive(Debug, Serialize)]
pub struct GovernanceReport {
    pub identity: String,
    pub identity_id: IdentityId,
    pub kind: String,
    pub status: String,
    pub role: Option<String>,
    pub active_grants: usize,
    pub suspended_grants: usize,
    pub grants_past_expiry: usize,
    pub ungoverned_grants: usize,
    pub revocations_pending: usize,
    pub revocations_escalated: i64,
    pub revocations_acknowledged: i64,
    /// Median and longest time from trigger to acknowledgement, in seconds.
    pub time_to_revoke_median_s: Option<f64>,
    pub time_to_revoke_max_s: Option<f64>,
    /// Revocations pending longer than the core's overdue threshold (an hour), as
    /// the query API counts them.
    pub revocations_overdue: usize,
    /// Non-human identities this person owns that are still active.
    pub owned_non_human_identities: i64,
    /// What reconciliation found in target systems about this identity: access
    /// still there after its revocation, access never granted, granted access missing.
    pub found_not_removed: i64,
    pub found_out_of_band: i64,
    pub found_missing: i64,
}

/// The governance picture of one identity, now.
pub async fn governance(db: &Database, identity: &str) -> anyhow::Result<GovernanceReport> {
    let (id, state) = known(db, identity).await?;
    let now = Utc::now();
    let client = db.client().await?;
    let tracking = revocation_summary(&client, id).await?;
    let owned = match &state.source_person_id {
        Some(person) => count_owned(&client, person).await?,
        None => 0,
    };
    let active: Vec<_> = state.active_grants().collect();
    let found = client.query_one(sql::COUNT_FINDINGS, &[&id]).await?;
    Ok(GovernanceReport {
        identity: identity.to_owned(),
        identity_id: id,
        kind: state.kind.as_str().to_owned(),
        status: state.status.as_str().to_owned(),
        role: state.role.clone(),
        active_grants: active.len(),
        suspended_grants: active.iter().filter(|g| g.suspended).count(),
        grants_past_expiry: active
            .iter()
            .filter(|g| tenure_core::governance::is_past_expiry(g, now))
            .count(),
        // Held grants, as the query API and /metrics count them.
        ungoverned_grants: state
            .grants
            .values()
            .filter(|g| {
                tenure_core::governance::is_held(g) && tenure_core::governance::is_ungoverned(g)
            })
            .count(),
        revocations_pending: state
            .grants
            .values()
            .filter(|g| matches!(g.status, tenure_core::GrantStatus::RevocationPending { .. }))
            .count(),
        revocations_overdue: state
            .grants
            .values()
            .filter(|g| tenure_core::governance::is_revocation_overdue(g, now))
            .count(),
        revocations_escalated: tracking.escalated,
        revocations_acknowledged: tracking.acknowledged,
        time_to_revoke_median_s: tracking.median_s,
        time_to_revoke_max_s: tracking.max_s,
        owned_non_human_identities: owned,
        found_not_removed: found.get(0),
        found_out_of_band: found.get(1),
        found_missing: found.get(2),
    })
}

/// Runs `tenure report`.
pub async fn run_report(database_url: &str, args: ReportArgs) -> anyhow::Result<()> {
    let db = Database::open_existing(database_url).await?;
    let r = governance(&db, &args.identity).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let secs = |s: Option<f64>| s.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "—".into());
    println!(
        "{} ({}) — {} {}, role {}",
        r.identity,
        r.identity_id,
        r.kind,
        r.status,
        r.role.as_deref().unwrap_or("—")
    );
    println!("  active grants                {}", r.active_grants);
    println!("  suspended (leave of absence) {}", r.suspended_grants);
    println!("  past expiry, still active    {}", r.grants_past_expiry);
    println!("  lacking owner/reason/end     {}", r.ungoverned_grants);
    println!("  revocations pending          {}", r.revocations_pending);
    println!("  revocations overdue          {}", r.revocations_overdue);
    println!("  revocations escalated        {}", r.revocations_escalated);
    println!(
        "  revocations acknowledged     {} (time to revoke: median {}, max {})",
        r.revocations_acknowledged,
        secs(r.time_to_revoke_median_s),
        secs(r.time_to_revoke_max_s)
    );
    println!(
        "  non-human identities owned   {}",
        r.owned_non_human_identities
    );
    println!(
        "  reconciliation found         {} still there after revocation, {} never granted, {} missing",
        r.found_not_removed, r.found_out_of_band, r.found_missing
    );
    Ok(())
}
