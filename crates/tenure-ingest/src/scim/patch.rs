//! SCIM PATCH (RFC 7644 §3.5.2) applied to a stored User, tolerant of the
//! dialects Entra ID and Okta actually send.

use super::filter;
use super::problem::ScimProblem;
use super::schema::{
    self, AttrType, AttributeDef, ENTERPRISE_SCHEMA, Mutability, PATCH_OP_SCHEMA, USER_SCHEMA,
};
use scim_v2::filter::{
    AttrExp, AttrPath, CompValue, CompareOp, PatchPath, PatchValuePath, ValFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A PATCH request body; deserialised from the client's JSON so that both
/// `Operations` (RFC) and `operations` (seen in the wild) are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchRequest {
    /// Must list the PatchOp URN when given.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The operations, applied in order.
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<PatchOperation>,
}

/// One PATCH operation as sent; `op` is kept as text because IdPs vary its
/// case (`Replace`, `add`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    /// `add`, `replace` or `remove`, any case.
    pub op: String,
    /// Target path; absent means "the resource itself".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// New value, required for add/replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies a PATCH to a stored User, all operations or none: on error `user`
/// is left untouched. The caller should run
/// [`normalize_user`](super::schema::normalize_user) on the result.
pub fn apply(user: &mut Value, request: &PatchRequest) -> Result<(), ScimProblem> {
    if !request.schemas.is_empty()
        && !request
            .schemas
            .iter()
            .any(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
    {
        return Err(ScimProblem::invalid_syntax(format!(
            "schemas must list {PATCH_OP_SCHEMA}"
        )));
    }
    if request.operations.is_empty() {
        return Err(ScimProblem::invalid_syntax(
            "Operations must hold at least one operation",
        ));
    }
    let mut work = user.clone();
    if !work.is_object() {
        return Err(ScimProblem::invalid_syntax(
            "the stored User is not an object",
        ));
    }
    for op in &request.operations {
        apply_operation(&mut work, op)?;
    }
    tidy_extension(&mut work);
    *user = work;
    Ok(())
}

fn apply_operation(user: &mut Value, op: &PatchOperation) -> Result<(), ScimProblem> {
    let kind = match op.op.to_ascii_lowercase().as_str() {
        "add" => Kind::Add,
        "replace" => Kind::Replace,
        "remove" => Kind::Remove,
        other => {
            return Err(ScimProblem::invalid_syntax(format!(
                "op {other:?} is not add, replace or remove"
            )));
        }
    };
    let path = op.path.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let Some(text) = path else {
        if kind == Kind::Remove {
            return Err(ScimProblem::no_target("a remove operation needs a path"));
        }
        let Some(Value::Object(map)) = op.value.clone() else {
            return Err(ScimProblem::invalid_value(
                "an operation without path needs an object value",
            ));
        };
        return apply_object(user, kind, map, None);
    };
    let parsed = match text.parse::<PatchPath>() {
        Ok(p) => p,
        Err(_) => schema::parse_attr_path(text)
            .map(PatchPath::Attr)
            .ok_or_else(|| ScimProblem::invalid_path(format!("path {text:?} is not valid")))?,
    };
    match parsed {
        PatchPath::Attr(path) => match schema::whole_schema(&path) {
            Some(ENTERPRISE_SCHEMA) => whole_extension(user, kind, op.value.clone(), text),
            Some(_) => match (kind, op.value.clone()) {
                (Kind::Remove, _) => Err(ScimProblem::mutability(format!(
                    "path {text} would remove the whole User"
                ))),
                (_, Some(Value::Object(map))) => apply_object(user, kind, map, None),
                _ => Err(ScimProblem::invalid_value(format!(
                    "path {text} needs an object value"
                ))),
            },
            None => apply_attr(user, kind, &path, op.value.clone(), text),
        },
        PatchPath::Value(vp) => apply_value_path(user, kind, &vp, op.value.clone(), text),
    }
}

/// Applies `{attr: value, …}` (no-path form); `uri` qualifies the keys.
fn apply_object(
    user: &mut Value,
    kind: Kind,
    map: Map<String, Value>,
    uri: Option<&str>,
) -> Result<(), ScimProblem> {
    for (key, value) in map {
        // `schemas` is the server's, at the top and inside an extension object alike
        // (clients serialising an extension model send it there).
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if uri.is_none()
            && (key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA)
                || key.eq_ignore_ascii_case(USER_SCHEMA))
        {
            let Value::Object(inner) = value else {
                return Err(ScimProblem::invalid_value(format!(
                    "attribute {key} must be an object"
                )));
            };
            let uri = if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
                ENTERPRISE_SCHEMA
            } else {
                USER_SCHEMA
            };
            apply_object(user, kind, inner, Some(uri))?;
            continue;
        }
        let mut path = schema::parse_attr_path(&key)
            .ok_or_else(|| ScimProblem::invalid_path(format!("attribute {key:?} is not valid")))?;
        let label = match uri {
            Some(u) => {
                path.uri = Some(u.to_string());
                format!("{u}:{key}")
            }
            None => key.clone(),
        };
        apply_attr(user, kind, &path, Some(value), &label)?;
    }
    Ok(())
}

