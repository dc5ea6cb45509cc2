//! The one error type of the SCIM layer: a client mistake answered with
//! HTTP 400 and a SCIM `scimType` (RFC 7644 §3.12).

use thiserror::Error;

/// A request the server refuses with HTTP 400. It exists so that every
/// protocol module reports client mistakes the same way, carrying the
/// `scimType` keyword an IdP needs to tell *what kind* of mistake it made
/// (RFC 7644 §3.12, Table 9) and a human detail that names the attribute,
/// path or filter at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{detail}")]
pub struct ScimProblem {
    /// The RFC 7644 `scimType` keyword, e.g. `invalidValue`.
    pub scim_type: &'static str,
    /// Human-readable explanation naming the offending attribute or path.
    pub detail: String,
}

impl ScimProblem {
    fn new(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            scim_type,
            detail: detail.into(),
        }
    }

    /// A value is missing, of the wrong type or otherwise unacceptable
    /// for the attribute it was given for.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new("invalidValue", detail)
    }

    /// A PATCH or attribute path is malformed or names no known attribute.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new("invalidPath", detail)
    }

    /// A PATCH path selected nothing where something had to be selected.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new("noTarget", detail)
    }

    /// The client tried to change a readOnly or immutable attribute, or to
    /// remove a required one.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new("mutability", detail)
    }

    /// A `filter` query could not be parsed or is unsupported.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new("invalidFilter", detail)
    }

    /// The request body is not a structurally valid SCIM message.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new("invalidSyntax", detail)
    }

    /// The request exceeds a limit the service provider publishes.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new("tooMany", detail)
    }

    /// A value that must be unique is already taken.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new("uniqueness", detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_constructor_when_displayed_then_detail_and_type_are_kept() {
        // given
        let p = ScimProblem::invalid_path("attribute 'foo' is not in the User schema");
        // when
        let shown = p.to_string();
        // then
        assert_eq!(p.scim_type, "invalidPath");
        assert_eq!(shown, "attribute 'foo' is not in the User schema");
    }

    #[test]
    fn given_each_constructor_then_scim_type_matches_rfc_keyword() {
        let all = [
            (ScimProblem::invalid_value("a"), "invalidValue"),
            (ScimProblem::invalid_path("a"), "invalidPath"),
            (ScimProblem::no_target("a"), "noTarget"),
            (ScimProblem::mutability("a"), "mutability"),
            (ScimProblem::invalid_filter("a"), "invalidFilter"),
            (ScimProblem::invalid_syntax("a"), "invalidSyntax"),
            (ScimProblem::too_many("a"), "tooMany"),
            (ScimProblem::uniqueness("a"), "uniqueness"),
        ];
        for (p, t) in all {
            assert_eq!(p.scim_type, t);
        }
    }
}
