//! The SCIM 2.0 User (RFC 7643) as Tenure keeps it: the record its source sent, kept
//! as sent (every attribute of the published schema, returned as it was written),
//! and what Tenure reads from that record to decide lifecycle changes.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tenure_core::{Attributes, IdentityKind, IdentityState, Policy};

pub use super::schema::{ENTERPRISE_SCHEMA as ENTERPRISE, USER_SCHEMA};

/// What Tenure reads from a SCIM User: the core's stated person.
pub use tenure_core::intake::StatedPerson as ScimPerson;

/// Why a SCIM User cannot be read; the text is SCIM's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUser(pub String);

/// Attributes of the record that are the server's, never stored with it.
const SERVER_ATTRIBUTES: [&str; 3] = ["id", "meta", "schemas"];

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The element of a multi-valued attribute a connector or rule should use: the
/// primary one, else the first.
fn primary<'a>(user: &'a Map<String, Value>, attribute: &str) -> Option<&'a Value> {
    let values = user.get(attribute).and_then(Value::as_array)?;
    values
        .iter()
        .find(|v| v.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| values.first())
}

/// The enterprise extension of a record (empty when absent).
pub fn enterprise(user: &Map<String, Value>) -> Map<String, Value> {
    user.get(ENTERPRISE)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The key Tenure files a newly created person under: `employeeNumber`, else
/// `userName` (fixed from then on, whatever the source later renames).
pub fn creation_key(record: &Value) -> Result<String, InvalidUser> {
    let user = record
        .as_object()
        .ok_or_else(|| InvalidUser("a User must be a JSON object".into()))?;
    text(enterprise(user).get("employeeNumber"))
        .or_else(|| text(user.get("userName")))
        .ok_or_else(|| InvalidUser("userName is required".into()))
}

/// The record to keep: the User as sent, without what the server owns (id, meta,
/// schemas, which [`resource`] puts back).
pub fn record_of(user: &Value) -> Value {
    let mut record = user.as_object().cloned().unwrap_or_default();
    for attribute in SERVER_ATTRIBUTES {
        record.remove(attribute);
    }
    Value::Object(record)
}

/// What Tenure reads from `record` (already normalised and stripped by
/// [`record_of`]) for the person filed under `key`; `held` is what Tenure holds of
/// them, so that attributes the record no longer carries are cleared.
pub fn person_from_record(
    record: &Value,
    key: &str,
    held: Option<&Attributes>,
    policy: &Policy,
) -> Result<ScimPerson, InvalidUser> {
    let user = record
        .as_object()
        .ok_or_else(|| InvalidUser("a User must be a JSON object".into()))?;
    if text(user.get("userName")).is_none() {
        return Err(InvalidUser("userName is required".into()));
    }
    let extension = enterprise(user);
    let active = user.get("active").and_then(Value::as_bool).unwrap_or(true);
    let name = user.get("name");
    let display_name = text(user.get("displayName"))
        .or_else(|| text(name.and_then(|n| n.get("formatted"))))
        .or_else(|| {
            let parts: Vec<String> = ["givenName", "familyName"]
                .iter()
                .filter_map(|p| text(name.and_then(|n| n.get(*p))))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
    let mut attributes = Attributes {
        display_name,
        department: text(extension.get("department")),
        title: text(user.get("title")),
        manager_id: extension
            .get("manager")
            .and_then(|m| text(m.get("value")).or_else(|| text(Some(m)))),
        location: primary(user, "addresses").and_then(|a| text(a.get("locality"))),
        // Connectors act on the account by the name the IdP knows it by.
        login: text(user.get("userName")),
        email: primary(user, "emails").and_then(|e| text(e.get("value"))),
        source_record: Some(record.to_string()),
        ..Attributes::default()
    };
    if let Some(held) = held {
        attributes.cleared = tenure_core::CLEARABLE_ATTRIBUTES
            .iter()
            .filter(|name| {
                attributes.clearable(name).is_some_and(Option::is_none)
                    && held.clearable(name).is_some_and(Option::is_some)
            })
            .map(|name| (*name).to_owned())
            .collect();
    }
    Ok(ScimPerson {
        employee_id: key.to_owned(),
        active,
        kind: tenure_core::intake::stated_kind(user.get("userType").and_then(Value::as_str)),
        role: tenure_core::intake::stated_role(
            primary(user, "roles")
                .and_then(|r| r.get("value"))
                .and_then(Value::as_str),
            user.get("title").and_then(Value::as_str),
            policy,
        ),
        attributes,
    })
}

/// The record Tenure keeps for `state`: the source's own, or (for a person HR
/// announced through `/v1/hr/events`) one built from what Tenure knows.
pub fn stored_record(state: &IdentityState) -> Value {
    if let Some(record) = state
        .attributes
        .source_record
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .filter(Value::is_object)
    {
        return record;
    }
    let a = &state.attributes;
    let person = state.source_person_id.clone().unwrap_or_default();
    let mut record = json!({
        "userName": a.login.clone().unwrap_or_else(|| person.clone()),
        "userType": match state.kind {
            IdentityKind::Contractor => "Contractor",
            _ => "Employee",
        },
    });
    let mut extension = json!({"employeeNumber": person});
    if let Some(d) = &a.department {
        extension["department"] = json!(d);
    }
    if let Some(m) = &a.manager_id {
        extension["manager"] = json!({"value": m});
    }
    record[ENTERPRISE] = extension;
    if let Some(role) = state.role.as_deref().filter(|r| !r.is_empty()) {
        record["roles"] = json!([{"value": role, "primary": true}]);
    }
    for (field, value) in [("displayName", &a.display_name), ("title", &a.title)] {
        if let Some(v) = value {
            record[field] = json!(v);
        }
    }
    if let Some(l) = &a.location {
        record["addresses"] = json!([{"locality": l, "primary": true}]);
    }
    if let Some(e) = &a.email {
        record["emails"] = json!([{"value": e, "primary": true}]);
    }
    record
}

/// Whether `record` is the record Tenure keeps for `held` but for `active` (which
/// [`resource`] shows from Tenure's own state).
pub fn same_but_active(record: &Value, held: &IdentityState) -> bool {
    let Some(kept) = held
        .attributes
        .source_record
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    else {
        return false;
    };
    let without_active = |v: &Value| {
        let mut v = v.clone();
        if let Some(user) = v.as_object_mut() {
            user.remove("active");
        }
        v
    };
    without_active(record) == without_active(&kept)
}

/// The entity tag of a User: a digest of the resource as it would be returned, so
/// it changes exactly when the User does (a grant or command on the person does
/// not change it).
pub fn version_of(resource: &Value) -> String {
    let mut unversioned = resource.clone();
    if let Some(user) = unversioned.as_object_mut() {
        user.remove("meta");
    }
    let digest = Sha256::digest(unversioned.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..12]))
}

/// The SCIM User for an identity's state: its record as sent, with the server's
/// `id`, `schemas` and `meta`, and `active` as Tenure knows it (a leaver announced by
/// HR shows inactive).
pub fn resource(state: &IdentityState, base: &str) -> Value {
    let mut user = stored_record(state);
    let has_extension = user
        .get(ENTERPRISE)
        .and_then(Value::as_object)
        .is_some_and(|e| !e.is_empty());
    user["id"] = json!(state.identity_id);
    // `active` as Tenure knows it; left out, as the source left it out, only while
    // that means what it would default to (hired).
    let hired = state.status.is_hired();
    if user.get("active").is_some() || !hired {
        user["active"] = json!(hired);
    }
    user["schemas"] = if has_extension {
        json!([USER_SCHEMA, ENTERPRISE])
    } else {
        json!([USER_SCHEMA])
    };
    let mut meta = json!({
        "resourceType": "User",
        "location": format!("{base}/Users/{}", state.identity_id),
    });
    if let Some(joined) = state.joined_at {
        meta["created"] = json!(joined.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    user["meta"] = meta;
    let version = version_of(&user);
    user["meta"]["version"] = json!(version);
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_enterprise_user_and_keeps_the_record_as_sent() {
        let mut policy = Policy::default();
        policy.roles.insert(
            "engineer".into(),
            tenure_core::policy::RolePolicy {
                owner: "it".into(),
                birthright: Vec::new(),
            },
        );
        let record = json!({
            "userName": "ada@acme.example",
            "externalId": "okta-1",
            "active": false,
            "userType": "Contingent Worker",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "roles": [{"value": "sales"}, {"value": "engineer", "primary": true}],
            ENTERPRISE: {"employeeNumber": "E100", "department": "R&D", "manager": {"value": "E001"}}
        });
        assert_eq!(creation_key(&record).unwrap(), "E100");
        let person = person_from_record(&record, "E100", None, &policy).unwrap();
        assert_eq!(person.employee_id, "E100");
        assert!(!person.active);
        assert_eq!(person.kind, Some(IdentityKind::Contractor));
        assert_eq!(person.role.as_deref(), Some("engineer"));
        assert_eq!(
            person.attributes.display_name.as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(person.attributes.login.as_deref(), Some("ada@acme.example"));
        assert_eq!(person.attributes.manager_id.as_deref(), Some("E001"));
        let kept: Value =
            serde_json::from_str(person.attributes.source_record.as_deref().unwrap()).unwrap();
        assert_eq!(kept, record);
    }

    #[test]
    fn title_is_the_role_only_when_the_policy_defines_it_and_missing_attributes_clear() {
        let mut policy = Policy::default();
        policy.roles.insert(
            "engineer".into(),
            tenure_core::policy::RolePolicy {
                owner: "it".into(),
                birthright: Vec::new(),
            },
        );
        let held = Attributes {
            title: Some("engineer".into()),
            department: Some("R&D".into()),
            ..Attributes::default()
        };
        let person = person_from_record(
            &json!({"userName": "x", "title": "Staff"}),
            "x",
            Some(&held),
            &policy,
        )
        .unwrap();
        assert_eq!(person.role, None);
        assert_eq!(person.attributes.cleared, vec!["department".to_owned()]);
        let person = person_from_record(
            &json!({"userName": "x", "title": "engineer"}),
            "x",
            None,
            &policy,
        )
        .unwrap();
        assert_eq!(person.role.as_deref(), Some("engineer"));
    }

    #[test]
    fn the_version_changes_with_the_user_and_not_with_meta() {
        let a = json!({"id": "1", "userName": "x", "meta": {"created": "t1"}});
        let b = json!({"id": "1", "userName": "x", "meta": {"created": "t2"}});
        let c = json!({"id": "1", "userName": "y", "meta": {"created": "t1"}});
        assert_eq!(version_of(&a), version_of(&b));
        assert_ne!(version_of(&a), version_of(&c));
    }
}
