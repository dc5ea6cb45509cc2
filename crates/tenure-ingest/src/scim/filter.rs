//! Evaluation of SCIM filters (RFC 7644 §3.4.2.2) against stored Users, and
//! recognition of the equality lookups an index can answer.

use super::problem::ScimProblem;
use super::schema::{self, AttrType, AttributeDef, ENTERPRISE_SCHEMA, USER_SCHEMA};
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use serde_json::Value;
use std::cmp::Ordering;

/// Longest filter text accepted, to bound parser work on hostile input.
pub const MAX_FILTER_CHARS: usize = 4096;

/// Parses a `filter` query so that malformed input becomes the
/// `invalidFilter` answer RFC 7644 §3.4.2.2 asks for, quoting the filter.
pub fn parse(text: &str) -> Result<Filter, ScimProblem> {
    if text.chars().count() > MAX_FILTER_CHARS {
        return Err(ScimProblem::invalid_filter(format!(
            "filter is longer than {MAX_FILTER_CHARS} characters"
        )));
    }
    text.parse::<Filter>()
        .map_err(|e| ScimProblem::invalid_filter(format!("filter {text:?} is not valid: {e}")))
}

/// Tells whether a stored User satisfies a filter. Never fails: comparisons
/// of incompatible types or unknown attributes are simply false, as RFC 7644
/// §3.4.2.2 leaves no room for per-resource errors in a query.
pub fn matches(filter: &Filter, user: &Value) -> bool {
    match filter {
        Filter::Attr(exp) => {
            let path = exp_path(exp);
            let def = schema::attribute(path).map(|r| r.leaf());
            let values = top_values(user, path);
            eval(exp, &values, def)
        }
        Filter::ValuePath(vp) => {
            let parent = schema::attribute(&AttrPath {
                sub_attr: None,
                ..vp.attr.clone()
            });
            let Some(container) = container_of(user, &vp.attr) else {
                return false;
            };
            let Some(attr) = get_ci(container, &vp.attr.name) else {
                return false;
            };
            let elements: Vec<&Value> = match attr {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            elements
                .into_iter()
                .any(|e| matches_value(&vp.filter, e, parent.map(|r| r.attr)))
        }
        Filter::Not(inner) => !matches(inner, user),
        Filter::And(a, b) => matches(a, user) && matches(b, user),
        Filter::Or(a, b) => matches(a, user) || matches(b, user),
    }
}

/// Tells whether one element of a multi-valued attribute satisfies the filter
/// inside `[...]`; PATCH uses it to select the elements a value path targets.
/// `parent` supplies the sub-attribute definitions (for case-exactness).
pub fn matches_value(filter: &ValFilter, element: &Value, parent: Option<&AttributeDef>) -> bool {
    match filter {
        ValFilter::Attr(exp) => {
            let path = exp_path(exp);
            let def = parent.and_then(|p| p.sub(&path.name));
            let mut values = Vec::new();
            if let Some(v) = get_ci(element, &path.name) {
                collect(v, path.sub_attr.as_deref(), &mut values);
            }
            eval(exp, &values, def)
        }
        ValFilter::Not(inner) => !matches_value(inner, element, parent),
        ValFilter::And(a, b) => {
            matches_value(a, element, parent) && matches_value(b, element, parent)
        }
        ValFilter::Or(a, b) => {
            matches_value(a, element, parent) || matches_value(b, element, parent)
        }
    }
}

/// The attributes a server can index for the lookups IdPs issue before every
/// create (`userName eq "…"`, `externalId eq "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// `userName`; compare case-insensitively (caseExact false).
    UserName,
    /// `externalId`; compare exactly.
    ExternalId,
    /// `id`; compare exactly.
    Id,
    /// enterprise `employeeNumber`; compare case-insensitively.
    EmployeeNumber,
}

/// Recognises a filter that is exactly one `eq` on an indexed attribute with
/// a string value, so the server can answer it without scanning.
pub fn equality_lookup(filter: &Filter) -> Option<(Lookup, String)> {
    let Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value))) = filter
    else {
        return None;
    };
    let resolved = schema::attribute(path)?;
    if resolved.sub.is_some() {
        return None;
    }
    let lookup = match (resolved.enterprise, resolved.attr.name) {
        (false, "userName") => Lookup::UserName,
        (false, "externalId") => Lookup::ExternalId,
        (false, "id") => Lookup::Id,
        (true, "employeeNumber") => Lookup::EmployeeNumber,
        _ => return None,
    };
    Some((lookup, value.clone()))
}

