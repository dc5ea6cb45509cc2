//! `tenure simulate`: the reactor's rules under a candidate policy, run over the
//! recorded history without emitting anything, compared with what really happened.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;
use tenure_core::simulate::Simulation;
use tenure_core::{Command, EventPayload, GrantOrigin, LifecycleEvent, Policy};
use tenure_core::{GrantId, IdentityId};
use tenure_store::Database;

use crate::sql;

/// Options of `tenure simulate` (the candidate policy is the global `--policy`).
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Report only differences from this time on (the rules still run from the start).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A revocation or grant, as it happened or as the candidate would have done it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Outcome {
    pub cause: String,
    pub at: DateTime<Utc>,
}

/// One grant the candidate policy treats differently.
#[derive(Debug, Serialize)]
pub struct Difference {
    /// `would_revoke`, `would_not_revoke`, `would_revoke_earlier`,
    /// `would_revoke_later`, `would_grant`, `would_not_grant`.
    pub kind: &'static str,
    pub identity: String,
    pub entitlement: String,
    pub grant_id: Option<GrantId>,
    pub actual: Option<Outcome>,
    pub simulated: Option<Outcome>,
}

/// The whole comparison.
#[derive(Debug, Serialize)]
pub struct SimulationReport {
    pub events: usize,
    pub history_ends: Option<DateTime<Utc>>,
    /// Differences counted by kind and cause (`would_revoke_earlier: policy` …).
    pub counts: BTreeMap<String, usize>,
    pub differences: Vec<Difference>,
}

/// The recorded history in log order, from the projection's journal.
async fn history(db: &Database) -> anyhow::Result<Vec<LifecycleEvent>> {
    let client = db.client().await?;
    let rows = client.query(sql::JOURNAL_IN_LOG_ORDER, &[]).await?;
    rows.iter()
        .map(|r| {
            Ok(LifecycleEvent {
                event_id: r.get(0),
                identity_id: r.get(1),
                effective_time: r.get(2),
                recorded_time: r.get(3),
                source_system: r.get(4),
                source_event_id: r.get(5),
                causation_id: r.get(6),
                payload: serde_json::from_value(r.get(7))?,
            })
        })
        .collect()
}

