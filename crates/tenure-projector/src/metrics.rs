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

/// This process's consumer batches: counts, records, sizes and durations.
/// Consumer groups whose dead-letter gauges exist even at zero, so alerts can use them.
mod tenure_kafka_groups {
    pub const PROJECTOR: &str = crate::GROUP;
    pub const REACTOR: &str = "tenure-reactor";
}

/// The embedded broker's supervision state, when this process runs one.
fn broker_health(out: &mut Exposition) {
    let Some(health) = tenure_kafka::broker::embedded_health() else {
        return;
    };
    out.gauge(
        "tenure_embedded_broker_up",
        "1 while the embedded broker answers, 0 while it is down or restarting.",
        if health.up { 1.0 } else { 0.0 },
    );
    out.family(
        "tenure_embedded_broker_restarts_total",
        "counter",
        "Times the supervisor restarted the embedded broker.",
    );
    out.sample(
        "tenure_embedded_broker_restarts_total",
        &[],
        health.restarts as f64,
    );
}

fn batch_stats(out: &mut Exposition) {
    let stats = tenure_kafka::stats::snapshot();
    out.family(
        "tenure_consumer_batches_total",
        "counter",
        "Partition batches this process committed, per consumer group.",
    );
    for (group, s) in &stats {
        out.sample(
            "tenure_consumer_batches_total",
            &[("group", group)],
            s.batches as f64,
        );
    }
    out.family(
        "tenure_consumer_batch_records_total",
        "counter",
        "Records in those batches (divide by batches for the mean batch size).",
    );
    for (group, s) in &stats {
        out.sample(
            "tenure_consumer_batch_records_total",
            &[("group", group)],
            s.records as f64,
        );
    }
    out.family(
        "tenure_consumer_batch_records_max",
        "gauge",
        "The largest batch so far, in records.",
    );
    for (group, s) in &stats {
        out.sample(
            "tenure_consumer_batch_records_max",
            &[("group", group)],
            s.largest_batch as f64,
        );
    }
    let name = "tenure_consumer_batch_duration_seconds";
    out.family(
        name,
        "histogram",
        "Time to handle and commit one partition batch.",
    );
    for (group, s) in &stats {
        for (bound, count) in tenure_kafka::stats::DURATION_BUCKETS
            .iter()
            .zip(s.duration_buckets)
        {
            out.sample(
                &format!("{name}_bucket"),
                &[("group", group), ("le", &bound.to_string())],
                count as f64,
            );
        }
        out.sample(
            &format!("{name}_bucket"),
            &[("group", group), ("le", "+Inf")],
            s.batches as f64,
        );
        out.sample(&format!("{name}_sum"), &[("group", group)], s.seconds);
        out.sample(
            &format!("{name}_count"),
            &[("group", group)],
            s.batches as f64,
        );
    }
}

/// Records on the lifecycle log each consumer group has not processed, per partition.
async fn lag(out: &mut Exposition, db: &Database, bootstrap: &str) -> Result<(), QueryError> {
    let ends =
        match tenure_kafka::topics::end_offsets(bootstrap, tenure_kafka::topics::LIFECYCLE).await {
            Ok(ends) => ends,
            Err(e) => {
                tracing::warn!(error = %e, "consumer lag unavailable: the broker did not answer");
                return Ok(());
            }
        };
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT consumer_group, partition, next_offset FROM consumer_offsets WHERE topic = $1",
            &[&tenure_kafka::topics::LIFECYCLE],
        )
        .await?;
    out.family(
        "tenure_consumer_lag",
        "gauge",
        "Records of the lifecycle log a consumer group has not processed, per partition.",
    );
    for row in rows {
        let (group, partition, next): (String, i32, i64) = (row.get(0), row.get(1), row.get(2));
        if let Some((_, end)) = ends.iter().find(|(p, _)| *p == partition) {
            out.sample(
                "tenure_consumer_lag",
                &[("group", &group), ("partition", &partition.to_string())],
                (end - next).max(0) as f64,
            );
        }
    }
    Ok(())
}