fn exp_path(exp: &AttrExp) -> &AttrPath {
    match exp {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => p,
    }
}

fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(name)
        .or_else(|| schema::key_ci(map, name).and_then(|k| map.get(k)))
}

/// The object holding the attribute: the resource itself for core paths, the
/// extension object for extension URNs.
fn container_of<'a>(user: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match path.uri.as_deref() {
        None => Some(user),
        Some(uri) if uri.eq_ignore_ascii_case(USER_SCHEMA) => Some(user),
        Some(uri) if uri.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) => get_ci(user, ENTERPRISE_SCHEMA),
        Some(uri) => get_ci(user, uri),
    }
}

/// Leaf values a path designates; multi-valued attributes contribute each
/// element, complex elements without a sub-attribute contribute `value`.
fn top_values<'a>(user: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let mut out = Vec::new();
    if let Some(v) = container_of(user, path).and_then(|c| get_ci(c, &path.name)) {
        collect(v, path.sub_attr.as_deref(), &mut out);
    }
    out
}

fn collect<'a>(value: &'a Value, sub: Option<&str>, out: &mut Vec<&'a Value>) {
    match (value, sub) {
        (Value::Array(items), _) => {
            for item in items {
                match item {
                    Value::Array(_) => {}
                    Value::Object(_) => {
                        if let Some(v) = get_ci(item, sub.unwrap_or("value")) {
                            out.push(v);
                        }
                    }
                    scalar if sub.is_none() => out.push(scalar),
                    _ => {}
                }
            }
        }
        (Value::Object(_), Some(sub)) => {
            if let Some(v) = get_ci(value, sub) {
                collect(v, None, out);
            }
        }
        (Value::Null, _) => {}
        (v, None) => out.push(v),
        _ => {}
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn eval(exp: &AttrExp, values: &[&Value], def: Option<&AttributeDef>) -> bool {
    match exp {
        AttrExp::Present(_) => values.iter().any(|v| present(v)),
        AttrExp::Comparison(_, op, CompValue::Null) => {
            let any = values.iter().any(|v| present(v));
            match op {
                CompareOp::Eq => !any,
                CompareOp::Ne => any,
                _ => false,
            }
        }
        AttrExp::Comparison(_, CompareOp::Ne, cv) => {
            !values.iter().any(|v| compare(v, &CompareOp::Eq, cv, def))
        }
        AttrExp::Comparison(_, op, cv) => values.iter().any(|v| compare(v, op, cv, def)),
    }
}

fn ordering_holds(op: &CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare(value: &Value, op: &CompareOp, cv: &CompValue, def: Option<&AttributeDef>) -> bool {
    match (value, cv) {
        (Value::Bool(b), CompValue::True | CompValue::False) => {
            let wanted = matches!(cv, CompValue::True);
            match op {
                CompareOp::Eq => *b == wanted,
                CompareOp::Ne => *b != wanted,
                _ => false,
            }
        }
        (Value::Number(n), CompValue::Number(m)) => {
            let ord = match (n.as_i64(), m.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => match (n.as_f64(), m.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                },
            };
            ord.is_some_and(|o| ordering_holds(op, o))
        }
        (Value::String(s), CompValue::Str(t)) => compare_strings(s, op, t, def),
        _ => false,
    }
}

fn compare_strings(s: &str, op: &CompareOp, t: &str, def: Option<&AttributeDef>) -> bool {
    if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        && def.is_none_or(|d| d.kind == AttrType::DateTime || d.kind == AttrType::String)
        && let (Some(a), Some(b)) = (parse_rfc3339(s), parse_rfc3339(t))
    {
        return ordering_holds(op, a.cmp(&b));
    }
    let case_exact = def.is_some_and(|d| d.case_exact);
    let (s, t) = if case_exact {
        (s.to_string(), t.to_string())
    } else {
        (s.to_lowercase(), t.to_lowercase())
    };
    match op {
        CompareOp::Co => s.contains(&t),
        CompareOp::Sw => s.starts_with(&t),
        CompareOp::Ew => s.ends_with(&t),
        _ => ordering_holds(op, s.cmp(&t)),
    }
}

/// Parses an RFC 3339 timestamp into (seconds since epoch, nanoseconds).
fn parse_rfc3339(text: &str) -> Option<(i64, u32)> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = text.get(start..i.min(start + 9))?;
        let scale = 10u32.pow(9 - u32::try_from(digits.len()).ok()?);
        nanos = digits.parse::<u32>().ok()? * scale;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let secs = h * 3600 + m * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        nanos,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": "2819c223",
            "externalId": "AbC",
            "userName": "BJensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "title": "",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@home.org", "type": "home"}
            ],
            "meta": {"lastModified": "2026-02-01T10:00:00+01:00"},
            ENTERPRISE_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "E1"}}
        })
    }

    fn check(text: &str) -> bool {
        match parse(text) {
            Ok(f) => matches(&f, &user()),
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn given_string_filters_when_matched_then_case_rules_apply() {
        assert!(check(r#"userName eq "bjensen""#));
        assert!(check(r#"USERNAME sw "bj""#));
        assert!(check(r#"name.familyName co "ENS""#));
        assert!(check(r#"name.familyName ew "sen""#));
        assert!(!check(r#"externalId eq "abc""#));
        assert!(check(r#"externalId eq "AbC""#));
        assert!(!check(r#"id eq "2819C223""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "BJENSEN""#
        ));
        assert!(check(r#"userName gt "a" and userName lt "c""#));
    }

    #[test]
    fn given_multi_valued_and_value_paths_when_matched_then_any_element_counts() {
        assert!(check(r#"emails.value co "home.org""#));
        assert!(check(r#"emails co "example.com""#));
        assert!(check(r#"emails[type eq "work" and value co "@example"]"#));
        assert!(!check(r#"emails[type eq "home" and primary eq true]"#));
        assert!(check(r#"emails[TYPE eq "HOME"]"#));
        assert!(check(
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
        ));
    }

    #[test]
    fn given_extension_paths_when_matched_then_extension_object_is_read() {
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "E1""#
        ));
        assert!(!check(r#"employeeNumber eq "701984""#));
    }

    #[test]
    fn given_presence_ne_and_logic_then_rfc_semantics_hold() {
        assert!(check("userName pr"));
        assert!(!check("title pr"));
        assert!(!check("nickName pr"));
        assert!(check(r#"nickName ne "x""#));
        assert!(!check(r#"userName ne "BJENSEN""#));
        assert!(check(r#"not (title pr) or nickName pr"#));
        assert!(check(r#"active eq true"#));
        assert!(!check(r#"active gt false"#));
        assert!(!check(r#"active eq "true""#));
        assert!(!check(r#"userName gt 3"#));
    }

    #[test]
    fn given_datetimes_when_compared_then_instants_are_used() {
        // 2026-02-01T10:00:00+01:00 is 09:00Z
        assert!(check(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#));
        assert!(check(r#"meta.lastModified eq "2026-02-01T09:00:00Z""#));
        assert!(check(r#"meta.lastModified lt "2026-02-01T09:30:00.5Z""#));
        assert!(!check(r#"meta.lastModified ge "2026-02-01T09:00:01Z""#));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00.25Z"),
            Some((951_868_800, 250_000_000))
        );
        assert_eq!(parse_rfc3339("not a date at all!!"), None);
    }

    #[test]
    fn given_bad_filters_when_parsed_then_invalid_filter_quotes_them() {
        let p = parse(r#"userName eq"#).err();
        assert_eq!(p.as_ref().map(|p| p.scim_type), Some("invalidFilter"));
        assert!(p.is_some_and(|p| p.detail.contains("userName eq")));
        let long = format!(r#"userName eq "{}""#, "a".repeat(5000));
        assert_eq!(
            parse(&long).err().map(|p| p.scim_type),
            Some("invalidFilter")
        );
    }

    #[test]
    fn given_single_eq_filters_then_equality_lookup_recognises_indexed_attributes() {
        let lookup = |t: &str| parse(t).ok().and_then(|f| equality_lookup(&f));
        assert_eq!(
            lookup(r#"userName eq "a""#),
            Some((Lookup::UserName, "a".to_string()))
        );
        assert_eq!(
            lookup(r#"EXTERNALID eq "X""#),
            Some((Lookup::ExternalId, "X".to_string()))
        );
        assert_eq!(lookup(r#"id eq "1""#), Some((Lookup::Id, "1".to_string())));
        assert_eq!(
            lookup(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#
            ),
            Some((Lookup::EmployeeNumber, "7".to_string()))
        );
        assert_eq!(lookup(r#"userName eq "a" and active eq true"#), None);
        assert_eq!(lookup(r#"userName co "a""#), None);
        assert_eq!(lookup(r#"title eq "a""#), None);
        assert_eq!(lookup(r#"userName eq 3"#), None);
    }
}
