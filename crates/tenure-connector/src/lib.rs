//! The connector kit: what a provisioning connector written in Rust needs, so that
//! its author writes only what talks to the target system.
//!
//! A connector implements [`Connector`] (grant, revoke, suspend, restore, rotate and
//! list). [`run`] does the rest, as `docs/connectors.md` specifies it: it reads the
//! connector's system's commands, skips a command it already finished (by
//! `command_id`, in a ledger on disk that survives restarts, re-acknowledging it so
//! a lost acknowledgement is replaced), executes the rest with a time limit,
//! acknowledges each on `tenure.outcomes.v1`, commits its offset only after the
//! acknowledgement is on the broker, counts what it did for `/metrics`, and stops
//! between commands when asked to.

pub mod cli;
mod connector;
mod ledger;
pub mod logging;
mod metrics;
mod outcome;
mod runner;

pub use cli::{RunnerArgs, init_logging, run_until_signalled};
pub use connector::{Applied, Connector, ConnectorError, HeldAccess};
pub use ledger::{Ledger, LedgerError};
pub use metrics::Metrics;
pub use runner::{RunSummary, RunnerConfig, RunnerError, run};
pub use tenure_core::{
    Command, Entitlement, GrantCommand, GrantTerms, RevocationCommand, RotationCommand,
    SuspensionCommand, TargetAccount,
};
