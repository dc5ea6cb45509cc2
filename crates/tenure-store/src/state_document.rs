//! Reading the folded state documents (one JSON document per identity, stored with the
//! version of its shape) that the projector and the reactor keep, so that a document
//! written by another version of Tenure is refused with a clear error, never misread.

use serde::de::DeserializeOwned;

use crate::StoreError;

/// Decodes a state document of `table` stored as version `found`, when this build reads
/// version `expected`. A different version, or a document that does not decode, is
/// [`StoreError::Corrupt`] naming the table and the way out.
pub fn decode<T: DeserializeOwned>(
    table: &str,
    found: i16,
    expected: i16,
    document: serde_json::Value,
) -> Result<T, StoreError> {
    if found != expected {
        return Err(StoreError::Corrupt(format!(
            "{table} holds a state document of version {found}, but this build of Tenure \
             reads version {expected}: rebuild the state from the log (`tenure replay` for \
             the projection) with this build, or run the build that wrote it"
        )));
    }
    serde_json::from_value(document).map_err(|e| {
        StoreError::Corrupt(format!(
            "{table} holds a state document this build cannot read ({e}); rebuild the state \
             from the log (`tenure replay` for the projection)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_version_is_refused_naming_both_versions() {
        let err = decode::<serde_json::Value>("reactor_identities", 2, 1, serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("reactor_identities"), "{err}");
        assert!(
            err.contains("version 2") && err.contains("version 1"),
            "{err}"
        );
    }

    #[test]
    fn the_current_version_decodes() {
        let value: Vec<u32> = decode("t", 1, 1, serde_json::json!([1, 2])).unwrap();
        assert_eq!(value, vec![1, 2]);
    }
}
