//! `/metrics`: pipeline health and governance quality in Prometheus text format.
//!
//! Every figure is read from PostgreSQL, so any instance answers for the whole system
//! and a restart loses no counter. Reading them takes seconds on a large history, so
//! a scrape is answered from a snapshot that one background refresh at a time keeps
//! at most `refresh_every` old ([`MetricsCache`]); this process's own figures (batch
//! statistics, the embedded broker) are read at every scrape.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use chrono::Utc;
use tenure_store::Database;

use crate::api::{QueryError, governance_counters};
use crate::sql;

/// Upper bounds (seconds) of the time-to-revoke histogram: from the trigger taking
/// effect to the connector's acknowledgement.
const TIME_TO_REVOKE_BUCKETS: [f64; 10] = [
    1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 604800.0,
];

/// One metric family being written.
pub(crate) struct Exposition(pub(crate) String);

impl Exposition {
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
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

    pub(crate) fn gauge(&mut self, name: &str, help: &str, value: f64) {
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
    let offsets = consumer_offsets_on(&client, tenure_kafka::topics::LIFECYCLE).await?;
    out.family(
        "tenure_consumer_lag",
        "gauge",
        "Records of the lifecycle log a consumer group has not processed, per partition.",
    );
    for (group, partition, next) in offsets {
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
    let stats = request_fulfilment(client, &bounds, sla, sla_hours).await?;
    let name = "tenure_request_to_fulfilment_seconds";
    out.family(
        name,
        "histogram",
        "Time from an access request to its fulfilment.",
    );
    for (bound, count) in bounds.iter().zip(stats.cumulative) {
        out.sample(
            &format!("{name}_bucket"),
            &[("le", &bound.to_string())],
            count as f64,
        );
    }
    let total = stats.fulfilled as f64;
    out.sample(&format!("{name}_bucket"), &[("le", "+Inf")], total);
    out.sample(&format!("{name}_sum"), &[], stats.seconds);
    out.sample(&format!("{name}_count"), &[], total);
    out.family(
        "tenure_request_sla_breaches",
        "gauge",
        "Access requests over the fulfilment SLA: fulfilled late, or still open past it.",
    );
    out.sample(
        "tenure_request_sla_breaches",
        &[("state", "fulfilled_late")],
        stats.fulfilled_late as f64,
    );
    out.sample(
        "tenure_request_sla_breaches",
        &[("state", "open")],
        stats.open_late as f64,
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
    for (source, kind, count) in events_by_source_and_type(&client).await? {
        out.sample(
            "tenure_events_total",
            &[("source", &source), ("type", &kind)],
            count as f64,
        );
    }

    out.family(
        "tenure_consumer_records_processed_total",
        "counter",
        "Records each consumer group has processed, per partition.",
    );
    let positions = consumer_positions(&client).await?;
    for p in &positions {
        out.sample(
            "tenure_consumer_records_processed_total",
            &[
                ("group", &p.group),
                ("topic", &p.topic),
                ("partition", &p.partition.to_string()),
            ],
            p.processed as f64,
        );
    }
    out.family(
        "tenure_consumer_next_offset",
        "gauge",
        "The next offset each consumer group will read, per partition (lag is the log end minus this).",
    );
    for p in &positions {
        out.sample(
            "tenure_consumer_next_offset",
            &[
                ("group", &p.group),
                ("topic", &p.topic),
                ("partition", &p.partition.to_string()),
            ],
            p.next_offset as f64,
        );
    }

    out.family(
        "tenure_reconciliation_findings_total",
        "counter",
        "Reconciliation's findings, by system and kind (out_of_band, not_removed, missing).",
    );
    for row in client
        .query(sql::COUNT_RECONCILIATION_FINDINGS, &[])
        .await?
    {
        let (system, kind): (String, String) = (row.get(0), row.get(1));
        out.sample(
            "tenure_reconciliation_findings_total",
            &[("system", &system), ("kind", &kind)],
            row.get::<_, i64>(2) as f64,
        );
    }

    let (waiting_to_publish, held) = outbox_depth(&client).await?;
    out.gauge(
        "tenure_outbox_depth",
        "Decided facts and commands not yet published.",
        waiting_to_publish as f64,
    );
    out.gauge(
        "tenure_revocations_held",
        "Revocations held by the safety brake, waiting for an operator.",
        held as f64,
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
        (
            "reconciliation_not_removed",
            "Times reconciliation found access still in its target after its revocation was confirmed.",
        ),
        (
            "reconciliation_out_of_band",
            "Times reconciliation found access in a target that Tenure never granted.",
        ),
    ];
    for (name, text) in help {
        let value = counters.get(name).and_then(|v| v.as_i64()).unwrap_or(0);
        out.gauge(&format!("tenure_{name}"), text, value as f64);
    }
    let suspended = suspended_active_grants(&client).await?;
    out.gauge(
        "tenure_suspended_grants",
        "Grants suspended for a leave of absence.",
        suspended as f64,
    );

    let le: Vec<f64> = TIME_TO_REVOKE_BUCKETS.to_vec();
    let (count, seconds) = revocation_time_totals(&client).await?;
    let buckets = revocation_time_buckets(&client, &le).await?;
    let name = "tenure_time_to_revoke_seconds";
    out.family(
        name,
        "histogram",
        "Time from a revocation's trigger to its connector's acknowledgement.",
    );
    for (bound, within) in buckets {
        out.sample(
            &format!("{name}_bucket"),
            &[("le", &bound.to_string())],
            within as f64,
        );
    }
    let count = count as f64;
    out.sample(&format!("{name}_bucket"), &[("le", "+Inf")], count);
    out.sample(&format!("{name}_sum"), &[], seconds);
    out.sample(&format!("{name}_count"), &[], count);
    requests(&mut out, &client, sla_hours).await?;
    Ok(out.0)
}

/// The figures read from PostgreSQL and the broker, when they were read.
#[derive(Clone)]
struct Snapshot {
    at: std::time::Instant,
    text: std::sync::Arc<String>,
}

/// Scrapes answered from a snapshot of the system-wide figures: many scrapers, or a
/// history too long to read within a scrape timeout, cost one refresh at a time, and
/// a scrape never waits on the broker. `refresh_every` zero reads afresh at every
/// scrape (still one read at a time, shared by the scrapes that wait on it).
pub struct MetricsCache {
    db: Database,
    bootstrap: Option<String>,
    sla_hours: u32,
    refresh_every: std::time::Duration,
    snapshot: std::sync::RwLock<Option<Snapshot>>,
    refreshing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Times the figures were read (`tenure_metrics_refreshes_total`).
    refreshes: std::sync::atomic::AtomicU64,
}

/// How long the first scrape waits for the first snapshot before answering 503.
const FIRST_SNAPSHOT_BOUND: std::time::Duration = std::time::Duration::from_secs(20);

impl MetricsCache {
    /// A cache over `db` (and the broker at `bootstrap`, for consumer lag).
    pub fn new(
        db: Database,
        bootstrap: Option<String>,
        sla_hours: u32,
        refresh_every: std::time::Duration,
    ) -> std::sync::Arc<MetricsCache> {
        std::sync::Arc::new(MetricsCache {
            db,
            bootstrap,
            sla_hours,
            refresh_every,
            snapshot: std::sync::RwLock::new(None),
            refreshing: Default::default(),
            refreshes: Default::default(),
        })
    }

    fn current(&self) -> Option<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the figures afresh and keeps them.
    async fn refresh(&self) -> Result<Snapshot, QueryError> {
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut text = render(&self.db, self.sla_hours).await?;
        if let Some(bootstrap) = &self.bootstrap {
            let mut out = Exposition(String::new());
            lag(&mut out, &self.db, bootstrap).await?;
            text.push_str(&out.0);
        }
        let snapshot = Snapshot {
            at: std::time::Instant::now(),
            text: std::sync::Arc::new(text),
        };
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// A snapshot no older than `refresh_every`, read by this call or by the one it
    /// waited for.
    async fn fresh(&self) -> Result<Snapshot, QueryError> {
        let asked = std::time::Instant::now();
        let _one_at_a_time = self.refreshing.lock().await;
        match self.current() {
            Some(s) if s.at >= asked || s.at.elapsed() < self.refresh_every => Ok(s),
            _ => self.refresh().await,
        }
    }

    /// The snapshot to answer with now: the current one (refreshed in the background
    /// once it is older than `refresh_every`), or, before the first, a fresh one.
    async fn for_scrape(self: &std::sync::Arc<Self>) -> Result<Snapshot, QueryError> {
        let current = match self.current() {
            Some(s) if !self.refresh_every.is_zero() => s,
            _ => {
                return tokio::time::timeout(FIRST_SNAPSHOT_BOUND, self.fresh())
                    .await
                    .map_err(|_| {
                        QueryError::unavailable(
                            "the figures are still being read for the first time; retry",
                        )
                    })?;
            }
        };
        if current.at.elapsed() >= self.refresh_every
            && let Ok(guard) = self.refreshing.clone().try_lock_owned()
        {
            let cache = std::sync::Arc::clone(self);
            tokio::spawn(async move {
                let _one_at_a_time = guard;
                if let Err(e) = cache.refresh().await {
                    tracing::warn!(error = ?e, "metrics: the figures could not be refreshed; the previous ones are served");
                }
            });
        }
        Ok(current)
    }
}

/// The `/metrics` handler: the snapshot, its age, and this process's own figures.
pub(crate) async fn metrics(
    State(cache): State<std::sync::Arc<MetricsCache>>,
) -> Result<impl IntoResponse, QueryError> {
    let snapshot = cache.for_scrape().await?;
    let mut out = Exposition(String::with_capacity(snapshot.text.len() + 4096));
    out.0.push_str(&snapshot.text);
    out.gauge(
        "tenure_metrics_snapshot_age_seconds",
        "How old the system-wide figures of this answer are (they are refreshed in the background).",
        snapshot.at.elapsed().as_secs_f64(),
    );
    out.family(
        "tenure_metrics_refreshes_total",
        "counter",
        "Times this process read the system-wide figures from PostgreSQL and the broker.",
    );
    out.sample(
        "tenure_metrics_refreshes_total",
        &[],
        cache.refreshes.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    broker_health(&mut out);
    batch_stats(&mut out);
    crate::process::write(&mut out);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out.0,
    ))
}

// The reads behind the metrics (the repository): one typed function per statement of
// `sql/metrics/`.

/// Each consumer group's next offset on `topic`: (group, partition, next offset).
async fn consumer_offsets_on(
    client: &tokio_postgres::Client,
    topic: &str,
) -> Result<Vec<(String, i32, i64)>, QueryError> {
    let rows = client
        .query(sql::CONSUMER_OFFSETS_ON_TOPIC, &[&topic])
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Request-to-fulfilment times of ITSM access requests and their SLA breaches.
struct RequestFulfilment {
    /// Requests fulfilled.
    fulfilled: i64,
    /// Their summed time to fulfilment, in seconds.
    seconds: f64,
    /// Requests fulfilled within each histogram bound, in the bounds' order.
    cumulative: Vec<i64>,
    /// Requests fulfilled after the SLA.
    fulfilled_late: i64,
    /// Requests still open (neither fulfilled nor closed) past the SLA.
    open_late: i64,
}

/// The request-to-fulfilment figures over histogram `bounds` (seconds) and an SLA given
/// both in seconds and in hours.
async fn request_fulfilment(
    client: &tokio_postgres::Client,
    bounds: &[f64],
    sla_seconds: f64,
    sla_hours: i32,
) -> Result<RequestFulfilment, QueryError> {
    let row = client
        .query_one(
            sql::REQUEST_FULFILMENT_STATS,
            &[&bounds, &sla_seconds, &sla_hours],
        )
        .await?;
    Ok(RequestFulfilment {
        fulfilled: row.get(0),
        seconds: row.get(1),
        cumulative: row.get::<_, Option<Vec<i64>>>(2).unwrap_or_default(),
        fulfilled_late: row.get(3),
        open_late: row.get(4),
    })
}

/// Projected events per (source system, event type), sorted.
async fn events_by_source_and_type(
    client: &tokio_postgres::Client,
) -> Result<Vec<(String, String, i64)>, QueryError> {
    let rows = client.query(sql::EVENTS_BY_SOURCE_AND_TYPE, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Where one consumer group stands on one partition of a topic.
struct ConsumerPosition {
    group: String,
    topic: String,
    partition: i32,
    /// Records processed so far.
    processed: i64,
    /// The next offset the group will read.
    next_offset: i64,
}

/// Every consumer group's position, sorted by group, topic and partition.
async fn consumer_positions(
    client: &tokio_postgres::Client,
) -> Result<Vec<ConsumerPosition>, QueryError> {
    let rows = client.query(sql::CONSUMER_POSITIONS, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| ConsumerPosition {
            group: r.get(0),
            topic: r.get(1),
            partition: r.get(2),
            processed: r.get(3),
            next_offset: r.get(4),
        })
        .collect())
}

/// Unpublished outbox entries: (waiting to be published, held by the safety brake).
async fn outbox_depth(client: &tokio_postgres::Client) -> Result<(i64, i64), QueryError> {
    let row = client.query_one(sql::OUTBOX_DEPTH, &[]).await?;
    Ok((row.get(0), row.get(1)))
}

/// Active grants suspended for a leave of absence.
async fn suspended_active_grants(client: &tokio_postgres::Client) -> Result<i64, QueryError> {
    Ok(client
        .query_one(sql::SUSPENDED_ACTIVE_GRANTS, &[])
        .await?
        .get(0))
}

/// Acknowledged revocations: (count, summed seconds to revoke).
async fn revocation_time_totals(client: &tokio_postgres::Client) -> Result<(i64, f64), QueryError> {
    let row = client.query_one(sql::REVOCATION_TIME_TOTALS, &[]).await?;
    Ok((row.get(0), row.get(1)))
}

/// For each upper bound (seconds), how many revocations were acknowledged within it.
async fn revocation_time_buckets(
    client: &tokio_postgres::Client,
    bounds: &[f64],
) -> Result<Vec<(f64, i64)>, QueryError> {
    let rows = client
        .query(sql::REVOCATION_TIME_BUCKETS, &[&bounds])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    async fn database(name: &str) -> Database {
        let server = std::env::var("TENURE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let url = format!("{server}/{name}");
        Database::drop_database(&url).await.expect("PostgreSQL");
        Database::connect(&url).await.expect("PostgreSQL")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_scrapes_share_one_read_and_later_ones_get_the_snapshot() {
        let db = database("tenure_test_metrics_cache").await;
        let cache = MetricsCache::new(db.clone(), None, 24, Duration::from_secs(3600));
        // Eight scrapers at once on a cold cache: one read of the figures.
        let scrapes: Vec<_> = (0..8)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.for_scrape().await.map(|s| s.at) })
            })
            .collect();
        let mut seen = Vec::new();
        for scrape in scrapes {
            seen.push(scrape.await.unwrap().unwrap());
        }
        assert_eq!(cache.refreshes.load(Ordering::Relaxed), 1);
        assert!(seen.iter().all(|at| *at == seen[0]));
        // A later scrape within the refresh interval is the same snapshot.
        let later = cache.for_scrape().await.unwrap();
        assert_eq!(later.at, seen[0]);
        assert_eq!(cache.refreshes.load(Ordering::Relaxed), 1);
        assert!(later.text.contains("tenure_events_total"), "{}", later.text);

        // Refreshing at every scrape: each sequential scrape reads afresh.
        let eager = MetricsCache::new(db, None, 24, Duration::ZERO);
        let first = eager.for_scrape().await.unwrap();
        let second = eager.for_scrape().await.unwrap();
        assert!(second.at > first.at);
        assert_eq!(eager.refreshes.load(Ordering::Relaxed), 2);
    }
}
