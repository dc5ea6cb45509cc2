//! JSON already serialised, sent to PostgreSQL as it is.
//!
//! tokio-postgres sends a `json` parameter from a `serde_json::Value`, so a folded
//! state would be built as a tree of maps and strings only to be written out again.
//! Serialising straight to text costs one pass; on the projector's path, which writes
//! every touched identity's state and every event's payload, that is a large share of
//! the client's time.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A JSON document as text, for a `json` or `jsonb` parameter (or an array of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonText(pub String);

impl JsonText {
    /// `value` serialised. Tenure's own types always serialise; a failure is a bug in
    /// the type's `Serialize`, so it panics with the type's name.
    pub fn of<T: serde::Serialize + ?Sized>(value: &T) -> JsonText {
        JsonText(
            serde_json::to_string(value).unwrap_or_else(|e| {
                panic!("{} does not serialise: {e}", std::any::type_name::<T>())
            }),
        )
    }
}

impl ToSql for JsonText {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if *ty == Type::JSONB {
            // jsonb's binary format: a version byte, then the text.
            out.put_u8(1);
        }
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }

    to_sql_checked!();
}
