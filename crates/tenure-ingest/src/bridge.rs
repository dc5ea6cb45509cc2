//! Sources that publish to Kafka: JSON on `tenure.hr.raw` and `tenure.itsm.raw` (the
//! HTTP shapes) and connector outcomes on `tenure.outcomes.v1` become lifecycle
//! events under the same rules as HTTP ingest. A message that cannot becomes a dead
//! letter on `tenure.dead-letters.v1`, with the reason in its `tenure_error` header.
//! A batch's input offsets are committed only after every event and dead letter of
//! the batch has been acknowledged by the broker; a crash in between redelivers the
//! batch, and deterministic event ids make the repeat harmless.

use std::sync::Arc;

use chrono::Utc;
use futures::future::join_all;
use tenure_core::{LifecycleEvent, Policy};
use tenure_kafka::{
    BatchHandler, ConsumerSettings, KafkaAdapterError, Publisher, Record, run_consumer, topics,
};
use tenure_store::Database;
use tokio::sync::watch;
use tracing::warn;

use crate::error::FieldProblem;
use crate::outcomes::OutcomeIn;
use tenure_core::intake::hr::HrEvent;
use tenure_core::intake::itsm::ItsmEvent;
use tenure_core::intake::source::{Announcer, announced_source};

/// The consumer group of the raw-topic bridge.
pub const GROUP: &str = "tenure-ingest-bridge";
/// Header of a dead letter naming why it could not be ingested.
pub const ERROR_HEADER: &str = "tenure_error";

/// Turns raw-topic messages into lifecycle events or dead letters.
pub struct BridgeHandler {
    publisher: Publisher,
    policy: Arc<Policy>,
    directory: Database,
}

fn describe(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            if p.field.is_empty() {
                p.problem.clone()
            } else {
                format!("{}: {}", p.field, p.problem)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl BridgeHandler {
    /// The findings a connector's observation of its target calls for (see
    /// `tenure_core::reconcile`), or why it cannot be used (a dead letter).
    async fn observe(
        &self,
        record: &Record,
    ) -> Result<Result<Vec<LifecycleEvent>, String>, KafkaAdapterError> {
        let observation = match tenure_proto::reconcile::decode_observation(&record.payload) {
            Ok(o) => o,
            Err(e) => return Ok(Err(format!("not a valid AccessObservation: {e}"))),
        };
        if let Some(topic_system) = topics::system_of_outcomes_topic(&record.topic)
            && topics::topic_safe(&observation.system) != topic_system
        {
            return Ok(Err(format!(
                "an observation of system {:?} cannot come on {}",
                observation.system, record.topic
            )));
        }
        if let Some(other) = observation
            .held
            .iter()
            .find(|h| h.entitlement.system != observation.system)
        {
            return Ok(Err(format!(
                "an observation of system {:?} lists {} of another system",
                observation.system, other.entitlement
            )));
        }
        let expected = crate::directory::expected_grants(&self.directory, &observation.system)
            .await
            .map_err(KafkaAdapterError::Unavailable)?;
        let findings = tenure_core::reconcile::discrepancies(&observation, &expected, Utc::now());
        if let Some(problem) = findings
            .iter()
            .flat_map(tenure_core::limits::storage_problems)
            .next()
        {
            return Ok(Err(format!(
                "the observation cannot be recorded: {}: {}",
                problem.field, problem.problem
            )));
        }
        Ok(Ok(findings))
    }

    /// The event one record announces (`Ok(Ok(_))`), or why it cannot be ingested
    /// (`Ok(Err(reason))`, a dead letter). The outer error is a failure to decide at
    /// all (the projection cannot be read): the batch is retried.
    async fn convert(
        &self,
        record: &Record,
        joined_before: &[tenure_core::IdentityId],
    ) -> Result<Result<Option<LifecycleEvent>, String>, KafkaAdapterError> {
        let now = Utc::now();
        let converted = match record.topic.as_str() {
            // A raw topic's writers are the broker's ACLs' business; what they may
            // not do is announce events as one of Tenure's own sources.
            topics::HR_RAW => serde_json::from_slice::<HrEvent>(&record.payload)
                .map_err(|e| format!("not a valid HR event: {e}"))
                .and_then(|mut e| {
                    let source = announced_source(e.claimed_source(), "hr", Announcer::Open)
                        .map_err(|r| r.to_string())?;
                    e.announce_as(source);
                    e.into_event(1, now)
                        .map(Some)
                        .map_err(|p| describe(&crate::error::from_core(p)))
                }),
            topics::ITSM_RAW => serde_json::from_slice::<ItsmEvent>(&record.payload)
                .map_err(|e| format!("not a valid ITSM event: {e}"))
                .and_then(|mut e| {
                    let source = announced_source(e.claimed_source(), "itsm", Announcer::Open)
                        .map_err(|r| r.to_string())?;
                    e.announce_as(source);
                    e.into_event(1, now, &self.policy)
                        .map(Some)
                        .map_err(|p| describe(&crate::error::from_core(p)))
                }),
            topic if topic == topics::OUTCOMES || topic.starts_with(topics::OUTCOMES_PREFIX) => {
                match tenure_proto::decode_outcome(&record.payload) {
                    Err(e) => Err(format!("not a valid CommandOutcome: {e}")),
                    Ok(outcome) => {
                        let ack = OutcomeIn::from_wire(outcome, record.offset).acknowledgement();
                        // Only a command Tenure issued can be acknowledged, as it was issued;
                        // on a system's own topic, only a command for that system.
                        let checked = crate::outcomes::verify_from_topic(
                            &self.directory,
                            &ack,
                            topics::system_of_outcomes_topic(topic),
                        )
                        .await
                        .map_err(|e| KafkaAdapterError::Unavailable(e.message))?;
                        match checked {
                            Err(refusals) => Err(refusals
                                .iter()
                                .map(|(_, r)| r.to_string())
                                .collect::<Vec<_>>()
                                .join("; ")),
                            Ok(()) => {
                                crate::outcomes::into_event(ack, 1, now).map_err(|p| describe(&p))
                            }
                        }
                    }
                }
            }
            other => Err(format!("topic {other} is not a raw source topic")),
        };
        let event = match converted {
            Ok(Some(event)) => event,
            other => return Ok(other),
        };
        // The same rules as HTTP: the core decides, with the projection's view.
        let admitted = crate::routes::admit(
            Some(&self.directory),
            vec![(1, event)],
            joined_before,
            &self.policy,
        )
        .await
        .map_err(|e| KafkaAdapterError::Unavailable(e.message))?;
        Ok(admitted
            .map(|mut events| events.pop())
            .map_err(|problems| describe(&problems)))
    }
}

/// The people a batch of raw HR records announces as joiners (or rehires).
fn announced_joiners(records: &[Record]) -> Vec<tenure_core::IdentityId> {
    records
        .iter()
        .filter(|r| r.topic == topics::HR_RAW)
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.payload).ok())
        .filter(|v| matches!(v["type"].as_str(), Some("joiner" | "rehire")))
        .filter_map(|v| {
            v["employee_id"]
                .as_str()
                .map(|id| tenure_core::ids::identity(tenure_core::ids::PEOPLE, id))
        })
        .collect()
}

