//! The `attributes` / `excludedAttributes` parameters (RFC 7644 §3.4.2.5,
//! §3.9): which parts of a User a response carries.

use super::problem::ScimProblem;
use super::schema::{self, ENTERPRISE_SCHEMA, Returned, USER_SCHEMA};
use scim_v2::filter::AttrPath;
use serde_json::{Map, Value};

/// Parses an `attributes` or `excludedAttributes` query value; a malformed
/// entry is refused with `invalidPath` naming it rather than silently
/// returning the wrong shape.
pub fn parse_attribute_list(text: &str) -> Result<Vec<AttrPath>, ScimProblem> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            schema::parse_attr_path(t).ok_or_else(|| {
                ScimProblem::invalid_path(format!("attribute path {t:?} is not valid"))
            })
        })
        .collect()
}

/// The key holding the attribute's container: `None` for top level.
fn container_key(path: &AttrPath) -> Option<String> {
    match path.uri.as_deref() {
        None => None,
        Some(u) if u.eq_ignore_ascii_case(USER_SCHEMA) => None,
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) => Some(ENTERPRISE_SCHEMA.to_string()),
        Some(u) => Some(u.to_string()),
    }
}

fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    schema::key_ci(map, name).cloned()
}

fn always_returned(path: &AttrPath) -> bool {
    if path.uri.is_none() && path.name.eq_ignore_ascii_case("schemas") {
        return true;
    }
    schema::attribute(path).is_some_and(|r| r.leaf().returned == Returned::Always)
}

/// Copies the part of `source` named by `name`/`sub` into `target`.
fn copy_selected(source: &Map<String, Value>, target: &mut Map<String, Value>, path: &AttrPath) {
    let Some(key) = key_of(source, &path.name) else {
        return;
    };
    let Some(value) = source.get(&key) else {
        return;
    };
    let Some(sub) = path.sub_attr.as_deref() else {
        target.insert(key, value.clone());
        return;
    };
    match value {
        Value::Object(obj) => {
            if let Some(sk) = key_of(obj, sub) {
                let slot = target
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(slot), Some(v)) = (slot, obj.get(&sk)) {
                    slot.insert(sk, v.clone());
                }
            }
        }
        Value::Array(items) => {
            let slot = target
                .entry(key)
                .or_insert_with(|| Value::Array(vec![Value::Object(Map::new()); items.len()]));
            let Value::Array(slots) = slot else {
                return;
            };
            for (item, slot) in items.iter().zip(slots.iter_mut()) {
                if let (Value::Object(obj), Value::Object(slot)) = (item, slot)
                    && let Some(sk) = key_of(obj, sub)
                    && let Some(v) = obj.get(&sk)
                {
                    slot.insert(sk, v.clone());
                }
            }
        }
        _ => {}
    }
}

fn remove_selected(target: &mut Map<String, Value>, path: &AttrPath) {
    let Some(key) = key_of(target, &path.name) else {
        return;
    };
    let Some(sub) = path.sub_attr.as_deref() else {
        target.remove(&key);
        return;
    };
    match target.get_mut(&key) {
        Some(Value::Object(obj)) => {
            if let Some(sk) = key_of(obj, sub) {
                obj.remove(&sk);
            }
        }
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(obj) = item
                    && let Some(sk) = key_of(obj, sub)
                {
                    obj.remove(&sk);
                }
            }
        }
        _ => {}
    }
}

/// Removes what became empty and extension URNs whose object is gone, so a
/// projected resource stays self-consistent.
fn tidy(out: &mut Map<String, Value>) {
    for value in out.values_mut() {
        if let Value::Array(items) = value {
            items.retain(|i| !matches!(i, Value::Object(o) if o.is_empty()));
        }
    }
    out.retain(|k, v| {
        k == "schemas"
            || !matches!(v, Value::Object(o) if o.is_empty())
                && !matches!(v, Value::Array(a) if a.is_empty())
    });
    let present: Vec<String> = out.keys().cloned().collect();
    if let Some(Value::Array(schemas)) = out.get_mut("schemas") {
        schemas.retain(|s| {
            s.as_str().is_some_and(|s| {
                s.eq_ignore_ascii_case(USER_SCHEMA)
                    || present.iter().any(|k| k.eq_ignore_ascii_case(s))
            })
        });
    }
}

