//! Publishing with an idempotent producer: a send returns only once the broker has
//! acknowledged the message with `acks=all`.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tenure_core::LifecycleEvent;

use crate::error::KafkaAdapterError;
use crate::headers;
use crate::topics;

/// A shared, cloneable handle to one idempotent producer.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
}

/// Where an acknowledged message landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

impl Publisher {
    /// An idempotent, `acks=all` producer for `bootstrap`.
    pub fn new(bootstrap: &str) -> Result<Publisher, KafkaAdapterError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set(
                "batch.num.messages",
                crate::consumer::MAX_RECORDS_PER_BATCH.to_string(),
            )
            .set("message.timeout.ms", "30000")
            .create()?;
        Ok(Publisher { producer })
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
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| KafkaAdapterError::Kafka(e))?;
        Ok(Delivered {
            partition: delivery.partition,
            offset: delivery.offset,
        })
    }

    /// Appends a lifecycle event to the log, keyed by its identity.
    pub async fn send_event(&self, event: &LifecycleEvent) -> Result<Delivered, KafkaAdapterError> {
        let payload = tenure_proto::encode_event(event);
        self.send(
            topics::LIFECYCLE,
            &event.identity_id.to_string(),
            &payload,
            &headers::for_event(event),
        )
        .await
    }
}
