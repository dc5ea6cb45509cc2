//! The wire format of Tenure's topics (deploy/architecture.md) and its mapping to the
//! domain types of `tenure-core`. Only this crate knows both, so the domain stays
//! free of serialisation concerns and the wire stays free of domain rules.

/// Generated from `proto/tenure/lifecycle/v1/*.proto`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/tenure.lifecycle.v1.rs"));
}

mod convert;
pub mod reconcile;

pub use convert::{
    DecodeError, Outcome, command_ce_type, decode_command, decode_event, decode_outcome,
    encode_command, encode_event, outcome_from_wire,
};