/// A readable name (source person id, else id) for every projected identity.
async fn identity_names(db: &Database) -> anyhow::Result<HashMap<IdentityId, String>> {
    Ok(db
        .client()
        .await?
        .query(sql::IDENTITY_NAMES, &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Runs `candidate` over the journal of `db` and compares.
pub async fn simulate(
    db: &Database,
    candidate: &Policy,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<SimulationReport> {
    let log = history(db).await?;
    let names = identity_names(db).await?;
    let name = |id: &IdentityId| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    // What really happened: the reactor's recorded decisions.
    let mut entitlements: HashMap<GrantId, String> = HashMap::new();
    let mut actual_revocations: HashMap<GrantId, (IdentityId, Outcome)> = HashMap::new();
    let mut actual_grants: HashMap<(IdentityId, String), DateTime<Utc>> = HashMap::new();
    for e in &log {
        match &e.payload {
            EventPayload::AccessGranted {
                grant_id,
                entitlement,
                origin,
                ..
            } => {
                entitlements.insert(*grant_id, entitlement.to_string());
                if matches!(origin, GrantOrigin::Birthright { .. }) {
                    actual_grants
                        .entry((e.identity_id, entitlement.to_string()))
                        .or_insert(e.effective_time);
                }
            }
            EventPayload::RevocationIssued {
                grant_id, cause, ..
            } => {
                actual_revocations.entry(*grant_id).or_insert((
                    e.identity_id,
                    Outcome {
                        cause: cause.as_str().to_owned(),
                        at: e.effective_time,
                    },
                ));
            }
            _ => {}
        }
    }
    // What the candidate would have done.
    let mut simulation = Simulation::new(candidate);
    let mut decisions = Vec::new();
    for e in &log {
        decisions.extend(simulation.feed(e));
    }
    let ends = log.iter().map(|e| e.recorded_time).max();
    if let Some(end) = ends {
        decisions.extend(simulation.finish(end));
    }
    let mut simulated_revocations: HashMap<GrantId, (IdentityId, Outcome)> = HashMap::new();
    let mut simulated_grants: HashMap<(IdentityId, String), DateTime<Utc>> = HashMap::new();
    for d in &decisions {
        let at = match &d.trigger.payload {
            EventPayload::DeadlineReached { due_time, .. } => *due_time,
            _ => d.trigger.effective_time,
        };
        for command in &d.reaction.commands {
            match command {
                Command::Revoke(c) => {
                    entitlements
                        .entry(c.grant_id)
                        .or_insert_with(|| c.entitlement.to_string());
                    simulated_revocations.entry(c.grant_id).or_insert((
                        c.identity_id,
                        Outcome {
                            cause: c.cause.as_str().to_owned(),
                            at,
                        },
                    ));
                }
                Command::Grant(c) => {
                    simulated_grants
                        .entry((c.identity_id, c.entitlement.to_string()))
                        .or_insert(at);
                }
                _ => {}
            }
        }
    }
    let mut differences = Vec::new();
    let mut grants: Vec<GrantId> = actual_revocations
        .keys()
        .chain(simulated_revocations.keys())
        .copied()
        .collect();
    grants.sort();
    grants.dedup();
    for grant in grants {
        let actual = actual_revocations.get(&grant);
        let simulated = simulated_revocations.get(&grant);
        let kind = match (actual, simulated) {
            (Some(_), None) => "would_not_revoke",
            (None, Some(_)) => "would_revoke",
            (Some((_, a)), Some((_, s))) if s.at < a.at - chrono::Duration::seconds(1) => {
                "would_revoke_earlier"
            }
            (Some((_, a)), Some((_, s))) if s.at > a.at + chrono::Duration::seconds(1) => {
                "would_revoke_later"
            }
            _ => continue,
        };
        let identity = actual.or(simulated).map(|(i, _)| *i).unwrap_or_default();
        differences.push(Difference {
            kind,
            identity: name(&identity),
            entitlement: entitlements.get(&grant).cloned().unwrap_or_default(),
            grant_id: Some(grant),
            actual: actual.map(|(_, o)| o.clone()),
            simulated: simulated.map(|(_, o)| o.clone()),
        });
    }
    let mut keys: Vec<&(IdentityId, String)> = actual_grants
        .keys()
        .chain(simulated_grants.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (actual, simulated) = (actual_grants.get(key), simulated_grants.get(key));
        let kind = match (actual, simulated) {
            (Some(_), None) => "would_not_grant",
            (None, Some(_)) => "would_grant",
            _ => continue,
        };
        let outcome = |at: &DateTime<Utc>| Outcome {
            cause: "birthright".into(),
            at: *at,
        };
        differences.push(Difference {
            kind,
            identity: name(&key.0),
            entitlement: key.1.clone(),
            grant_id: None,
            actual: actual.map(outcome),
            simulated: simulated.map(outcome),
        });
    }
    if let Some(since) = since {
        differences.retain(|d| {
            d.actual
                .iter()
                .chain(d.simulated.iter())
                .any(|o| o.at >= since)
        });
    }
    let mut counts = BTreeMap::new();
    for d in &differences {
        let cause = d
            .simulated
            .as_ref()
            .or(d.actual.as_ref())
            .map(|o| o.cause.as_str())
            .unwrap_or("");
        *counts.entry(format!("{}: {cause}", d.kind)).or_default() += 1;
    }
    Ok(SimulationReport {
        events: log.len(),
        history_ends: ends,
        counts,
        differences,
    })
}

/// Runs `tenure simulate`.
pub async fn run(database_url: &str, candidate: &Policy, args: SimulateArgs) -> anyhow::Result<()> {
    let db = Database::open_existing(database_url).await?;
    let report = simulate(&db, candidate, args.since).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "simulated the candidate policy over {} recorded events; {} difference(s)",
        report.events,
        report.differences.len()
    );
    for (kind, count) in &report.counts {
        println!("  {count:>6}  {kind}");
    }
    for d in &report.differences {
        let show = |o: &Option<Outcome>| {
            o.as_ref()
                .map(|o| format!("{} at {}", o.cause, o.at.format("%Y-%m-%d %H:%M")))
                .unwrap_or_else(|| "—".into())
        };
        println!(
            "  {:<22} {:<12} {:<36} actual: {:<32} simulated: {}",
            d.kind,
            d.identity,
            d.entitlement,
            show(&d.actual),
            show(&d.simulated)
        );
    }
    Ok(())
}