fn drop_never_returned(out: &mut Map<String, Value>) {
    for def in schema::core_attributes()
        .iter()
        .chain(schema::common_attributes())
        .filter(|d| d.returned == Returned::Never)
    {
        out.remove(def.name);
    }
    if let Some(Value::Object(ext)) = out.get_mut(ENTERPRISE_SCHEMA) {
        for def in schema::enterprise_attributes()
            .iter()
            .filter(|d| d.returned == Returned::Never)
        {
            ext.remove(def.name);
        }
    }
}

/// Shapes a stored User for a response: with `attributes`, only those plus
/// the always-returned ones (`id`, `schemas`); otherwise everything but
/// `excluded` (always-returned ones cannot be excluded). `returned: never`
/// attributes never appear.
pub fn project(user: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Value::Object(source) = user else {
        return user.clone();
    };
    let mut out = Map::new();
    if attributes.is_empty() {
        out = source.clone();
        for path in excluded.iter().filter(|p| !always_returned(p)) {
            if schema::whole_schema(path).is_some_and(|s| s == ENTERPRISE_SCHEMA) {
                out.remove(ENTERPRISE_SCHEMA);
                continue;
            }
            match container_key(path) {
                None => remove_selected(&mut out, path),
                Some(ck) => {
                    if let Some(Value::Object(c)) = key_of(&out, &ck).and_then(|k| out.get_mut(&k))
                    {
                        remove_selected(c, path);
                    }
                }
            }
        }
    } else {
        for key in ["schemas", "id"] {
            if let Some(v) = source.get(key) {
                out.insert(key.to_string(), v.clone());
            }
        }
        for path in attributes {
            if let Some(schema) = schema::whole_schema(path) {
                if schema == ENTERPRISE_SCHEMA
                    && let Some(v) = key_of(source, schema).and_then(|k| source.get(&k))
                {
                    out.insert(ENTERPRISE_SCHEMA.to_string(), v.clone());
                }
                continue;
            }
            match container_key(path) {
                None => copy_selected(source, &mut out, path),
                Some(ck) => {
                    let Some(Value::Object(c)) = key_of(source, &ck).and_then(|k| source.get(&k))
                    else {
                        continue;
                    };
                    let slot = out.entry(ck).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(slot) = slot {
                        copy_selected(c, slot, path);
                    }
                }
            }
        }
    }
    drop_never_returned(&mut out);
    tidy(&mut out);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": "1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@y", "type": "home"}],
            "meta": {"resourceType": "User"},
            ENTERPRISE_SCHEMA: {"department": "Sales", "manager": {"value": "E1"}}
        })
    }

    fn list(text: &str) -> Vec<AttrPath> {
        parse_attribute_list(text).unwrap_or_default()
    }

    #[test]
    fn given_an_attribute_list_when_parsed_then_whitespace_and_urns_are_accepted() {
        let paths = list(
            " userName , name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref ",
        );
        assert_eq!(paths.len(), 3);
        assert_eq!(paths[1].sub_attr.as_deref(), Some("givenName"));
        assert_eq!(paths[2].uri.as_deref(), Some(ENTERPRISE_SCHEMA));
        assert_eq!(paths[2].sub_attr.as_deref(), Some("$ref"));
        let bad = parse_attribute_list("userName, na me");
        assert_eq!(bad.as_ref().err().map(|p| p.scim_type), Some("invalidPath"));
        assert!(bad.err().is_some_and(|p| p.detail.contains("na me")));
    }

    #[test]
    fn given_attributes_when_projected_then_only_those_and_always_returned_remain() {
        let out = project(&user(), &list("USERNAME,name.givenName,emails.value"), &[]);
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA],
                "id": "1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "a@x"}, {"value": "b@y"}],
            })
        );
    }

    #[test]
    fn given_an_extension_attribute_when_projected_then_its_extension_object_is_kept() {
        let out = project(
            &user(),
            &list("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            &[],
        );
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                "id": "1",
                ENTERPRISE_SCHEMA: {"department": "Sales"},
            })
        );
    }

    #[test]
    fn given_excluded_attributes_when_projected_then_they_are_dropped_except_always() {
        let out = project(
            &user(),
            &[],
            &list(
                "id,schemas,emails,name.familyName,meta,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ),
        );
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA],
                "id": "1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
            })
        );
    }

    #[test]
    fn given_no_parameters_when_projected_then_user_is_unchanged() {
        assert_eq!(project(&user(), &[], &[]), user());
    }
}