/// Request-to-fulfilment times and SLA breaches of ITSM access requests, against the
/// policy's fulfilment SLA (`[requests] fulfilment_sla_hours`).
async fn requests(
    out: &mut Exposition,
    client: &tokio_postgres::Client,
    sla_hours: u32,
) -> Result<(), QueryError> {
    let bounds: Vec<f64> = vec![
        3600.0,
        4.0 * 3600.0,
        24.0 * 3600.0,
        72.0 * 3600.0,
        7.0 * 86400.0,
    ];
    let sla = f64::from(sla_hours) * 3600.0;
    let sla_hours = i32::try_from(sla_hours).unwrap_or(i32::MAX);
    let row = client
        .query_one(
            "WITH requested AS (
                 SELECT payload->>'request_id' AS request_id, min(effective_time) AS at
                   FROM projection_events
                  WHERE event_type = 'access_request_changed' AND payload->>'state' = 'requested'
                  GROUP BY 1),
             closed AS (
                 SELECT payload->>'request_id' AS request_id FROM projection_events
                  WHERE event_type = 'access_request_changed' AND payload->>'state' IN ('rejected', 'cancelled')),
             fulfilled AS (
                 SELECT payload->'origin'->'request'->>'request_id' AS request_id, min(effective_time) AS at
                   FROM projection_events
                  WHERE event_type = 'access_granted' AND payload->'origin'->'request' IS NOT NULL
                  GROUP BY 1),
             times AS (
                 SELECT GREATEST(EXTRACT(EPOCH FROM f.at - r.at)::float8, 0) AS s
                   FROM requested r JOIN fulfilled f USING (request_id))
             SELECT (SELECT count(*) FROM times),
                    (SELECT COALESCE(sum(s), 0) FROM times),
                    (SELECT array_agg((SELECT count(*) FROM times WHERE s <= b) ORDER BY b) FROM unnest($1::float8[]) b),
                    (SELECT count(*) FROM times WHERE s > $2),
                    (SELECT count(*) FROM requested r
                      WHERE r.at < now() - make_interval(hours => $3::int)
                        AND NOT EXISTS (SELECT 1 FROM fulfilled f WHERE f.request_id = r.request_id)
                        AND NOT EXISTS (SELECT 1 FROM closed c WHERE c.request_id = r.request_id))",
            &[&bounds, &sla, &sla_hours],
        )
        .await?;
    let name = "tenure_request_to_fulfilment_seconds";
    out.family(
        name,
        "histogram",
        "Time from an access request to its fulfilment.",
    );
    let counts: Vec<i64> = row.get::<_, Option<Vec<i64>>>(2).unwrap_or_default();
    for (bound, count) in bounds.iter().zip(counts) {
        out.sample(
            &format!("{name}_bucket"),
            &[("le", &bound.to_string())],
            count as f64,
        );
    }
    let total = row.get::<_, i64>(0) as f64;
    out.sample(&format!("{name}_bucket"), &[("le", "+Inf")], total);
    out.sample(&format!("{name}_sum"), &[], row.get(1));
    out.sample(&format!("{name}_count"), &[], total);
    out.family(
        "tenure_request_sla_breaches",
        "gauge",
        "Access requests over the fulfilment SLA: fulfilled late, or still open past it.",
    );
    out.sample(
        "tenure_request_sla_breaches",
        &[("state", "fulfilled_late")],
        row.get::<_, i64>(3) as f64,
    );
    out.sample(
        "tenure_request_sla_breaches",
        &[("state", "open")],
        row.get::<_, i64>(4) as f64,
    );
    Ok(())
}

/// Renders every metric; see the module docs.
pub async fn render(db: &Database, sla_hours: u32) -> Result<String, QueryError> {
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

    let waiting = tenure_store::dead_letters::waiting_by_group(&**client).await?;
    out.family(
        "tenure_dead_letters",
        "gauge",
        "Records parked because they cannot be processed, waiting for an operator (tenure dead-letters list).",
    );
    for group in [tenure_kafka_groups::PROJECTOR, tenure_kafka_groups::REACTOR] {
        let count = waiting
            .iter()
            .find(|(g, _)| g == group)
            .map_or(0, |(_, n)| *n);
        out.sample("tenure_dead_letters", &[("group", group)], count as f64);
    }
    for (group, count) in waiting
        .iter()
        .filter(|(g, _)| g != tenure_kafka_groups::PROJECTOR && g != tenure_kafka_groups::REACTOR)
    {
        out.sample("tenure_dead_letters", &[("group", group)], *count as f64);
    }
    broker_health(&mut out);

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
            "escalated_other_commands",
            "Suspension, restoration and rotation commands that failed permanently or ran out of retries.",
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
            "SELECT count(*), COALESCE(sum(seconds), 0)::float8 FROM revocation_times",
            &[],
        )
        .await?;
    let buckets = client
        .query(
            "SELECT b, count(t.s) FROM unnest($1::float8[]) b
               LEFT JOIN (SELECT seconds AS s FROM revocation_times) t ON t.s <= b
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
    requests(&mut out, &client, sla_hours).await?;
    Ok(out.0)
}

/// The `/metrics` handler; with the broker's address it also reports consumer lag.
pub(crate) async fn metrics(
    State(db): State<Database>,
    bootstrap: Option<String>,
    sla_hours: u32,
) -> Result<impl IntoResponse, QueryError> {
    let mut text = render(&db, sla_hours).await?;
    let mut out = Exposition(String::new());
    batch_stats(&mut out);
    if let Some(bootstrap) = bootstrap {
        lag(&mut out, &db, &bootstrap).await?;
    }
    text.push_str(&out.0);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    ))
}
