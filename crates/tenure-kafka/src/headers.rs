//! CloudEvents attributes as Kafka headers (binary content mode), so generic tooling
//! can route Tenure's messages without decoding protobuf.

use chrono::{DateTime, SecondsFormat, Utc};
use tenure_core::LifecycleEvent;

/// Header naming the system whose connector must execute a command.
pub const TARGET_SYSTEM: &str = "tenure_target_system";
/// Header naming the protobuf message type of the payload.
pub const CONTENT_TYPE: &str = "content-type";
/// Header with the CloudEvents `type`.
pub const CE_TYPE: &str = "ce_type";

/// The CloudEvents headers for a message.
pub fn cloud_event(
    id: &str,
    source: &str,
    kind: &str,
    time: DateTime<Utc>,
    subject: &str,
) -> Vec<(String, String)> {
    vec![
        ("ce_specversion".into(), "1.0".into()),
        ("ce_id".into(), id.into()),
        ("ce_source".into(), source.into()),
        (CE_TYPE.into(), kind.into()),
        (
            "ce_time".into(),
            time.to_rfc3339_opts(SecondsFormat::Micros, true),
        ),
        ("ce_subject".into(), subject.into()),
        (CONTENT_TYPE.into(), "application/protobuf".into()),
    ]
}

/// The CloudEvents headers of a lifecycle event.
pub fn for_event(event: &LifecycleEvent) -> Vec<(String, String)> {
    cloud_event(
        &event.event_id.to_string(),
        &event.source_system,
        &format!("tenure.lifecycle.v1.{}", event.payload.kind()),
        event.recorded_time,
        &event.identity_id.to_string(),
    )
}
