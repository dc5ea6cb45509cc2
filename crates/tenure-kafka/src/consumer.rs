//! A consumer whose offsets live in PostgreSQL, committed in the same transaction as
//! the state they produced (deploy/architecture.md).
//!
//! librdkafka runs on a dedicated OS thread, never on the async runtime: its
//! rebalance callback may block there while it reads the stored offsets, and each
//! batch is handed to the service's handler inside one PostgreSQL transaction that
//! also compare-and-sets the offsets. A stale instance (one that lost its partitions
//! in a rebalance it has not seen yet) fails the compare-and-set, rolls back, and
//! re-reads the offsets; it can never commit over a newer instance.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tenure_store::{Database, OffsetAdvance, PartitionKey, StoreError, offsets};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::error::{FailureAction, KafkaAdapterError};

/// Most records Tenure's producers put in one record batch.
///
/// tansu 0.6 answers a fetch at an offset inside a multi-record batch with the batches
/// *after* it, silently skipping the rest of that batch. So consumers resume this many
/// offsets before their stored position (which always reaches back into the batch
/// holding it) and drop what they already processed. With Apache Kafka the rewind only
/// re-reads a few records.
pub const MAX_RECORDS_PER_BATCH: usize = 500;

/// Where to fetch from to be sure to see the record at `next` (see [`MAX_RECORDS_PER_BATCH`]).
/// Against Apache Kafka the consumer resumes exactly at its stored offset.
fn fetch_from(next: Option<i64>) -> Offset {
    let rewind = match crate::flavour::current() {
        crate::BrokerKind::Tansu => MAX_RECORDS_PER_BATCH as i64,
        crate::BrokerKind::Kafka => 0,
    };
    match next {
        Some(next) => Offset::Offset((next - rewind).max(0)),
        None => Offset::Beginning,
    }
}

/// How a service consumes: which topics, as which group, in batches of what size.
#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    pub bootstrap: String,
    pub group_id: String,
    pub topics: Vec<String>,
    /// Most records handled in one transaction.
    pub max_batch: usize,
    /// How long to wait for a batch to fill once its first record arrived.
    pub linger: Duration,
    /// How long the broker may hold a fetch (`fetch.wait.max.ms`).
    pub fetch_wait: Duration,
}

impl ConsumerSettings {
    /// Larger batches: more throughput per transaction, more latency per record.
    pub fn with_batches(mut self, max_batch: usize, linger: Duration) -> Self {
        self.max_batch = max_batch;
        self.linger = linger;
        self
    }

    /// Short fetches and no lingering for a consumer on the path from a trigger to its
    /// command (the reactor): tansu holds every fetch for its whole wait, data or not,
    /// so the wait is added to every decision ([`crate::flavour::latency_fetch_wait_ms`]);
    /// under load a fetch brings many records anyway, so batches stay large.
    pub fn latency_bound(mut self) -> Self {
        self.fetch_wait = Duration::from_millis(crate::flavour::latency_fetch_wait_ms());
        self.linger = Duration::from_millis(1);
        self
    }

    /// Batches of up to 2,000 records, a 5 ms linger and the default fetch wait;
    /// [`ConsumerSettings::with_batches`] and [`ConsumerSettings::latency_bound`] tune them.
    pub fn new(bootstrap: &str, group_id: &str, topics: &[&str]) -> Self {
        ConsumerSettings {
            bootstrap: bootstrap.to_owned(),
            group_id: group_id.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            max_batch: 2000,
            linger: Duration::from_millis(5),
            fetch_wait: Duration::from_millis(crate::flavour::fetch_wait_ms()),
        }
    }
}

/// One consumed message, owned, so batches outlive librdkafka's buffers.
#[derive(Clone, Debug)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Record {
    /// This record as a dead letter parked for `error`.
    pub fn dead_letter(&self, error: String) -> tenure_store::dead_letters::DeadLetter<'_> {
        tenure_store::dead_letters::DeadLetter {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref(),
            payload: &self.payload,
            headers: &self.headers,
            error,
        }
    }

    /// The value of a header, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A service's reaction to a batch of records, run inside the transaction that will
