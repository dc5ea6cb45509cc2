//! Publishing: a send returns only once the broker has acknowledged the message with
//! `acks=all`, or fails within the publisher's delivery bound. Against Apache Kafka the
//! producer is idempotent; against tansu it is not (see [`crate::flavour`]), which the
//! deterministic ids of every event and command make harmless.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tenure_core::LifecycleEvent;
use tracing::{info, warn};

use crate::error::KafkaAdapterError;
use crate::headers;
use crate::topics;

/// A shared, cloneable handle to one producer (idempotent against Apache Kafka).
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer<crate::quiet::QuietContext>,
    /// Whether the last send failed: an outage is logged once when it starts and
    /// once when it ends, not once per request.
    failing: Arc<AtomicBool>,
    /// Raised by librdkafka's error callback when no broker connection is up.
    all_brokers_down: Arc<AtomicBool>,
    /// When the broker last acknowledged a message (milliseconds since `epoch`).
    last_delivery_ms: Arc<AtomicU64>,
    epoch: Instant,
    bootstrap: Arc<str>,
}

/// How long librdkafka keeps retrying one message before it reports a failure.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an acknowledged message landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

impl Publisher {
    /// An `acks=all` producer for `bootstrap` that keeps retrying a message for up to
    /// 30 seconds; a caller who must answer sooner uses [`Publisher::send_events_within`].
    pub fn new(bootstrap: &str) -> Result<Publisher, KafkaAdapterError> {
        Publisher::lingering(bootstrap, 2)
    }

    /// A producer of its own for the path from a decision to its command (the relay,
    /// the scheduler): it sends at once instead of lingering for a batch, and does not
    /// queue behind ingest's requests (against tansu a connection carries one request
    /// at a time).
    pub fn latency_bound(bootstrap: &str) -> Result<Publisher, KafkaAdapterError> {
        Publisher::lingering(bootstrap, 0)
    }

    fn lingering(bootstrap: &str, linger_ms: u32) -> Result<Publisher, KafkaAdapterError> {
        let timeout = DELIVERY_TIMEOUT;
        // The operator's pass-through properties first; Tenure's delivery settings win.
        let mut config = crate::client_config(bootstrap);
        config
            .set("acks", "all")
            .set("linger.ms", linger_ms.to_string())
            .set(
                "batch.num.messages",
                crate::consumer::MAX_RECORDS_PER_BATCH.to_string(),
            )
            .set("message.timeout.ms", timeout.as_millis().to_string())
            .set(
                "request.timeout.ms",
                timeout.as_millis().min(30_000).to_string(),
            )
            // Reconnect attempts every second at most: a dead broker is not hammered.
            .set("reconnect.backoff.max.ms", "1000");
        match crate::flavour::current() {
            crate::BrokerKind::Kafka => {
                config.set("enable.idempotence", "true");
            }
            crate::BrokerKind::Tansu => {
                config
                    .set("enable.idempotence", "false")
                    .set("max.in.flight.requests.per.connection", "1");
            }
        }
        let context = crate::quiet::QuietContext::default();
        let all_brokers_down = context.all_brokers_down.clone();
        let producer = config.create_with_context(context)?;
        Ok(Publisher {
            producer,
            failing: Arc::default(),
            all_brokers_down,
            last_delivery_ms: Arc::default(),
            epoch: Instant::now(),
            bootstrap: bootstrap.into(),
        })
    }

    /// Appends `events` to the log and returns where each landed, in order. Past
    /// `bound`, it waits on only while the broker is reachable and still acknowledging
    /// (a large batch on a busy broker) and gives up on one that is gone or silent
    /// with [`KafkaAdapterError::Unavailable`]. What was sent may still land after a
    /// give-up: a resend is recognised by its event ids.
    pub async fn send_events_within(
        &self,
        events: &[LifecycleEvent],
        bound: Duration,
    ) -> Result<Vec<Delivered>, KafkaAdapterError> {
        // The trace of the request in hand (ingest), if any, travels with each event.
        let trace = crate::trace::current();
        let sends = futures::future::join_all(events.iter().map(|e| self.send_traced(e, trace)));
        tokio::pin!(sends);
        let mut waited = tokio::time::timeout(bound, &mut sends).await;
        while waited.is_err() {
            if !(self.is_reachable() && self.delivered_within(bound)) {
                return Err(KafkaAdapterError::Unavailable(format!(
                    "the event log did not acknowledge within {bound:?} and is not acknowledging anything"
                )));
            }
            waited = tokio::time::timeout(Duration::from_millis(250), &mut sends).await;
        }
        waited.unwrap_or_default().into_iter().collect()
    }

    /// Whether the broker acknowledged any message of this publisher within `window`.
    fn delivered_within(&self, window: Duration) -> bool {
        let last = self.last_delivery_ms.load(Ordering::SeqCst);
        let now = self.epoch.elapsed().as_millis() as u64;
        last > 0 && now.saturating_sub(last) <= window.as_millis() as u64
    }

    /// Whether the broker looks reachable: the last send succeeded, librdkafka has a
    /// connection, and the embedded broker (if this process runs one) is up. A caller
    /// with a deadline gives up early on an unreachable broker, and waits out a slow one.
    fn is_reachable(&self) -> bool {
        !self.failing.load(Ordering::SeqCst)
            && !self.all_brokers_down.load(Ordering::SeqCst)
            && crate::broker::embedded_health().is_none_or(|h| h.up)
    }

    /// The bootstrap servers this publisher talks to (for creating topics on demand).
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Sends one message and waits for the broker's acknowledgement.
    pub async fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: &[(String, String)],
    ) -> Result<Delivered, KafkaAdapterError> {
        let mut kafka_headers = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            kafka_headers = kafka_headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(payload)
            .headers(kafka_headers);
        let delivery = match self.producer.send(record, DELIVERY_TIMEOUT).await {
            Ok(delivery) => {
                self.all_brokers_down.store(false, Ordering::SeqCst);
                self.last_delivery_ms.store(
                    (self.epoch.elapsed().as_millis() as u64).max(1),
                    Ordering::SeqCst,
                );
                if self.failing.swap(false, Ordering::SeqCst) {
                    info!("the broker acknowledges messages again");
                }
                delivery
            }
            Err((e, _)) => {
                if !self.failing.swap(true, Ordering::SeqCst) {
                    warn!(error = %e, bound = ?DELIVERY_TIMEOUT,
                          "the broker does not acknowledge; failing sends until it does");
                }
                return Err(KafkaAdapterError::Kafka(e));
            }
        };
        Ok(Delivered {
            partition: delivery.partition,
            offset: delivery.offset,
        })
    }

    /// Appends a lifecycle event to the log, keyed by its identity.
    pub async fn send_event(&self, event: &LifecycleEvent) -> Result<Delivered, KafkaAdapterError> {
        self.send_traced(event, None).await
    }

    /// Appends a lifecycle event to the log with the trace context that caused it.
    async fn send_traced(
        &self,
        event: &LifecycleEvent,
        trace: Option<crate::trace::TraceContext>,
    ) -> Result<Delivered, KafkaAdapterError> {
        let payload = tenure_proto::encode_event(event);
        let mut headers = headers::for_event(event);
        if let Some(trace) = trace {
            // Produced within the request's span: the event's consumers hang under it.
            headers.push((crate::trace::TRACEPARENT.to_owned(), trace.header()));
        }
        self.send(
            topics::LIFECYCLE,
            &event.identity_id.to_string(),
            &payload,
            &headers,
        )
        .await
    }
}
