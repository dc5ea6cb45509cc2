//! PostgreSQL is Tenure's transaction coordinator (deploy/architecture.md): every
//! consumer writes its state change, its Kafka offsets and any outgoing messages in
//! one transaction. This crate holds the pieces all consumers share; each service
//! keeps the SQL of its own tables.

pub mod db;
pub mod dead_letters;
pub mod error;
pub mod json_text;
pub mod offsets;
pub mod outbox;
pub mod sql;
pub mod state_document;
pub mod tls;
pub mod wakeup;

pub use db::Database;
pub use error::StoreError;
pub use json_text::JsonText;
pub use offsets::{OffsetAdvance, PartitionKey};
pub use outbox::OutboxMessage;
