//! The demo's report: what was granted, what was revoked and why, and how fast.

use chrono::{DateTime, Utc};
use prost::Message as _;
use serde::Serialize;
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_store::Database;
use uuid::Uuid;

use super::scenario::PlayLog;

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

/// Prints the report from the projection and the outbox.
pub async fn print(db: &Database, log: &PlayLog, json: bool) -> anyhow::Result<()> {
    let client = db.client().await?;
    let grants: Vec<GrantRow> = client
        .query(
            "SELECT coalesce(i.display_name, i.source_person_id, i.identity_id::text), coalesce(i.role, ''),
                    g.system || ':' || g.resource || ':' || g.permission, g.origin, g.owner,
                    g.expires_at, g.ends_on_role_change, g.status, coalesce(g.revocation_cause, '')
               FROM projection_grants g JOIN projection_identities i USING (identity_id)
              ORDER BY i.source_person_id, g.granted_at, 3",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| {
            let expires: Option<DateTime<Utc>> = r.get(5);
            let mut ends = vec!["leave".to_owned()];
            if r.get::<_, bool>(6) {
                ends.push("role change".into());
            }
            if let Some(e) = expires {
                ends.push(format!("expiry {}", e.format("%H:%M:%S")));
            }
            let status: String = r.get(7);
            let cause: String = r.get(8);
            GrantRow {
                person: r.get(0),
                role: r.get(1),
                entitlement: r.get(2),
                origin: r.get(3),
                owner: r.get(4),
                ends: ends.join(", "),
                status: if cause.is_empty() { status } else { format!("{status} ({cause})") },
            }
        })
        .collect();

    let mut revocations = Vec::new();
    let commands = client
        .query(
            "SELECT payload, published_at FROM outbox
              WHERE topic = $1 AND headers @> '[[\"ce_type\", \"tenure.commands.v1.revoke\"]]'
              ORDER BY seq",
            &[&topics::COMMANDS],
        )
        .await?;
    for row in commands {
        let payload: Vec<u8> = row.get(0);
        let published: Option<DateTime<Utc>> = row.get(1);
        let command = v1::RevocationCommand::decode(payload.as_slice())?;
        let command_id = Uuid::parse_str(&command.command_id)?;
        let trigger_id = Uuid::parse_str(&command.trigger_event_id)?;
        let identity_id = Uuid::parse_str(&command.identity_id)?;
        let trigger = client
            .query_opt(
                "SELECT event_type, source_system, effective_time, recorded_time FROM projection_events WHERE event_id = $1",
                &[&trigger_id],
            )
            .await?;
        let confirmed = client
            .query_opt(
                "SELECT min(recorded_time) FROM projection_events
                  WHERE event_type = 'access_revoked' AND causation_id = $1 HAVING count(*) > 0",
                &[&command_id],
            )
            .await?
            .map(|r| r.get::<_, DateTime<Utc>>(0));
        let person: String = client
            .query_opt(
                "SELECT coalesce(display_name, source_person_id) FROM projection_identities WHERE identity_id = $1",
                &[&identity_id],
            )
            .await?
            .map(|r| r.get(0))
            .unwrap_or_else(|| identity_id.to_string());
        let (trigger_text, trigger_at) = match trigger {
            Some(t) => {
                let (kind, source): (String, String) = (t.get(0), t.get(1));
                let (effective, recorded): (DateTime<Utc>, DateTime<Utc>) = (t.get(2), t.get(3));
                (
                    format!("{kind} from {source}"),
                    Some(effective.max(recorded)),
                )
            }
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
        let doc = serde_json::json!({"steps": log.steps, "refused": log.refused, "grants": grants, "revocations": revocations});
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
    Ok(())
}