fn whole_extension(
    user: &mut Value,
    kind: Kind,
    value: Option<Value>,
    label: &str,
) -> Result<(), ScimProblem> {
    if kind == Kind::Remove {
        if let Some(ext) = container_mut(user, true, false) {
            ext.clear();
        }
        return Ok(());
    }
    let Some(Value::Object(map)) = value else {
        return Err(ScimProblem::invalid_value(format!(
            "path {label} needs an object value"
        )));
    };
    apply_object(user, kind, map, Some(ENTERPRISE_SCHEMA))
}

/// The object holding an attribute, renaming other spellings of the
/// extension key to the canonical URN.
fn container_mut(
    user: &mut Value,
    enterprise: bool,
    create: bool,
) -> Option<&mut Map<String, Value>> {
    let root = user.as_object_mut()?;
    if !enterprise {
        return Some(root);
    }
    canonicalize_key(root, ENTERPRISE_SCHEMA);
    if create && !root.get(ENTERPRISE_SCHEMA).is_some_and(Value::is_object) {
        root.insert(ENTERPRISE_SCHEMA.to_string(), Value::Object(Map::new()));
    }
    root.get_mut(ENTERPRISE_SCHEMA)?.as_object_mut()
}

fn canonicalize_key(map: &mut Map<String, Value>, canonical: &str) {
    let stale: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(canonical) && *k != canonical)
        .cloned()
        .collect();
    for k in stale {
        if let Some(v) = map.remove(&k) {
            map.insert(canonical.to_string(), v);
        }
    }
}

fn read_only(label: &str) -> ScimProblem {
    ScimProblem::mutability(format!("attribute {label} is readOnly"))
}

fn unknown(label: &str) -> ScimProblem {
    ScimProblem::invalid_path(format!("attribute {label} is not in the User schema"))
}

/// Entra ID sends `manager` as a bare id string; accept it as `{value: id}`.
fn wrap_bare_reference(def: &AttributeDef, value: Value) -> Value {
    match value {
        Value::String(s)
            if def.kind == AttrType::Complex && !def.multi_valued && def.sub("value").is_some() =>
        {
            let mut m = Map::new();
            m.insert("value".to_string(), Value::String(s));
            Value::Object(m)
        }
        other => other,
    }
}