/// also advance the offsets. Returning an error rolls everything back.
pub trait BatchHandler: Send + Sync + 'static {
    /// Handles `records` (in offset order per partition) using `txn`.
    fn handle(
        &self,
        txn: &tokio_postgres::Transaction<'_>,
        records: &[Record],
    ) -> impl Future<Output = Result<(), KafkaAdapterError>>;
}

struct FencedContext {
    db: Database,
    group: String,
    runtime: Handle,
    /// Assigned partitions and the offset stored for each when we last read or wrote it.
    assignment: Mutex<HashMap<PartitionKey, Option<i64>>>,
    /// Bumped on every rebalance, so a batch gathered across one is dropped.
    generation: AtomicU64,
    failure: Mutex<Option<StoreError>>,
    quiet: crate::quiet::QuietContext,
}

impl FencedContext {
    fn load_stored(&self, keys: &[PartitionKey]) -> Result<HashMap<PartitionKey, i64>, StoreError> {
        self.runtime.block_on(async {
            let client = self.db.client().await?;
            let client: &tokio_postgres::Client = &client;
            offsets::load(client, &self.group, keys).await
        })
    }
}

impl ClientContext for FencedContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.quiet.log(level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.quiet.error(error, reason);
    }
}

impl ConsumerContext for FencedContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut assignment = self.assignment.lock().unwrap_or_else(|p| p.into_inner());
        assignment.clear();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let keys: Vec<PartitionKey> = tpl
                    .elements()
                    .iter()
                    .map(|e| PartitionKey {
                        topic: e.topic().to_owned(),
                        partition: e.partition(),
                    })
                    .collect();
                match self.load_stored(&keys) {
                    Ok(stored) => {
                        for key in keys {
                            let next = stored.get(&key).copied();
                            if let Err(e) = tpl.set_partition_offset(
                                &key.topic,
                                key.partition,
                                fetch_from(next),
                            ) {
                                error!(error = %e, "could not set partition offset");
                            }
                            assignment.insert(key, next);
                        }
                        info!(group = %self.group, partitions = ?assignment, "partitions assigned at stored offsets");
                        crate::membership::assigned(&self.group, assignment.len());
                        if let Err(e) = consumer.assign(tpl) {
                            error!(error = %e, "assign failed; stopping so a restart can rejoin");
                            *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(
                                StoreError::Corrupt(format!("partition assignment failed: {e}")),
                            );
                        }
                    }
                    Err(e) => {
                        error!(error = %e, "could not read stored offsets; taking no partitions");
                        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        let _ = consumer.assign(&TopicPartitionList::new());
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!(group = %self.group, "partitions revoked");
                crate::membership::revoked(&self.group);
                let _ = consumer.unassign();
            }
            other => {
                error!(group = %self.group, error = ?other, "rebalance error");
                let _ = consumer.unassign();
            }
        }
    }
}

/// Consumes until `shutdown` turns true, handing batches to `handler`. Returns an
/// error only for failures that a restart (not a retry) must fix.
pub async fn run_consumer<H: BatchHandler>(
    settings: ConsumerSettings,
    db: Database,
    handler: H,
    shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    let runtime = Handle::current();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let name = format!("consumer-{}", settings.group_id);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let group = settings.group_id.clone();
            crate::membership::starting(&group);
            let result = consume_loop(settings, db, handler, shutdown, runtime);
            crate::membership::stopped(&group);
            let _ = done_tx.send(result);
        })
        .map_err(|e| KafkaAdapterError::Handler(Box::new(e)))?;
    done_rx.await.unwrap_or_else(|_| {
        Err(KafkaAdapterError::Handler(
            "consumer thread panicked".into(),
        ))
    })
}

