//! Everything Tenure does with Kafka, behind small adapters so that the services
//! only see domain events, commands and batches.

pub mod broker;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod flavour;
pub mod headers;
pub mod membership;
pub mod publisher;
pub mod quiet;
pub mod stats;
pub mod tansu_sqlite;
pub mod topics;
pub mod trace;

pub use broker::{BrokerOptions, EmbeddedBroker};
pub use connection::client_config;
pub use consumer::{BatchHandler, ConsumerSettings, Record, run_consumer};
pub use error::{FailureAction, KafkaAdapterError};
pub use flavour::BrokerKind;
pub use publisher::Publisher;