fn apply_attr(
    user: &mut Value,
    kind: Kind,
    path: &AttrPath,
    value: Option<Value>,
    label: &str,
) -> Result<(), ScimProblem> {
    let r = schema::attribute(path).ok_or_else(|| unknown(label))?;
    let attr = r.attr;
    if attr.mutability == Mutability::ReadOnly
        || r.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(read_only(label));
    }
    if kind == Kind::Remove {
        if attr.required && r.sub.is_none() {
            return Err(ScimProblem::mutability(format!(
                "attribute {label} is required and cannot be removed"
            )));
        }
        let Some(c) = container_mut(user, r.enterprise, false) else {
            return Ok(());
        };
        canonicalize_key(c, attr.name);
        let Some(sub) = r.sub else {
            if attr.mutability == Mutability::Immutable && c.contains_key(attr.name) {
                return Err(ScimProblem::mutability(format!(
                    "attribute {label} is immutable and cannot be removed"
                )));
            }
            c.remove(attr.name);
            return Ok(());
        };
        match c.get_mut(attr.name) {
            Some(Value::Object(o)) => remove_key_ci(o, sub.name),
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(o) = item {
                        remove_key_ci(o, sub.name);
                    }
                }
                items.retain(|i| !matches!(i, Value::Object(o) if o.is_empty()));
            }
            _ => {}
        }
        drop_if_empty(c, attr.name);
        return Ok(());
    }
    let value = value
        .ok_or_else(|| ScimProblem::invalid_value(format!("attribute {label} needs a value")))?;
    let c = container_mut(user, r.enterprise, true)
        .ok_or_else(|| ScimProblem::invalid_syntax("the stored User is not an object"))?;
    canonicalize_key(c, attr.name);
    match r.sub {
        None => set_attr(c, attr, kind, wrap_bare_reference(attr, value), label),
        Some(sub) => {
            let new = schema::normalize_value(sub, value, label)?;
            if attr.multi_valued {
                let slot = c
                    .entry(attr.name)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                if let Value::Array(items) = slot {
                    if items.is_empty() {
                        items.push(Value::Object(Map::new()));
                    }
                    for item in items.iter_mut() {
                        set_sub(item, sub, new.clone());
                    }
                    items.retain(|i| !matches!(i, Value::Object(o) if o.is_empty()));
                }
            } else {
                let slot = c
                    .entry(attr.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                set_sub(slot, sub, new);
            }
            drop_if_empty(c, attr.name);
            Ok(())
        }
    }
}

fn remove_key_ci(map: &mut Map<String, Value>, name: &str) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

fn drop_if_empty(c: &mut Map<String, Value>, name: &str) {
    let empty = match c.get(name) {
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        c.remove(name);
    }
}

/// Sets (or, for `None`, removes) one sub-attribute of an element.
fn set_sub(element: &mut Value, sub: &AttributeDef, value: Option<Value>) {
    if !element.is_object() {
        *element = Value::Object(Map::new());
    }
    if let Value::Object(o) = element {
        remove_key_ci(o, sub.name);
        if let Some(v) = value {
            o.insert(sub.name.to_string(), v);
        }
    }
}

fn set_attr(
    c: &mut Map<String, Value>,
    attr: &AttributeDef,
    kind: Kind,
    value: Value,
    label: &str,
) -> Result<(), ScimProblem> {
    let new = schema::normalize_value(attr, value, label)?;
    if attr.mutability == Mutability::Immutable
        && let Some(existing) = c.get(attr.name).filter(|v| !v.is_null())
    {
        if Some(existing) == new.as_ref() {
            return Ok(());
        }
        return Err(ScimProblem::mutability(format!(
            "attribute {label} is immutable and already set to a different value"
        )));
    }
    let Some(new) = new else {
        if kind == Kind::Replace {
            c.remove(attr.name);
        }
        return Ok(());
    };
    if attr.multi_valued {
        if kind == Kind::Replace {
            c.insert(attr.name.to_string(), new);
            return Ok(());
        }
        let Value::Array(new_items) = new else {
            return Ok(());
        };
        let slot = c
            .entry(attr.name)
            .or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        if let Value::Array(items) = slot {
            let mut primary = None;
            for item in new_items {
                let idx = match items.iter().position(|e| *e == item) {
                    Some(i) => i,
                    None => {
                        items.push(item);
                        items.len() - 1
                    }
                };
                if is_primary(&items[idx]) {
                    primary = Some(idx);
                }
            }
            if let Some(keep) = primary {
                single_primary(items, keep);
            }
        }
        return Ok(());
    }
    match (c.get_mut(attr.name), new) {
        (Some(Value::Object(existing)), Value::Object(incoming)) => {
            for (k, v) in incoming {
                existing.insert(k, v);
            }
        }
        (_, new) => {
            c.insert(attr.name.to_string(), new);
        }
    }
    Ok(())
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// Clears `primary` on every element but `keep` (RFC 7643 §2.4: at most one).
fn single_primary(items: &mut [Value], keep: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && is_primary(item)
            && let Value::Object(o) = item
        {
            o.insert("primary".to_string(), Value::Bool(false));
        }
    }
}

