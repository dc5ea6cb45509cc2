//! The SCIM 2.0 User resource (RFC 7643) with the enterprise extension, and how it
//! maps to and from what Tenure knows about a person.

use serde_json::{Map, Value, json};
use tenure_core::{Attributes, IdentityKind, IdentityState};

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// What Tenure reads from a SCIM User: the core's stated person. Tenure keys people
/// by `employeeNumber` (enterprise extension), falling back to `userName`; `kind`
/// comes from `userType`, `role` from `roles` (the primary one, else the first).
pub use tenure_core::intake::StatedPerson as ScimPerson;

/// Why a SCIM User cannot be read; the text is SCIM's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUser(pub String);

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// SCIM clients send booleans as JSON booleans or as "True"/"False" strings.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn kind_of(user_type: Option<String>) -> Result<Option<IdentityKind>, InvalidUser> {
    let Some(t) = user_type else {
        return Ok(None);
    };
    match t.to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
        "employee" => Ok(Some(IdentityKind::Employee)),
        "contractor" | "contingent" | "contingent_worker" => Ok(Some(IdentityKind::Contractor)),
        _ => Err(InvalidUser(format!(
            "userType {t:?} is not one Tenure provisions over SCIM: use Employee or Contractor \
             (non-human identities are registered through /v1/hr/events)"
        ))),
    }
}

/// The role Tenure applies: the primary `roles` value, else the first.
fn role_of(user: &Map<String, Value>) -> Option<String> {
    let roles = user.get("roles").and_then(Value::as_array)?;
    roles
        .iter()
        .find(|r| r.get("primary").and_then(boolean) == Some(true))
        .or_else(|| roles.first())
        .and_then(|r| text(r.get("value")))
}

/// Reads a SCIM User body.
pub fn person_from_json(body: &Value) -> Result<ScimPerson, InvalidUser> {
    let user = body
        .as_object()
        .ok_or_else(|| InvalidUser("a User must be a JSON object".into()))?;
    let empty = Map::new();
    let enterprise = user
        .get(ENTERPRISE)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let employee_id = text(enterprise.get("employeeNumber"))
        .or_else(|| text(user.get("userName")))
        .ok_or_else(|| {
            InvalidUser(
                "userName is required (Tenure keys people by employeeNumber, else userName)".into(),
            )
        })?;
    let active = match user.get("active") {
        None | Some(Value::Null) => true,
        Some(v) => {
            boolean(v).ok_or_else(|| InvalidUser(format!("active must be a boolean, not {v}")))?
        }
    };
    let role = role_of(user);
    let display_name = text(user.get("displayName"))
        .or_else(|| text(user.get("name").and_then(|n| n.get("formatted"))));
    let location = user
        .get("addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|a| text(a.get("locality")));
    let email = user
        .get("emails")
        .and_then(Value::as_array)
        .and_then(|emails| {
            emails
                .iter()
                .find(|e| e.get("primary").and_then(boolean) == Some(true))
                .or_else(|| emails.first())
                .and_then(|e| text(e.get("value")))
        });
    let manager = enterprise
        .get("manager")
        .and_then(|m| text(m.get("value")).or_else(|| text(Some(m))));
    Ok(ScimPerson {
        employee_id,
        active,
        kind: kind_of(text(user.get("userType")))?,
        role,
        attributes: Attributes {
            display_name,
            department: text(enterprise.get("department")),
            title: text(user.get("title")),
            manager_id: manager,
            location,
            // Connectors act on the account by the name the IdP knows it by.
            login: text(user.get("userName")),
            email,
            ..Attributes::default()
        },
    })
}

/// The SCIM User Tenure reports for an identity's state; `meta.version` is the count
/// of events folded into it, so it changes whenever the person does.
pub fn resource(state: &IdentityState, base: &str) -> Value {
    let a = &state.attributes;
    let person = state.source_person_id.clone().unwrap_or_default();
    let active = state.status.is_hired();
    let user_type = match state.kind {
        IdentityKind::Contractor => "Contractor",
        IdentityKind::Employee => "Employee",
        _ => state.kind.as_str(),
    };
    let mut enterprise = json!({"employeeNumber": person});
    if let Some(d) = &a.department {
        enterprise["department"] = json!(d);
    }
    if let Some(m) = &a.manager_id {
        enterprise["manager"] = json!({"value": m});
    }
    let mut user = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": state.identity_id,
        // Tenure's key for the person, which its filters match (the userName as sent
        // is kept as the login connectors act on).
        "userName": person,
        "active": active,
        "userType": user_type,
        ENTERPRISE: enterprise,
        "meta": {
            "resourceType": "User",
            "version": format!("W/\"{}\"", state.events_applied),
            "location": format!("{base}/scim/v2/Users/{}", state.identity_id),
        },
    });
    if let Some(role) = &state.role {
        user["roles"] = json!([{"value": role, "primary": true}]);
    }
    for (field, value) in [("displayName", &a.display_name), ("title", &a.title)] {
        if let Some(v) = value {
            user[field] = json!(v);
        }
    }
    if let Some(l) = &a.location {
        user["addresses"] = json!([{"locality": l}]);
    }
    if let Some(e) = &a.email {
        user["emails"] = json!([{"value": e, "primary": true}]);
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_enterprise_user_with_string_booleans_and_primary_role() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "ada@acme.example",
            "active": "False",
            "userType": "Contractor",
            "displayName": "Ada Lovelace",
            "roles": [{"value": "sales"}, {"value": "engineer", "primary": "True"}],
            ENTERPRISE: {"employeeNumber": "E100", "department": "R&D", "manager": {"value": "E001"}}
        });
        let person = person_from_json(&body).unwrap();
        assert_eq!(person.employee_id, "E100");
        assert!(!person.active);
        assert_eq!(person.kind, Some(IdentityKind::Contractor));
        assert_eq!(person.role.as_deref(), Some("engineer"));
        assert_eq!(person.attributes.department.as_deref(), Some("R&D"));
        assert_eq!(person.attributes.manager_id.as_deref(), Some("E001"));
    }

    #[test]
    fn missing_role_is_none_and_bad_types_are_named() {
        let person = person_from_json(&json!({"userName": "x", "title": "Staff"})).unwrap();
        assert_eq!((person.role, person.kind), (None, None));
        let err =
            person_from_json(&json!({"userName": "x", "title": "eng", "active": 3})).unwrap_err();
        assert!(err.0.contains("active"), "{err}");
        let err = person_from_json(&json!({"userName": "x", "title": "eng", "userType": "Robot"}))
            .unwrap_err();
        assert!(err.0.contains("Robot"), "{err}");
    }
}
