//! The demo's report: what was granted, what was revoked and why, and how fast.

use chrono::{DateTime, Utc};
use prost::Message as _;
use serde::Serialize;
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_store::Database;
use uuid::Uuid;

use super::scenario::PlayLog;
use crate::sql;

#[derive(Serialize)]
struct GrantRow {
    person: String,
    role: String,
    entitlement: String,
    origin: String,
    owner: String,
    ends: String,
    status: String,
}

#[derive(Serialize)]
struct RevocationRow {
    command_id: Uuid,
    person: String,
    entitlement: String,
    cause: String,
    trigger: String,
    trigger_to_command_ms: Option<i64>,
    command_to_confirmed_ms: Option<i64>,
}

fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("  {}", parts.join("  ").trim_end());
    };
    line(headers.to_vec());
    line(
        widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

fn fmt_ms(v: Option<i64>) -> String {
    v.map(|m| format!("{m} ms")).unwrap_or_else(|| "—".into())
}

fn percentile(values: &mut [i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// A projected grant with its holder, as the report lists it.
struct ProjectedGrant {
    person: String,
    role: String,
    entitlement: String,
    origin: String,
    owner: String,
    expires_at: Option<DateTime<Utc>>,
    ends_on_role_change: bool,
    status: String,
    /// Why it was revoked ('' when it was not).
    cause: String,
}

/// Every projected grant, by person and when granted.
async fn projected_grants(client: &tokio_postgres::Client) -> anyhow::Result<Vec<ProjectedGrant>> {
    Ok(client
        .query(sql::DEMO_GRANTS, &[])
        .await?
        .into_iter()
        .map(|r| ProjectedGrant {
            person: r.get(0),
            role: r.get(1),
            entitlement: r.get(2),
            origin: r.get(3),
            owner: r.get(4),
            expires_at: r.get(5),
            ends_on_role_change: r.get(6),
            status: r.get(7),
            cause: r.get(8),
        })
        .collect())
}

/// A revocation command from the outbox: its encoded payload and when it was published.
struct SentCommand {
    payload: Vec<u8>,
    published_at: Option<DateTime<Utc>>,
}

/// The revocation commands written to the outbox, in the order written.
async fn revocation_commands(client: &tokio_postgres::Client) -> anyhow::Result<Vec<SentCommand>> {
    Ok(client
        .query(sql::REVOCATION_COMMANDS, &[&topics::COMMANDS])
        .await?
        .into_iter()
        .map(|r| SentCommand {
            payload: r.get(0),
            published_at: r.get(1),
        })
        .collect())
}

/// The fact that triggered a revocation.
struct Trigger {
    event_type: String,
    source_system: String,
    effective_time: DateTime<Utc>,
    recorded_time: DateTime<Utc>,
}

/// The projected fact `event_id` (`None`: not projected).
async fn trigger_event(
    client: &tokio_postgres::Client,
    event_id: Uuid,
) -> anyhow::Result<Option<Trigger>> {
    Ok(client
        .query_opt(sql::TRIGGER_EVENT, &[&event_id])
        .await?
        .map(|t| Trigger {
            event_type: t.get(0),
            source_system: t.get(1),
            effective_time: t.get(2),
            recorded_time: t.get(3),
        }))
}

/// When command `command_id` was first confirmed revoked (`None`: not yet).
async fn first_confirmation(
    client: &tokio_postgres::Client,
    command_id: Uuid,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(client
        .query_opt(sql::FIRST_CONFIRMATION, &[&command_id])
        .await?
        .map(|r| r.get(0)))
}

/// The display name (else source person id) of `identity_id` (`None`: not projected).
async fn person_name(
    client: &tokio_postgres::Client,
    identity_id: Uuid,
) -> anyhow::Result<Option<String>> {
    Ok(client
        .query_opt(sql::PERSON_NAME, &[&identity_id])
        .await?
        .map(|r| r.get(0)))
}

/// Prints the report from the projection and the outbox.
pub async fn print(
    db: &Database,
    log: &PlayLog,
    target_url: &str,
    json: bool,
) -> anyhow::Result<()> {
    let client = db.client().await?;
    let postgres_after = super::target::memberships(target_url).await?;
    let grants: Vec<GrantRow> = projected_grants(&client)
        .await?
        .into_iter()
        .map(|g| {
            let mut ends = vec!["leave".to_owned()];
            if g.ends_on_role_change {
                ends.push("role change".into());
            }
            if let Some(e) = g.expires_at {
                ends.push(format!("expiry {}", e.format("%H:%M:%S")));
            }
            GrantRow {
                person: g.person,
                role: g.role,
                entitlement: g.entitlement,
                origin: g.origin,
                owner: g.owner,
                ends: ends.join(", "),
                status: if g.cause.is_empty() {
                    g.status
                } else {
                    format!("{} ({})", g.status, g.cause)
                },
            }
        })
        .collect();

    let mut revocations = Vec::new();
    for sent in revocation_commands(&client).await? {
        let published = sent.published_at;
        let command = v1::RevocationCommand::decode(sent.payload.as_slice())?;
        let command_id = Uuid::parse_str(&command.command_id)?;
        let trigger_id = Uuid::parse_str(&command.trigger_event_id)?;
        let identity_id = Uuid::parse_str(&command.identity_id)?;
        let trigger = trigger_event(&client, trigger_id).await?;
        let confirmed = first_confirmation(&client, command_id).await?;
        let person = person_name(&client, identity_id)
            .await?
            .unwrap_or_else(|| identity_id.to_string());
        let (trigger_text, trigger_at) = match trigger {
            Some(t) => (
                format!("{} from {}", t.event_type, t.source_system),
                Some(t.effective_time.max(t.recorded_time)),
            ),
            None => ("(not projected)".into(), None),
        };
        let cause = v1::RevocationCause::try_from(command.cause)
            .map(|c| {
                c.as_str_name()
                    .trim_start_matches("REVOCATION_CAUSE_")
                    .to_lowercase()
            })
            .unwrap_or_default();
        let entitlement = command
            .entitlement
            .map(|e| format!("{}:{}:{}", e.system, e.resource, e.permission))
            .unwrap_or_default();
        revocations.push(RevocationRow {
            command_id,
            person,
            entitlement,
            cause,
            trigger: trigger_text,
            trigger_to_command_ms: trigger_at.zip(published).map(|(t, p)| ms(t, p)),
            command_to_confirmed_ms: published.zip(confirmed).map(|(p, c)| ms(p, c)),
        });
    }

    if json {
        let doc = serde_json::json!({"steps": log.steps, "refused": log.refused, "grants": grants, "revocations": revocations,
            "postgres_roles": {"before": log.postgres_before, "after": postgres_after}});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("What happened");
    for step in &log.steps {
        println!("  • {step}");
    }
    for refusal in &log.refused {
        let problems: Vec<String> = refusal["answer"]["problems"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        format!(
                            "{}: {}",
                            p["field"].as_str().unwrap_or(""),
                            p["problem"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "  • refused {} with {}:",
            refusal["request"].as_str().unwrap_or(""),
            refusal["status"]
        );
        for p in problems {
            println!("      - {p}");
        }
    }
    println!();
    println!("Grants ({})", grants.len());
    table(
        &[
            "person",
            "role",
            "entitlement",
            "origin",
            "owner",
            "ends on",
            "status",
        ],
        &grants
            .iter()
            .map(|g| {
                vec![
                    g.person.clone(),
                    g.role.clone(),
                    g.entitlement.clone(),
                    g.origin.clone(),
                    g.owner.clone(),
                    g.ends.clone(),
                    g.status.clone(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!();
    println!(
        "Revocation commands ({}), each confirmed by its connector",
        revocations.len()
    );
    table(
        &[
            "command",
            "person",
            "entitlement",
            "cause",
            "trigger",
            "trigger→command",
            "command→confirmed",
        ],
        &revocations
            .iter()
            .map(|r| {
                vec![
                    r.command_id.to_string()[..8].to_owned(),
                    r.person.clone(),
                    r.entitlement.clone(),
                    r.cause.clone(),
                    r.trigger.clone(),
                    fmt_ms(r.trigger_to_command_ms),
                    fmt_ms(r.command_to_confirmed_ms),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let mut to_command: Vec<i64> = revocations
        .iter()
        .filter_map(|r| r.trigger_to_command_ms)
        .collect();
    let mut to_confirmed: Vec<i64> = revocations
        .iter()
        .filter_map(|r| {
            r.trigger_to_command_ms
                .zip(r.command_to_confirmed_ms)
                .map(|(a, b)| a + b)
        })
        .collect();
    println!();
    println!(
        "Time to command: p50 {}, max {}.  Time to confirmed revocation: p50 {}, max {}.",
        fmt_ms(percentile(&mut to_command, 50.0)),
        fmt_ms(to_command.iter().max().copied()),
        fmt_ms(percentile(&mut to_confirmed, 50.0)),
        fmt_ms(to_confirmed.iter().max().copied()),
    );
    println!(
        "(Deadline-driven revocations are timed from the deadline itself: the scheduler checks every 200 ms.)"
    );
    println!();
    println!("PostgreSQL role memberships in the demo target, as the server reports them");
    let logins: std::collections::BTreeSet<&str> = log
        .postgres_before
        .iter()
        .chain(&postgres_after)
        .map(|(login, _)| login.as_str())
        .collect();
    let roles_of = |held: &[(String, String)], login: &str| {
        let roles: Vec<&str> = held
            .iter()
            .filter(|(l, _)| l == login)
            .map(|(_, r)| r.as_str())
            .collect();
        if roles.is_empty() {
            "(none)".to_owned()
        } else {
            roles.join(", ")
        }
    };
    table(
        &["login", "after the joiners", "at the end"],
        &logins
            .iter()
            .map(|login| {
                vec![
                    (*login).to_owned(),
                    roles_of(&log.postgres_before, login),
                    roles_of(&postgres_after, login),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(())
}