/// Refuses filters naming sub-attributes the attribute does not have, so a
/// typo is reported instead of silently selecting nothing.
fn check_filter(f: &ValFilter, attr: &AttributeDef, label: &str) -> Result<(), ScimProblem> {
    match f {
        ValFilter::Attr(AttrExp::Present(p) | AttrExp::Comparison(p, _, _)) => {
            if p.uri.is_some() || p.sub_attr.is_some() || attr.sub(&p.name).is_none() {
                return Err(ScimProblem::invalid_path(format!(
                    "path {label}: {p} is not a sub-attribute of {}",
                    attr.name
                )));
            }
            Ok(())
        }
        ValFilter::Not(inner) => check_filter(inner, attr, label),
        ValFilter::And(a, b) | ValFilter::Or(a, b) => {
            check_filter(a, attr, label)?;
            check_filter(b, attr, label)
        }
    }
}

/// The element an `eq`-only filter describes, used to create the element a
/// replace/add targets when none exists yet (what Entra ID and Okta expect).
fn element_from_eq(f: &ValFilter, attr: &AttributeDef, out: &mut Map<String, Value>) -> Option<()> {
    match f {
        ValFilter::Attr(AttrExp::Comparison(p, CompareOp::Eq, cv)) => {
            let sub = attr.sub(&p.name)?;
            let v = match cv {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::True => Value::Bool(true),
                CompValue::False => Value::Bool(false),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            let v = schema::normalize_value(sub, v, sub.name).ok()??;
            out.insert(sub.name.to_string(), v);
            Some(())
        }
        ValFilter::And(a, b) => {
            element_from_eq(a, attr, out)?;
            element_from_eq(b, attr, out)
        }
        _ => None,
    }
}

fn apply_value_path(
    user: &mut Value,
    kind: Kind,
    vp: &PatchValuePath,
    value: Option<Value>,
    label: &str,
) -> Result<(), ScimProblem> {
    let r = schema::attribute(&vp.attr).ok_or_else(|| unknown(label))?;
    let attr = r.attr;
    if r.sub.is_some() || !attr.multi_valued {
        return Err(ScimProblem::invalid_path(format!(
            "path {label}: a value filter needs a multi-valued attribute"
        )));
    }
    let sub = match vp.sub_attr.as_deref() {
        Some(name) => Some(attr.sub(name).ok_or_else(|| unknown(label))?),
        None => None,
    };
    if attr.mutability == Mutability::ReadOnly
        || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(read_only(label));
    }
    check_filter(&vp.filter, attr, label)?;
    // What add/replace writes into each selected element.
    let update: Option<(Map<String, Value>, Vec<&'static str>)> = match (kind, sub) {
        (Kind::Remove, _) => None,
        (_, sub) => {
            let value = value.ok_or_else(|| {
                ScimProblem::invalid_value(format!("attribute {label} needs a value"))
            })?;
            let mut set = Map::new();
            let mut unset = Vec::new();
            match sub {
                Some(sub) => match schema::normalize_value(sub, value, label)? {
                    Some(v) => {
                        set.insert(sub.name.to_string(), v);
                    }
                    None => unset.push(sub.name),
                },
                None => {
                    if !value.is_object() {
                        return Err(ScimProblem::invalid_value(format!(
                            "attribute {label} needs an object value"
                        )));
                    }
                    if let Some(Value::Array(mut v)) =
                        schema::normalize_value(attr, Value::Array(vec![value]), label)?
                        && let Some(Value::Object(m)) = v.pop()
                    {
                        set = m;
                    }
                }
            }
            Some((set, unset))
        }
    };
    let Some(c) = container_mut(user, r.enterprise, kind != Kind::Remove) else {
        return Ok(());
    };
    canonicalize_key(c, attr.name);
    let mut items = match c.remove(attr.name) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| filter::matches_value(&vp.filter, e, Some(attr)))
        .map(|(i, _)| i)
        .collect();
    match update {
        None => match sub {
            None => {
                let mut i = 0;
                items.retain(|_| {
                    i += 1;
                    !matched.contains(&(i - 1))
                });
            }
            Some(sub) => {
                for &i in &matched {
                    if let Value::Object(o) = &mut items[i] {
                        remove_key_ci(o, sub.name);
                    }
                }
                items.retain(|e| !matches!(e, Value::Object(o) if o.is_empty()));
            }
        },
        Some((set, unset)) => {
            let mut targets = matched;
            if targets.is_empty() {
                let mut base = Map::new();
                if element_from_eq(&vp.filter, attr, &mut base).is_none() {
                    c.insert(attr.name.to_string(), Value::Array(items));
                    drop_if_empty(c, attr.name);
                    return Err(ScimProblem::no_target(format!(
                        "no value of {} matches {}",
                        attr.name, vp.filter
                    )));
                }
                items.push(Value::Object(base));
                targets.push(items.len() - 1);
            }
            let sets_primary = set.get("primary") == Some(&Value::Bool(true));
            for &i in &targets {
                if let Value::Object(o) = &mut items[i] {
                    for name in &unset {
                        remove_key_ci(o, name);
                    }
                    for (k, v) in &set {
                        remove_key_ci(o, k);
                        o.insert(k.clone(), v.clone());
                    }
                }
            }
            if sets_primary && let Some(&keep) = targets.last() {
                single_primary(&mut items, keep);
            }
            items.retain(|e| !matches!(e, Value::Object(o) if o.is_empty()));
        }
    }
    if !items.is_empty() {
        c.insert(attr.name.to_string(), Value::Array(items));
    }
    Ok(())
}

