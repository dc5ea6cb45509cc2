//! The trait a connector implements: one method per command type, and a listing of
//! what the target system really holds, for reconciliation.

use std::future::Future;

pub use tenure_core::reconcile::HeldAccess;
use tenure_core::{
    CommandStatus, GrantCommand, RevocationCommand, RotationCommand, SuspensionCommand,
};

/// What executing a command did to the target system. Tenure treats "already in the
/// wanted state" as success: a retried or replayed command must never fail because
/// its first attempt worked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The target changed as the command asked.
    Done,
    /// A revocation found no access to take away.
    AlreadyAbsent,
    /// A grant found the access already there.
    AlreadyPresent,
}

impl Applied {
    /// The acknowledgement status Tenure expects for this result.
    pub fn status(&self) -> CommandStatus {
        match self {
            Applied::Done => CommandStatus::Done,
            // The wire has one "nothing to do" status for both directions.
            Applied::AlreadyAbsent | Applied::AlreadyPresent => CommandStatus::AlreadyAbsent,
        }
    }

    /// The detail sent with the acknowledgement.
    pub fn detail(&self) -> &'static str {
        match self {
            Applied::Done => "applied",
            Applied::AlreadyAbsent => "already absent",
            Applied::AlreadyPresent => "already present",
        }
    }
}

/// Why a command could not be executed; the variant decides what Tenure does next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// A passing problem (the target is down, rate-limited, a lock timed out): Tenure
    /// publishes the command again later, waiting longer after each failure.
    #[error("{0}")]
    Retryable(String),
    /// Will not work without a person (no such account, no permission, a malformed
    /// entitlement): Tenure escalates the command to its operators.
    #[error("{0}")]
    Permanent(String),
    /// The connector does not implement this command type: escalated like a
    /// permanent failure, so a person handles it.
    #[error("this connector does not implement {0}")]
    Unsupported(&'static str),
}

impl ConnectorError {
    /// The acknowledgement status Tenure expects for this failure.
    pub fn status(&self) -> CommandStatus {
        match self {
            ConnectorError::Retryable(_) => CommandStatus::FailedRetryable,
            ConnectorError::Permanent(_) | ConnectorError::Unsupported(_) => {
                CommandStatus::FailedPermanent
            }
        }
    }
}

/// A provisioning connector for one target system. Every method must be idempotent:
/// the kit never runs a finished command twice, but a crash between executing and
/// recording may deliver it again.
pub trait Connector: Send + Sync + 'static {
    /// Gives `command.holder.name` the access `command.entitlement` names.
    fn grant(
        &self,
        command: &GrantCommand,
    ) -> impl Future<Output = Result<Applied, ConnectorError>> + Send;

    /// Takes the access away from `command.holder.name`.
    fn revoke(
        &self,
        command: &RevocationCommand,
    ) -> impl Future<Output = Result<Applied, ConnectorError>> + Send;

    /// Disables the access for a leave of absence without removing it.
    fn suspend(
        &self,
        _command: &SuspensionCommand,
    ) -> impl Future<Output = Result<Applied, ConnectorError>> + Send {
        async { Err(ConnectorError::Unsupported("suspend")) }
    }

    /// Enables access suspended for a leave of absence again.
    fn restore(
        &self,
        _command: &SuspensionCommand,
    ) -> impl Future<Output = Result<Applied, ConnectorError>> + Send {
        async { Err(ConnectorError::Unsupported("restore")) }
    }

    /// Replaces a non-human identity's credential.
    fn rotate(
        &self,
        _command: &RotationCommand,
    ) -> impl Future<Output = Result<Applied, ConnectorError>> + Send {
        async { Err(ConnectorError::Unsupported("rotate")) }
    }

    /// Every access the target system holds that this connector manages: what
    /// reconciliation compares with what Tenure granted.
    fn list(&self) -> impl Future<Output = Result<Vec<HeldAccess>, ConnectorError>> + Send;
}
