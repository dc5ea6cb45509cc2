//! A reference provisioning connector for PostgreSQL: the entitlement
//! `postgres:<database>:<role>` is membership of the login in `role`. It removes real
//! access, and shows a connector author what the kit (`tenure-connector`) asks of
//! them: one trait, idempotent methods, errors classified as retryable or permanent.

mod roles;
mod sql;

pub use roles::{PostgresRoles, SYSTEM};