fn to_record(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .filter_map(|h| {
                    Some((h.key.to_owned(), String::from_utf8(h.value?.to_vec()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
    }
}

fn consume_loop<H: BatchHandler>(
    settings: ConsumerSettings,
    db: Database,
    handler: H,
    shutdown: watch::Receiver<bool>,
    runtime: Handle,
) -> Result<(), KafkaAdapterError> {
    let context = FencedContext {
        db: db.clone(),
        group: settings.group_id.clone(),
        runtime: runtime.clone(),
        assignment: Mutex::new(HashMap::new()),
        generation: AtomicU64::new(0),
        failure: Mutex::new(None),
        quiet: Default::default(),
    };
    let mut config = crate::client_config(&settings.bootstrap);
    if settings.topics.iter().any(|t| t.starts_with('^')) {
        // A pattern subscription finds topics created later (a new system's outcome
        // topic) only when librdkafka refreshes its metadata: every few seconds, not
        // the default five minutes.
        config.set("topic.metadata.refresh.interval.ms", "3000");
    }
    let consumer: BaseConsumer<FencedContext> = config
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .set("partition.assignment.strategy", "range")
        // Do not let the broker hold a fetch for long (shorter still on the reactor's path).
        .set(
            "fetch.wait.max.ms",
            settings.fetch_wait.as_millis().to_string(),
        )
        // Bound what librdkafka prefetches (64 MiB by default), so a consumer's memory
        // does not grow with how much of the log is still ahead of it.
        .set("queued.max.messages.kbytes", "16384")
        .set(
            "max.partition.fetch.bytes",
            crate::flavour::max_partition_fetch_bytes().to_string(),
        )
        .create_with_context(context)?;
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;

    let mut polled: Vec<Record> = Vec::with_capacity(settings.max_batch);
    let mut failures: u32 = 0;
    let mut idle = IdleWatch::new(&settings.group_id);
    while !*shutdown.borrow() {
        if let Some(e) = consumer
            .context()
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(e.into());
        }
        let owned = consumer
            .context()
            .assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        idle.observe(owned);
        let generation = consumer.context().generation.load(Ordering::SeqCst);
        polled.clear();
        let mut deadline: Option<Instant> = None;
        while polled.len() < settings.max_batch {
            let timeout = match deadline {
                None => Duration::from_millis(100),
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            match consumer.poll(timeout) {
                Some(Ok(message)) => {
                    polled.push(to_record(&message));
                    deadline.get_or_insert_with(|| Instant::now() + settings.linger);
                }
                Some(Err(e)) => {
                    // Repeated while a broker is down: once per kind per half minute.
                    let text = e.to_string();
                    if let Some(suppressed) = consumer.context().quiet.admit(&text) {
                        warn!(error = %text, suppressed, "consumer error");
                    }
                    break;
                }
                None => break,
            }
        }
        if polled.is_empty() {
            continue;
        }
        if consumer.context().generation.load(Ordering::SeqCst) != generation {
            debug!("rebalance while gathering a batch; its partitions restart from stored offsets");
            continue;
        }
        let assignment = consumer
            .context()
            .assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Keep only records of partitions we own, each offset once, at or after the
        // stored position (the rewind of `fetch_from` re-reads processed records).
        let mut next_wanted: HashMap<PartitionKey, i64> = HashMap::new();
        let mut dropped = 0usize;
        let records: Vec<Record> = polled
            .drain(..)
            .filter(|r| {
                let key = PartitionKey {
                    topic: r.topic.clone(),
                    partition: r.partition,
                };
                let Some(stored) = assignment.get(&key) else {
                    dropped += 1;
                    return false;
                };
                let wanted = next_wanted.entry(key).or_insert(stored.unwrap_or(0));
                if r.offset < *wanted {
                    dropped += 1;
                    return false;
                }
                *wanted = r.offset + 1;
                true
            })
            .collect();
        if dropped > 0 {
            debug!(
                dropped,
                "records before the stored position or of unowned partitions skipped"
            );
        }
        if records.is_empty() {
            continue;
        }
        // One transaction per partition, run side by side: partitions hold disjoint
        // identities, and each advances only its own offsets, so they cannot conflict.
        let batches = split_by_partition(records, &assignment);
        let results = runtime.block_on(futures::future::join_all(batches.iter().map(
            |(advance, part)| handle_partition(&db, &settings.group_id, &handler, part, advance),
        )));
        let mut retry = false;
        for ((advance, _), result) in batches.iter().zip(results) {
            match result {
                Ok(next) => {
                    let mut assignment = consumer
                        .context()
                        .assignment
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if let Some(stored) = assignment.get_mut(&advance.partition) {
                        *stored = Some(next);
                    }
                }
                Err(e) if e.action() == FailureAction::Stop => return Err(e),
                Err(e @ KafkaAdapterError::Store(StoreError::Fenced { .. })) => {
                    warn!(error = %e, "batch rolled back: another instance owns these offsets");
                    retry = true;
                }
                Err(e) => {
                    if failures == 0 {
                        warn!(error = %e, "batch rolled back; retrying from stored offsets with backoff");
                    } else {
                        debug!(error = %e, failures, "batch rolled back again");
                    }
                    retry = true;
                }
            }
        }
        if retry {
            failures = failures.saturating_add(1);
            reposition_until_done(&consumer, &shutdown, backoff(failures));
        } else if failures > 0 {
            info!(group = %settings.group_id, failures, "batches commit again");
            failures = 0;
        }
    }
    info!(group = %settings.group_id, "consumer stopping");
    consumer.unsubscribe();
    Ok(())
}

/// Warns while a consumer holds no partitions: after a crash the group may still
/// count the dead member until its session expires, and an operator must be able to
/// see a consumer that is subscribed but idle rather than find out from the lag.
struct IdleWatch<'a> {
    group: &'a str,
    since: Option<Instant>,
    warned: Option<Instant>,
}

impl<'a> IdleWatch<'a> {
    /// How long a consumer may hold nothing before it is reported.
    const GRACE: Duration = Duration::from_secs(10);
    /// How often the report repeats while it lasts.
    const REPEAT: Duration = Duration::from_secs(60);

    fn new(group: &'a str) -> Self {
        IdleWatch {
            group,
            since: Some(Instant::now()),
            warned: None,
        }
    }

    fn observe(&mut self, owned: usize) {
        if owned > 0 {
            if let (Some(since), Some(_)) = (self.since, self.warned) {
                info!(group = self.group, partitions = owned, after = ?since.elapsed(),
                      "consumer holds partitions again");
            }
            self.since = None;
            self.warned = None;
            return;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        let due = match self.warned {
            None => since.elapsed() >= Self::GRACE,
            Some(at) => at.elapsed() >= Self::REPEAT,
        };
        if due {
            warn!(group = self.group, idle_for = ?since.elapsed(),
                  "consumer holds no partitions: another member owns them all, or the group \
                   still waits for a crashed member's session to expire");
            self.warned = Some(Instant::now());
        }
    }
}

/// How long to wait before the `failures`-th retry in a row: 250 ms doubling to 10 s.
fn backoff(failures: u32) -> Duration {
    (Duration::from_millis(250) * 2u32.saturating_pow(failures.saturating_sub(1).min(6)))
        .min(Duration::from_secs(10))
}

/// Moves `records` (each partition's in offset order) into one batch per partition,
/// with the offset advance that committing it makes.
fn split_by_partition(
    records: Vec<Record>,
    assignment: &HashMap<PartitionKey, Option<i64>>,
) -> Vec<(OffsetAdvance, Vec<Record>)> {
    let mut by_partition: BTreeMap<PartitionKey, Vec<Record>> = BTreeMap::new();
    for r in records {
        let key = PartitionKey {
            topic: r.topic.clone(),
            partition: r.partition,
        };
        by_partition.entry(key).or_default().push(r);
    }
    by_partition
        .into_iter()
        .map(|(key, part)| {
            let expected = assignment.get(&key).copied().flatten();
            (advance_over(key, expected, &part), part)
        })
        .collect()
}

/// The advance that handling `records` (one partition's, in order) makes from `expected`.
fn advance_over(
    partition: PartitionKey,
    expected: Option<i64>,
    records: &[Record],
) -> OffsetAdvance {
    OffsetAdvance {
        partition,
        expected,
        next: records.iter().map(|r| r.offset).max().unwrap_or(-1) + 1,
        messages: records.len() as i64,
    }
}

/// Handles one partition's batch and returns the next offset to consume. A batch that
/// fails for a reason retrying cannot fix is bisected: the halves that succeed commit,
/// and each record that fails on its own is parked in the dead letters with its reason
/// (in the same transaction that moves the offset past it), so one poison record
/// neither blocks its partition nor takes its neighbours with it. Transient failures
/// are returned for the caller to retry.
async fn handle_partition<H: BatchHandler>(
    db: &Database,
    group: &str,
    handler: &H,
    records: &[Record],
    advance: &OffsetAdvance,
) -> Result<i64, KafkaAdapterError> {
    let first = match commit_partition(db, group, handler, records, advance).await {
        Ok(()) => return Ok(advance.next),
        Err(e) if e.action() == FailureAction::Park => e,
        Err(e) => return Err(e),
    };
    warn!(group, topic = %advance.partition.topic, partition = advance.partition.partition,
          records = records.len(), error = %first,
          "batch failed for a reason retrying cannot fix; isolating the record(s) that cause it");
    let mut expected = advance.expected;
    let mut pending: Vec<(&[Record], Option<KafkaAdapterError>)> = vec![(records, Some(first))];
    while let Some((chunk, known)) = pending.pop() {
        let step = advance_over(advance.partition.clone(), expected, chunk);
        let error = match known {
            Some(e) => e,
            None => match commit_partition(db, group, handler, chunk, &step).await {
                Ok(()) => {
                    expected = Some(step.next);
                    continue;
                }
                Err(e) if e.action() == FailureAction::Park => e,
                Err(e) => return Err(e),
            },
        };
        if let [record] = chunk {
            park_record(db, group, record, &error, &step).await?;
            expected = Some(step.next);
        } else {
            let (front, back) = chunk.split_at(chunk.len() / 2);
            pending.push((back, None));
            pending.push((front, None));
        }
    }
    Ok(advance.next)
}

/// Parks `record` with `error` and moves the stored offset past it, in one transaction.
async fn park_record(
    db: &Database,
    group: &str,
    record: &Record,
    error: &KafkaAdapterError,
    advance: &OffsetAdvance,
) -> Result<(), KafkaAdapterError> {
    let mut client = db.client().await?;
    let txn = client.transaction().await.map_err(StoreError::from)?;
    tenure_store::dead_letters::park(&*txn, group, &record.dead_letter(error.to_string())).await?;
    offsets::advance(&*txn, group, std::slice::from_ref(advance)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}

async fn commit_partition<H: BatchHandler>(
    db: &Database,
    group: &str,
    handler: &H,
    records: &[Record],
    advance: &OffsetAdvance,
) -> Result<(), KafkaAdapterError> {
    let started = Instant::now();
    let mut client = db.client().await.map_err(KafkaAdapterError::Store)?;
    let txn = client.transaction().await.map_err(StoreError::from)?;
    // A panic on some record is that record's fault, like any other rule error.
    AssertUnwindSafe(handler.handle(&txn, records))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(KafkaAdapterError::Handler(
                format!("handler panicked: {message}").into(),
            ))
        })?;
    offsets::advance(&*txn, group, std::slice::from_ref(advance)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    crate::stats::record_batch(group, records.len(), started.elapsed());
    Ok(())
}

/// Repositions at the stored offsets, retrying while PostgreSQL is unreachable (a
/// database outage pauses consumption instead of stopping the service).
fn reposition_until_done(
    consumer: &BaseConsumer<FencedContext>,
    shutdown: &watch::Receiver<bool>,
    first_wait: Duration,
) {
    let mut wait = first_wait;
    loop {
        std::thread::sleep(wait);
        match reposition(consumer) {
            Ok(()) => return,
            Err(e) if !*shutdown.borrow() => {
                warn!(error = %e, "cannot reposition yet; retrying");
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(_) => return,
        }
    }
}

/// Re-reads the stored offsets of the current assignment and seeks to them, so the
/// next batch starts exactly after what PostgreSQL holds.
fn reposition(consumer: &BaseConsumer<FencedContext>) -> Result<(), KafkaAdapterError> {
    let context = consumer.context();
    let keys: Vec<PartitionKey> = context
        .assignment
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .cloned()
        .collect();
    let stored = context.load_stored(&keys)?;
    let mut assignment = context.assignment.lock().unwrap_or_else(|p| p.into_inner());
    for key in keys {
        let next = stored.get(&key).copied();
        consumer.seek(
            &key.topic,
            key.partition,
            fetch_from(next),
            Duration::from_secs(10),
        )?;
        assignment.insert(key, next);
    }
    Ok(())
}
