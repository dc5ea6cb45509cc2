//! `/metrics`: pipeline health and governance quality in Prometheus text format.
//!
//! Every figure is read from PostgreSQL at scrape time, so any instance answers for
//! the whole system and a restart loses no counter.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use chrono::Utc;
use tenure_store::Database;

use crate::api::{QueryError, governance_counters};

/// Upper bounds (seconds) of the time-to-revoke histogram: from the trigger taking
/// effect to the connector's acknowledgement.
const TIME_TO_REVOKE_BUCKETS: [f64; 10] = [
    1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 604800.0,
];

/// One metric family being written.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        let _ = writeln!(self.0, "{name}{labels} {value}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric; see the module docs.
pub async fn render(db: &Database) -> Result<String, QueryError> {
    let client = db.client().await?;
    let mut out = Exposition(String::new());

    out.family(
        "tenure_events_total",
        "counter",
        "Lifecycle events projected, by source system and event type.",
    );
    for row in client
        .query(
            "SELECT source_system, event_type, count(*) FROM projection_events
              GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .await?
    {
        let (source, kind): (String, String) = (row.get(0), row.get(1));
        out.sample(
            "tenure_events_total",
            &[("source", &source), ("type", &kind)],
            row.get::<_, i64>(2) as f64,
        );
    }

    out.family(
        "tenure_consumer_records_processed_total",
        "counter",
        "Records each consumer group has processed, per partition.",
    );
    let positions = client
        .query(
            "SELECT consumer_group, topic, partition, messages_processed, next_offset
               FROM consumer_offsets ORDER BY 1, 2, 3",
            &[],
        )
        .await?;
    for row in &positions {
        let (group, topic, partition): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
        out.sample(
            "tenure_consumer_records_processed_total",
            &[
                ("group", &group),
                ("topic", &topic),
                ("partition", &partition.to_string()),
            ],
            row.get::<_, i64>(3) as f64,
        );
    }
    out.family(
        "tenure_consumer_next_offset",
        "gauge",
        "The next offset each consumer group will read, per partition (lag is the log end minus this).",
    );
    for row in &positions {
        let (group, topic, partition): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
        out.sample(
            "tenure_consumer_next_offset",
            &[
                ("group", &group),
                ("topic", &topic),
                ("partition", &partition.to_string()),
            ],
            row.get::<_, i64>(4) as f64,
        );
    }

    let outbox = client
        .query_one(
            "SELECT count(*) FILTER (WHERE held_at IS NULL),
                    count(*) FILTER (WHERE held_at IS NOT NULL)
               FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await?;
    out.gauge(
        "tenure_outbox_depth",
        "Decided facts and commands not yet published.",
        outbox.get::<_, i64>(0) as f64,
    );
    out.gauge(
        "tenure_revocations_held",
        "Revocations held by the safety brake, waiting for an operator.",
        outbox.get::<_, i64>(1) as f64,
    );

    let now = Utc::now();
    let counters = governance_counters(&client, now).await?;
    let help = [
        ("active_grants", "Grants in force."),
        (
            "ungoverned_grants",
            "Grants lacking an owner, a business reason or a revocation condition.",
        ),
        (
            "past_expiry_active",
            "Grants past their expiry that are still active.",
        ),
        (
            "pending_revocations",
            "Revocations issued and not yet confirmed by a connector.",
        ),
        (
            "pending_revocations_overdue",
            "Revocations pending for more than an hour.",
        ),
        (
            "unacknowledged_revocations",
            "Revocation commands awaiting their connector's acknowledgement.",
        ),
        (
            "escalated_revocations",
            "Revocation commands that failed permanently or ran out of retries.",
        ),
        (
            "orphaned_non_human_identities",
            "Active service accounts, API keys and agents whose owner has left.",
        ),
    ];
    for (name, text) in help {
        let value = counters.get(name).and_then(|v| v.as_i64()).unwrap_or(0);
        out.gauge(&format!("tenure_{name}"), text, value as f64);
    }
    let suspended: i64 = client
        .query_one(
            "SELECT count(*) FROM projection_grants WHERE status = 'active' AND suspended",
            &[],
        )
        .await?
        .get(0);
    out.gauge(
        "tenure_suspended_grants",
        "Grants suspended for a leave of absence.",
        suspended as f64,
    );

    let le: Vec<f64> = TIME_TO_REVOKE_BUCKETS.to_vec();
    let stats = client
        .query_one(
            "SELECT count(*), COALESCE(sum(s), 0)::float8 FROM
               (SELECT GREATEST(EXTRACT(EPOCH FROM acknowledged_at - issued_at)::float8, 0) AS s
                  FROM command_tracking WHERE acknowledged_at IS NOT NULL) t",
            &[],
        )
        .await?;
    let buckets = client
        .query(
            "SELECT b, count(t.s) FROM unnest($1::float8[]) b
               LEFT JOIN (SELECT GREATEST(EXTRACT(EPOCH FROM acknowledged_at - issued_at)::float8, 0) AS s
                            FROM command_tracking WHERE acknowledged_at IS NOT NULL) t ON t.s <= b
              GROUP BY b ORDER BY b",
            &[&le],
        )
        .await?;
    let name = "tenure_time_to_revoke_seconds";
    out.family(
        name,
        "histogram",
        "Time from a revocation's trigger to its connector's acknowledgement.",
    );
    for row in buckets {
        let bound: f64 = row.get(0);
        out.sample(
            &format!("{name}_bucket"),
            &[("le", &bound.to_string())],
            row.get::<_, i64>(1) as f64,
        );
    }
    let count = stats.get::<_, i64>(0) as f64;
    out.sample(&format!("{name}_bucket"), &[("le", "+Inf")], count);
    out.sample(&format!("{name}_sum"), &[], stats.get(1));
    out.sample(&format!("{name}_count"), &[], count);
    Ok(out.0)
}

/// The `/metrics` handler.
pub(crate) async fn metrics(State(db): State<Database>) -> Result<impl IntoResponse, QueryError> {
    let text = render(&db).await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    ))
}