/// Keeps `schemas` in step with the extension object after a PATCH.
fn tidy_extension(user: &mut Value) {
    let Some(root) = user.as_object_mut() else {
        return;
    };
    let has_ext = matches!(root.get(ENTERPRISE_SCHEMA), Some(Value::Object(o)) if !o.is_empty());
    if !has_ext {
        root.remove(ENTERPRISE_SCHEMA);
    }
    if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
        let listed = schemas.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(ENTERPRISE_SCHEMA))
        });
        if has_ext && !listed {
            schemas.push(Value::String(ENTERPRISE_SCHEMA.to_string()));
        } else if !has_ext {
            schemas.retain(|s| {
                !s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(ENTERPRISE_SCHEMA))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": "1",
            "userName": "bjensen",
            "title": "Boss",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "b@work", "type": "work", "primary": true},
                {"value": "b@home", "type": "home"}
            ],
            ENTERPRISE_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "E1", "displayName": "Old Boss"}}
        })
    }

    fn request(ops: Value) -> PatchRequest {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        match serde_json::from_value(body) {
            Ok(r) => r,
            Err(e) => panic!("bad test request: {e}"),
        }
    }

    fn patched(user: Value, ops: Value) -> Result<Value, ScimProblem> {
        let mut user = user;
        apply(&mut user, &request(ops)).map(|()| user)
    }

    fn refused(user: Value, ops: Value) -> ScimProblem {
        let before = user.clone();
        let mut after = user;
        let err = apply(&mut after, &request(ops)).err();
        assert_eq!(
            after, before,
            "a failed PATCH must leave the user untouched"
        );
        err.unwrap_or(ScimProblem::uniqueness("accepted"))
    }

    #[test]
    fn given_entra_replace_active_false_string_then_active_is_false() {
        let out = patched(
            stored(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        );
        assert_eq!(out.map(|u| u["active"].clone()), Ok(json!(false)));
    }

    #[test]
    fn given_okta_no_path_replace_then_attributes_are_merged() {
        let out = patched(
            stored(),
            json!([{"op": "replace", "value": {"active": false, "name.givenName": "Babs",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}}]),
        );
        let Ok(u) = out else { panic!("{out:?}") };
        assert_eq!(u["active"], false);
        assert_eq!(
            u["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
        assert_eq!(u[ENTERPRISE_SCHEMA]["department"], "Ops");
    }

    #[test]
    fn given_no_emails_when_adding_work_email_value_then_element_is_created() {
        let out = patched(
            json!({"schemas": [USER_SCHEMA], "userName": "a"}),
            json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@x"}]),
        );
        assert_eq!(
            out.map(|u| u["emails"].clone()),
            Ok(json!([{"type": "work", "value": "a@x"}]))
        );
    }

    #[test]
    fn given_emails_when_removing_work_email_then_only_home_remains() {
        let out = patched(
            stored(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        );
        assert_eq!(
            out.map(|u| u["emails"].clone()),
            Ok(json!([{"value": "b@home", "type": "home"}]))
        );
    }

    #[test]
    fn given_manager_replace_then_value_changes() {
        let out = patched(
            stored(),
            json!([{"op": "replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": {"value": "E2"}}]),
        );
        assert_eq!(
            out.map(|u| u[ENTERPRISE_SCHEMA]["manager"]["value"].clone()),
            Ok(json!("E2"))
        );
        let bare = patched(
            stored(),
            json!([{"op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": "E3"}]),
        );
        assert_eq!(
            bare.map(|u| u[ENTERPRISE_SCHEMA]["manager"]["value"].clone()),
            Ok(json!("E3"))
        );
    }

    #[test]
    fn given_title_when_removed_then_it_is_gone_and_absent_removal_is_fine() {
        let out = patched(
            stored(),
            json!([{"op": "remove", "path": "title"}, {"op": "remove", "path": "nickName"}]),
        );
        assert_eq!(out.map(|u| u.get("title").is_none()), Ok(true));
    }

    #[test]
    fn given_sub_attribute_replace_then_only_it_changes() {
        let out = patched(
            stored(),
            json!([{"op": "replace", "path": "name.familyName", "value": "X"}]),
        );
        assert_eq!(
            out.map(|u| u["name"].clone()),
            Ok(json!({"givenName": "Barbara", "familyName": "X"}))
        );
    }

    #[test]
    fn given_value_filter_replace_then_matching_elements_change_and_primary_is_single() {
        let out = patched(
            stored(),
            json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work"},
                {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "true"},
                {"op": "add", "path": "emails", "value": [{"value": "b@home", "type": "home", "primary": true}]}
            ]),
        );
        assert_eq!(
            out.map(|u| u["emails"].clone()),
            Ok(json!([
                {"value": "new@work", "type": "work", "primary": false},
                {"value": "b@home", "type": "home", "primary": true}
            ]))
        );
    }

    #[test]
    fn given_non_eq_filter_without_match_when_replacing_then_no_target() {
        let p = refused(
            stored(),
            json!([{"op": "replace", "path": "emails[value co \"@nowhere\"].value", "value": "x"}]),
        );
        assert_eq!(p.scim_type, "noTarget");
        assert!(p.detail.contains("emails"));
    }

    #[test]
    fn given_bad_targets_then_rfc_errors_name_them() {
        let cases = [
            (
                json!({"op": "replace", "path": "shoeSize", "value": "x"}),
                "invalidPath",
                "shoeSize",
            ),
            (
                json!({"op": "replace", "path": "emails[", "value": "x"}),
                "invalidPath",
                "emails[",
            ),
            (
                json!({"op": "replace", "path": "id", "value": "2"}),
                "mutability",
                "id",
            ),
            (
                json!({"op": "replace", "path": "meta.lastModified", "value": "2"}),
                "mutability",
                "meta",
            ),
            (
                json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}),
                "mutability",
                "displayName",
            ),
            (
                json!({"op": "remove", "path": "userName"}),
                "mutability",
                "userName",
            ),
            (json!({"op": "remove"}), "noTarget", "path"),
            (
                json!({"op": "replace", "path": "active", "value": "maybe"}),
                "invalidValue",
                "active",
            ),
            (
                json!({"op": "replace", "path": "title", "value": {"a": 1}}),
                "invalidValue",
                "title",
            ),
            (
                json!({"op": "replace", "path": "emails[kind eq \"work\"].value", "value": "x"}),
                "invalidPath",
                "kind",
            ),
            (
                json!({"op": "move", "path": "title"}),
                "invalidSyntax",
                "move",
            ),
        ];
        for (op, scim_type, named) in cases {
            // A valid first operation proves atomicity.
            let p = refused(
                stored(),
                json!([{"op": "replace", "path": "title", "value": "T"}, op]),
            );
            assert_eq!(p.scim_type, scim_type, "{named}: {p:?}");
            assert!(p.detail.contains(named), "{named}: {}", p.detail);
        }
    }

    #[test]
    fn given_employee_number_when_same_absent_or_changed_then_it_is_accepted() {
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
        let same = patched(
            stored(),
            json!([{"op": "replace", "path": path, "value": "701984"}]),
        );
        assert_eq!(same, Ok(stored()));
        // RFC 7643 §4.3 makes it readWrite: Tenure's key for the person stays as filed.
        let changed = patched(
            stored(),
            json!([{"op": "replace", "path": path, "value": "9"}]),
        );
        assert_eq!(changed.unwrap()[ENTERPRISE_SCHEMA]["employeeNumber"], "9");
        let fresh = patched(
            json!({"schemas": [USER_SCHEMA], "userName": "a"}),
            json!([{"op": "add", "path": path, "value": "42"}]),
        );
        assert_eq!(
            fresh,
            Ok(
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "userName": "a", ENTERPRISE_SCHEMA: {"employeeNumber": "42"}})
            )
        );
    }

    #[test]
    fn given_lowercase_operations_key_and_wrong_schema_then_handled() {
        let r: Result<PatchRequest, _> = serde_json::from_value(
            json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"op": "add", "path": "nickName", "value": "B"}]}),
        );
        let Ok(r) = r else { panic!("{r:?}") };
        let mut u = stored();
        assert_eq!(apply(&mut u, &r), Ok(()));
        assert_eq!(u["nickName"], "B");
        let wrong = PatchRequest {
            schemas: vec![USER_SCHEMA.to_string()],
            operations: r.operations,
        };
        assert_eq!(
            apply(&mut u, &wrong).err().map(|p| p.scim_type),
            Some("invalidSyntax")
        );
    }

    #[test]
    fn given_multi_valued_add_then_duplicates_are_not_appended() {
        let out = patched(
            stored(),
            json!([{"op": "add", "path": "emails", "value": {"value": "b@home", "type": "home"}},
                   {"op": "add", "path": "roles", "value": [{"value": "admin"}]}]),
        );
        let Ok(u) = out else { panic!("{out:?}") };
        assert_eq!(u["emails"].as_array().map(Vec::len), Some(2));
        assert_eq!(u["roles"], json!([{"value": "admin"}]));
    }

    #[test]
    fn given_remove_of_sub_attribute_in_matching_elements_then_only_it_goes() {
        let out = patched(
            stored(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
        );
        assert_eq!(
            out.map(|u| u["emails"][0].clone()),
            Ok(json!({"value": "b@work", "type": "work"}))
        );
    }
}
