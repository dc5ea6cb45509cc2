//! Tenure's domain core: pure, synchronous, no I/O and no clock (deploy/architecture.md).
//!
//! Everything the engine decides is decided here, so that replaying the log, the
//! live reactor and the tests all reach the same answer from the same events:
//! [`apply`] folds an event into an identity's state and [`react`] decides which
//! commands and follow-up facts an event calls for under a [`Policy`].

pub mod access;
pub mod account;
pub mod event;
pub mod fold;
pub mod governance;
pub mod ids;
pub mod intake;
pub mod limits;
pub mod model;
pub mod policy;
pub mod process;
pub mod react;
pub mod reconcile;
pub mod simulate;
pub mod state;

pub use account::{GrantTerms, TargetAccount};
pub use event::{EventPayload, LifecycleEvent};
pub use fold::fold_log;
pub use model::*;
pub use policy::{Policy, PolicyError};
pub use react::{
    Command, GrantCommand, OwnerDeparture, Reaction, RevocationCommand, RotationCommand,
    SuspensionCommand, react,
};
pub use state::{
    Deadline, Grant, GrantStatus, IdentityState, IdentityStatus, STATE_DOCUMENT_VERSION,
    ScheduledMove, apply,
};