impl BatchHandler for BridgeHandler {
    async fn handle(
        &self,
        txn: &tokio_postgres::Transaction<'_>,
        records: &[Record],
    ) -> Result<(), KafkaAdapterError> {
        let mut events = Vec::new();
        let mut letters = Vec::new();
        // As within one HTTP request, order inside a batch does not matter: a joiner
        // anywhere in it makes its person known to the batch's other records.
        let announced = announced_joiners(records);
        let mut joined: Vec<tenure_core::IdentityId> = Vec::new();
        for record in records {
            if record.header(tenure_kafka::headers::CE_TYPE)
                == Some(tenure_proto::reconcile::OBSERVATION_CE_TYPE)
            {
                match self.observe(record).await? {
                    Ok(findings) => events.extend(findings),
                    Err(reason) => {
                        warn!(topic = %record.topic, offset = record.offset, %reason, "dead letter");
                        letters.push((record, reason));
                    }
                }
                continue;
            }
            match self.convert(record, &announced).await? {
                Ok(Some(event)) => {
                    joined.extend(crate::directory::joined(std::slice::from_ref(&event)));
                    events.push(event);
                }
                Ok(None) => {}
                Err(reason) => {
                    warn!(topic = %record.topic, offset = record.offset, %reason, "dead letter");
                    letters.push((record, reason));
                }
            }
        }
        let sent_events = join_all(events.iter().map(|e| self.publisher.send_event(e)));
        let sent_letters = join_all(letters.iter().map(|(record, reason)| {
            let mut headers = record.headers.clone();
            headers.push((ERROR_HEADER.to_owned(), reason.clone()));
            headers.push(("tenure_source_topic".to_owned(), record.topic.clone()));
            headers.push((
                "tenure_source_position".to_owned(),
                format!("{}:{}", record.partition, record.offset),
            ));
            let key = record
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            async move {
                self.publisher
                    .send(topics::DEAD_LETTERS, &key, &record.payload, &headers)
                    .await
            }
        }));
        let (sent_events, sent_letters) = futures::join!(sent_events, sent_letters);
        for result in sent_events.into_iter().chain(sent_letters) {
            result?;
        }
        // Committed with the batch's offsets: the joiners are on the log by now.
        crate::directory::record_joined(txn, &joined)
            .await
            .map_err(tenure_store::StoreError::from)?;
        Ok(())
    }
}

/// Bridges the raw topics until `shutdown` turns true.
pub async fn run(
    bootstrap: &str,
    db: Database,
    policy: Policy,
    shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    let settings = ConsumerSettings::new(
        bootstrap,
        GROUP,
        &[
            topics::HR_RAW,
            topics::ITSM_RAW,
            topics::OUTCOMES,
            topics::PER_SYSTEM_OUTCOMES_PATTERN,
        ],
    );
    let handler = BridgeHandler {
        publisher: Publisher::new(bootstrap)?,
        policy: Arc::new(policy),
        directory: db.clone(),
    };
    run_consumer(settings, db, handler, shutdown).await
}
