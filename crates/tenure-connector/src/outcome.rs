//! The acknowledgement of one command, as Tenure reads it on `tenure.outcomes.v1`.

use chrono::{DateTime, Utc};
use prost::Message as _;
use tenure_core::{Command, CommandStatus, CommandType};
use tenure_proto::v1;

/// The encoded `CommandOutcome` for `command`, finished with `status` at `at`.
pub(crate) fn encode(
    command: &Command,
    status: CommandStatus,
    detail: &str,
    connector: &str,
    attempt: u32,
    at: DateTime<Utc>,
) -> Vec<u8> {
    let grant_id = match command {
        // A rotation names no grant; its outcome's grant_id stays empty.
        Command::Rotate(_) => String::new(),
        other => other.grant_id().to_string(),
    };
    v1::CommandOutcome {
        command_id: command.command_id().to_string(),
        status: status_to(status) as i32,
        detail: detail.to_owned(),
        grant_id,
        identity_id: command.identity_id().to_string(),
        command_type: type_to(command.command_type()) as i32,
        connector: connector.to_owned(),
        attempt,
        completed_time: Some(prost_types_timestamp(at)),
        system: command.target_system().to_owned(),
    }
    .encode_to_vec()
}

fn prost_types_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn status_to(status: CommandStatus) -> v1::CommandStatus {
    match status {
        CommandStatus::Done => v1::CommandStatus::Done,
        CommandStatus::AlreadyAbsent => v1::CommandStatus::AlreadyAbsent,
        CommandStatus::FailedRetryable => v1::CommandStatus::FailedRetryable,
        CommandStatus::FailedPermanent => v1::CommandStatus::FailedPermanent,
    }
}

fn type_to(command_type: CommandType) -> v1::CommandType {
    match command_type {
        CommandType::Revoke => v1::CommandType::Revoke,
        CommandType::Grant => v1::CommandType::Grant,
        CommandType::Suspend => v1::CommandType::Suspend,
        CommandType::Restore => v1::CommandType::Restore,
        CommandType::Rotate => v1::CommandType::Rotate,
    }
}

/// The CloudEvents type of an acknowledgement.
pub(crate) const OUTCOME_CE_TYPE: &str = "tenure.outcomes.v1.outcome";

/// CloudEvents headers of a message of `ce_type` published by `connector` about
/// `subject` (an identity, or the system for an observation).
pub(crate) fn headers(
    connector: &str,
    ce_type: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> Vec<(String, String)> {
    tenure_kafka::headers::cloud_event(
        &uuid::Uuid::new_v4().to_string(),
        &format!("connector:{connector}"),
        ce_type,
        at,
        subject,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::ids::{CommandId, EventId, GrantId, IdentityId};
    use tenure_core::{Entitlement, RevocationCause, RevocationCommand};

    #[test]
    fn an_outcome_echoes_the_command_and_reads_back_as_tenure_reads_it() {
        let command = Command::Revoke(RevocationCommand {
            command_id: CommandId::from_u128(1),
            grant_id: GrantId::from_u128(2),
            identity_id: IdentityId::from_u128(3),
            entitlement: Entitlement::new("postgres", "app", "reader"),
            cause: RevocationCause::Leaver,
            trigger_event_id: EventId::from_u128(4),
            holder: Default::default(),
            terms: Default::default(),
        });
        let at = chrono::Utc::now();
        let bytes = encode(
            &command,
            CommandStatus::AlreadyAbsent,
            "gone",
            "pg-1",
            2,
            at,
        );
        let outcome = tenure_proto::decode_outcome(&bytes).unwrap();
        assert_eq!(outcome.command_id, uuid::Uuid::from_u128(1));
        assert_eq!(outcome.grant_id, uuid::Uuid::from_u128(2));
        assert_eq!(outcome.status, CommandStatus::AlreadyAbsent);
        assert_eq!(outcome.command_type, CommandType::Revoke);
        assert_eq!(outcome.attempt, 2);
        assert_eq!(outcome.system.as_deref(), Some("postgres"));
        assert_eq!(outcome.connector, "pg-1");
    }
}
