//! SCIM PATCH (RFC 7644 §3.5.2) applied to the User Tenure reports: `add`, `replace`
//! and `remove` on the attributes Tenure keeps, with or without a `path`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::user::ENTERPRISE;

/// The PatchOp message schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One PATCH body.
#[derive(Debug, Deserialize)]
pub struct PatchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations")]
    pub operations: Vec<PatchOperation>,
}

/// One operation; `op` is case-insensitive, as clients differ.
#[derive(Debug, Deserialize)]
pub struct PatchOperation {
    pub op: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

/// Why a PATCH cannot be applied; the text is SCIM's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPatch(pub String);

/// Where a path points: the user object itself or its enterprise extension, and the
/// (possibly dotted) attribute within it.
fn locate(path: &str) -> (bool, String) {
    if let Some(rest) = path.strip_prefix(ENTERPRISE) {
        return (true, rest.trim_start_matches(':').to_owned());
    }
    match path.split('.').next().unwrap_or_default() {
        "employeeNumber" | "department" | "manager" | "organization" | "division"
        | "costCenter" => (true, path.to_owned()),
        _ => (false, path.to_owned()),
    }
}

fn set(
    user: &mut Map<String, Value>,
    path: &str,
    value: Option<Value>,
) -> Result<(), InvalidPatch> {
    if path.contains('[') {
        // Filtered paths (roles[primary eq true].value) address one role: replace them all.
        let attribute = path.split('[').next().unwrap_or_default();
        if attribute != "roles" {
            return Err(InvalidPatch(format!(
                "filtered path {path:?} is not supported"
            )));
        }
        let value = value.map(|v| match v {
            Value::String(s) => serde_json::json!([{"value": s, "primary": true}]),
            other => other,
        });
        return set(user, "roles", value);
    }
    let (in_enterprise, attribute) = locate(path);
    let target = if in_enterprise {
        user.entry(ENTERPRISE)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| InvalidPatch("the enterprise extension is not an object".into()))?
    } else {
        user
    };
    let mut parts = attribute.split('.');
    let first = parts.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = parts.collect();
    if first.is_empty() {
        return Err(InvalidPatch(format!("path {path:?} names no attribute")));
    }
    match (rest.as_slice(), value) {
        ([], Some(v)) => {
            target.insert(first, v);
        }
        ([], None) => {
            target.remove(&first);
        }
        ([sub], value) => {
            let object = target
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let object = object
                .as_object_mut()
                .ok_or_else(|| InvalidPatch(format!("{first} is not an object")))?;
            match value {
                Some(v) => object.insert((*sub).to_owned(), v),
                None => object.remove(*sub),
            };
        }
        _ => return Err(InvalidPatch(format!("path {path:?} is nested too deeply"))),
    }
    Ok(())
}

/// Applies the operations to `user` in order.
pub fn apply(user: &mut Value, request: PatchRequest) -> Result<(), InvalidPatch> {
    if !request.schemas.is_empty() && !request.schemas.iter().any(|s| s == PATCH_SCHEMA) {
        return Err(InvalidPatch(format!("schemas must list {PATCH_SCHEMA}")));
    }
    let user = user
        .as_object_mut()
        .ok_or_else(|| InvalidPatch("the user is not an object".into()))?;
    for operation in request.operations {
        let op = operation.op.to_ascii_lowercase();
        match (op.as_str(), operation.path, operation.value) {
            ("remove", Some(path), _) => set(user, &path, None)?,
            ("remove", None, _) => {
                return Err(InvalidPatch("remove needs a path".into()));
            }
            ("add" | "replace", Some(path), Some(value)) => set(user, &path, Some(value))?,
            ("add" | "replace", None, Some(Value::Object(values))) => {
                for (path, value) in values {
                    set(user, &path, Some(value))?;
                }
            }
            ("add" | "replace", _, _) => {
                return Err(InvalidPatch(format!(
                    "{op} needs a value (an object of attributes when there is no path)"
                )));
            }
            (other, _, _) => {
                return Err(InvalidPatch(format!(
                    "op {other:?} is not add, replace or remove"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(ops: Value) -> PatchRequest {
        serde_json::from_value(json!({"schemas": [PATCH_SCHEMA], "Operations": ops})).unwrap()
    }

    #[test]
    fn azure_style_and_path_operations_apply() {
        let mut user = json!({"userName": "E1", "active": true, "title": "eng"});
        apply(
            &mut user,
            request(json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "replace", "value": {"title": "lead", "displayName": "Ada"}},
                {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "R&D"},
                {"op": "replace", "path": "manager.value", "value": "E002"},
                {"op": "replace", "path": "roles[primary eq true].value", "value": "sales"},
            ])),
        )
        .unwrap();
        assert_eq!(user["active"], "False");
        assert_eq!(user["title"], "lead");
        assert_eq!(user[ENTERPRISE]["department"], "R&D");
        assert_eq!(user[ENTERPRISE]["manager"]["value"], "E002");
        assert_eq!(user["roles"][0]["value"], "sales");
    }

    #[test]
    fn unknown_op_is_named() {
        let mut user = json!({});
        let err = apply(&mut user, request(json!([{"op": "move", "path": "x"}]))).unwrap_err();
        assert!(err.0.contains("move"));
    }
}
