//! A reference provisioning connector for any SCIM 2.0 service provider (RFC 7643 and
//! RFC 7644): it provisions users and their group memberships the way Entra ID or Okta
//! provision a SaaS application, so one connector reaches every application that
//! speaks SCIM.
//!
//! The entitlement `<system>:<group>:member` (system `scim` unless configured
//! otherwise, so `scim:engineering:member`) is membership of the holder's user in the
//! group whose `displayName` is `<group>`. A grant creates the user when it is missing
//! (groups are the application's, never created here); a revocation removes the
//! membership and checks that it is gone; suspend and restore set the user's `active`
//! flag; `list` reads every group's members for reconciliation.
//!
//! Modules: [`settings`](ScimSettings) says where the service provider is, `client`
//! speaks HTTP to it and classifies its failures, `resources` holds the SCIM JSON this
//! connector reads and writes, and `provision` maps Tenure's commands onto them.

mod client;
mod provision;
mod resources;
mod settings;

pub use provision::ScimConnector;
pub use settings::{DEFAULT_SYSTEM, MEMBER, ScimSettings, ScimSetupError};
