//! `tenure events show` / `tail`: the lifecycle log read back from the broker and
//! printed as JSON lines, for people and for `jq`.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tenure_core::IdentityId;
use tenure_kafka::topics;

/// Which events to print.
#[derive(Debug, Args, Clone)]
pub struct EventFilter {
    /// Start at this offset in every partition (default: the beginning).
    #[arg(long)]
    pub from_offset: Option<i64>,
    /// Only events recorded at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Only this identity's events: a UUID or authority:source-id (e.g. hr:E100).
    #[arg(long)]
    pub identity: Option<String>,
    /// Only events of this type (e.g. identity_left, revocation_issued).
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Stop after printing this many events.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Read the log once, or follow it.
#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// Print the matching events on the log now, then exit.
    Show(EventFilter),
    /// Print the matching events, then keep printing new ones until interrupted.
    Tail(EventFilter),
}

/// Resolves a UUID or `authority:source-id`.
pub fn identity_id(text: &str) -> anyhow::Result<IdentityId> {
    if let Ok(id) = text.parse::<IdentityId>() {
        return Ok(id);
    }
    match text.split_once(':') {
        Some((authority, source)) if !authority.is_empty() && !source.is_empty() => {
            Ok(tenure_core::ids::identity(authority, source))
        }
        _ => anyhow::bail!(
            "identity {text:?} is neither a UUID nor authority:source-id (e.g. hr:E100)"
        ),
    }
}

/// Runs `tenure events`.
pub async fn run(bootstrap: String, action: EventsAction) -> anyhow::Result<()> {
    let (filter, follow) = match action {
        EventsAction::Show(f) => (f, false),
        EventsAction::Tail(f) => (f, true),
    };
    let identity = filter.identity.as_deref().map(identity_id).transpose()?;
    let ends = topics::end_offsets(&bootstrap, topics::LIFECYCLE).await?;
    let (stop, stopped) = crate::shutdown::channel();
    crate::shutdown::on_signals(stop);
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = tenure_kafka::client_config(&bootstrap)
            .set("group.id", "tenure-events-reader")
            .set("enable.auto.commit", "false")
            .create()
            .context("cannot create a consumer")?;
        let mut assignment = TopicPartitionList::new();
        for (partition, _) in &ends {
            let start = filter.from_offset.map_or(Offset::Beginning, Offset::Offset);
            assignment.add_partition_offset(topics::LIFECYCLE, *partition, start)?;
        }
        consumer.assign(&assignment)?;
        let mut remaining: std::collections::HashMap<i32, i64> = ends.iter().copied().collect();
        remaining.retain(|p, end| *end > filter.from_offset.unwrap_or(0) && *p >= 0);
        let mut printed = 0usize;
        let stdout = std::io::stdout();
        loop {
            if *stopped.borrow() || filter.limit.is_some_and(|l| printed >= l) {
                break;
            }
            if !follow && remaining.is_empty() {
                break;
            }
            let Some(message) = consumer.poll(Duration::from_millis(300)) else {
                continue;
            };
            let message = message?;
            let (partition, offset) = (message.partition(), message.offset());
            if let Some(end) = remaining.get(&partition)
                && offset + 1 >= *end
            {
                remaining.remove(&partition);
            }
            let Some(payload) = message.payload() else {
                continue;
            };
            let event = match tenure_proto::decode_event(payload) {
                Ok(event) => event,
                Err(e) => {
                    eprintln!("partition {partition} offset {offset}: unreadable ({e})");
                    continue;
                }
            };
            if identity.is_some_and(|i| i != event.identity_id)
                || filter.since.is_some_and(|s| event.recorded_time < s)
                || filter
                    .event_type
                    .as_deref()
                    .is_some_and(|t| t != event.payload.kind())
            {
                continue;
            }
            let mut line = serde_json::to_value(&event)?;
            line["partition"] = partition.into();
            line["offset"] = offset.into();
            use std::io::Write;
            writeln!(stdout.lock(), "{line}")?;
            printed += 1;
        }
        anyhow::Ok(())
    })
    .await?
}
