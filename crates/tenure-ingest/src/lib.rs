//! The ingest service: the only way source systems' facts enter the lifecycle log.
//!
//! It refuses what would create ungoverned access, answers `202` only after the
//! broker has acknowledged every event of a request, and derives event ids from the
//! source's own ids so a redelivery is one event in effect (deploy/architecture.md).

pub mod auth;
mod body;
pub mod bridge;
mod directory;
mod error;
pub mod oidc;
mod outcomes;
mod replay;
mod routes;
pub mod scim;
pub mod sql;

pub use auth::{Credentials, Scope};
pub use error::{ApiError, FieldProblem, json_errors};
pub use routes::{IngestState, ROUTES, router};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Most events accepted in one NDJSON request.
pub const MAX_BATCH_EVENTS: usize = 10_000;
