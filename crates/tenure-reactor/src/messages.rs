//! Turning the core's facts and commands into outbox messages.

use chrono::{DateTime, Utc};
use tenure_core::{Command, IdentityId, LifecycleEvent};
use tenure_kafka::{headers, topics};
use tenure_store::OutboxMessage;

/// A decision fact, bound for the lifecycle log.
pub(crate) fn fact(event: &LifecycleEvent) -> OutboxMessage {
    OutboxMessage {
        // The outbox holds facts and commands alike: its message id is either kind.
        message_id: event.event_id.into(),
        topic: topics::LIFECYCLE.to_owned(),
        key: event.identity_id.to_string(),
        payload: tenure_proto::encode_event(event),
        headers: headers::for_event(event),
        held: None,
    }
}

/// The CloudEvents `type` of a command, which connectors route on.
pub fn command_type(command: &Command) -> &'static str {
    tenure_proto::command_ce_type(command)
}

/// A connector command, bound for `tenure.commands.v1` (or its system's own topic),
/// with a header naming the target system so each connector reads only its own.
pub(crate) fn command(
    command: &Command,
    identity: IdentityId,
    issued: DateTime<Utc>,
    routes: topics::CommandTopics,
) -> OutboxMessage {
    let id = command.command_id();
    let mut hs = headers::cloud_event(
        &id.to_string(),
        tenure_core::react::REACTOR_SOURCE,
        command_type(command),
        issued,
        &identity.to_string(),
    );
    hs.push((
        headers::TARGET_SYSTEM.to_owned(),
        command.target_system().to_owned(),
    ));
    OutboxMessage {
        message_id: id.into(),
        topic: routes.commands_for(command.target_system()),
        key: identity.to_string(),
        payload: tenure_proto::encode_command(command, issued),
        headers: hs,
        held: None,
    }
}
