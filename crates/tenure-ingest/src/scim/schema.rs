//! The schemas this server publishes (RFC 7643 §4.1, §4.3, §3.1), held as
//! data so that discovery documents, validation, filtering, projection and
//! PATCH all read the same attribute characteristics.

use super::problem::ScimProblem;
use scim_v2::filter::AttrPath;
use serde_json::{Map, Value, json};

/// Core User schema URN; unqualified attribute names belong to it.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN; its attributes live under this key.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Schema of a list/query response body (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Schema of an error response body (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Schema a PATCH body must declare (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Schema of a bulk request body (RFC 7644 §3.7).
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Schema of a bulk response body (RFC 7644 §3.7).
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Schema of a `POST /.search` body (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Schema of the `/ServiceProviderConfig` document (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Schema of `/ResourceTypes` documents (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema of `/Schemas` documents (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Longest string value accepted in a User, to bound storage and log abuse.
pub const MAX_STRING_CHARS: usize = 4096;

/// SCIM data types (RFC 7643 §2.3); decide which JSON values an attribute accepts
/// and how filters compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// JSON string.
    String,
    /// JSON boolean.
    Boolean,
    /// JSON object with declared sub-attributes.
    Complex,
    /// URI string.
    Reference,
    /// RFC 3339 timestamp string, compared as an instant in filters.
    DateTime,
    /// JSON integer.
    Integer,
    /// JSON number.
    Decimal,
    /// base64 string.
    Binary,
}

/// Who may write an attribute (RFC 7643 §7); drives PATCH `mutability` errors
/// and the silent dropping of server-owned values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Only the server sets it; client values are ignored or refused.
    ReadOnly,
    /// Clients may change it freely.
    ReadWrite,
    /// Clients may set it once; later changes are refused.
    Immutable,
    /// Clients may write it but it is never returned.
    WriteOnly,
}

/// When an attribute appears in responses (RFC 7643 §7); drives projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always returned, even if not requested.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded.
    Default,
    /// Returned only when requested by `attributes`.
    Request,
}

/// Scope of a value's uniqueness (RFC 7643 §7); published for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No uniqueness constraint.
    None,
    /// Unique within this service provider.
    Server,
    /// Globally unique.
    Global,
}

/// One attribute definition with all RFC 7643 §7 characteristics, so that
/// the published schema and the server's behaviour cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    /// Canonical (published) spelling of the name.
    pub name: &'static str,
    /// Data type.
    pub kind: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Whether a resource must carry it.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Write permissions.
    pub mutability: Mutability,
    /// Response inclusion rule.
    pub returned: Returned,
    /// Uniqueness scope.
    pub uniqueness: Uniqueness,
    /// Suggested values (`type` of emails etc.).
    pub canonical_values: &'static [&'static str],
    /// Resource types a reference may point to.
    pub reference_types: &'static [&'static str],
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttributeDef],
    /// Human description published in `/Schemas`.
    pub description: &'static str,
}

impl AttributeDef {
    const fn new(name: &'static str, kind: AttrType, description: &'static str) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description,
        }
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    const fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    const fn canonical(mut self, v: &'static [&'static str]) -> Self {
        self.canonical_values = v;
        self
    }
    const fn refs(mut self, r: &'static [&'static str]) -> Self {
        self.reference_types = r;
        self
    }
    const fn subs(mut self, s: &'static [AttributeDef]) -> Self {
        self.sub_attributes = s;
        self
    }

    /// Finds a sub-attribute case-insensitively (RFC 7643 §2.1), so that
    /// value filters and PATCH paths can use any spelling.
    pub fn sub(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.sub_attributes, name)
    }
}

const fn s(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::new(name, AttrType::String, description)
}

const fn b(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::new(name, AttrType::Boolean, description)
}

const fn c(name: &'static str, description: &'static str) -> AttributeDef {
    AttributeDef::new(name, AttrType::Complex, description)
}

const NAME_SUBS: &[AttributeDef] = &[
    s(
        "formatted",
        "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display.",
    ),
    s("familyName", "The family name of the User."),
    s("givenName", "The given name of the User."),
    s("middleName", "The middle name(s) of the User."),
    s("honorificPrefix", "The honorific prefix(es) of the User."),
    s("honorificSuffix", "The honorific suffix(es) of the User."),
];

const EMAIL_SUBS: &[AttributeDef] = &[
    s("value", "Email address for the User."),
    s(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    s("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
    b(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

const PHONE_SUBS: &[AttributeDef] = &[
    s("value", "Phone number of the User."),
    s(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    s("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    b(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

const ADDRESS_SUBS: &[AttributeDef] = &[
    s(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    s("streetAddress", "The full street address component."),
    s("locality", "The city or locality component."),
    s("region", "The state or region component."),
    s("postalCode", "The zip code or postal code component."),
    s("country", "The country name component."),
    s("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
    b(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

const ROLE_SUBS: &[AttributeDef] = &[
    s("value", "The value of a role."),
    s(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    s("type", "A label indicating the attribute's function."),
    b(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

/// Core User attributes (RFC 7643 §4.1 / §8.7.1), restricted to what the
/// server stores.
static CORE_ATTRIBUTES: &[AttributeDef] = &[
    s(
        "userName",
        "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.",
    )
    .required()
    .unique(Uniqueness::Server),
    c("name", "The components of the user's real name.").subs(NAME_SUBS),
    s(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    s("nickName", "The casual way to address the user in real life."),
    AttributeDef::new(
        "profileUrl",
        AttrType::Reference,
        "A fully qualified URL pointing to a page representing the User's online profile.",
    )
    .refs(&["external"]),
    s("title", "The user's title, such as \"Vice President.\""),
    s(
        "userType",
        "Used to identify the relationship between the organization and the user.",
    ),
    s(
        "preferredLanguage",
        "Indicates the User's preferred written or spoken language.",
    ),
    s(
        "locale",
        "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.",
    ),
    s(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.",
    ),
    b("active", "A Boolean value indicating the User's administrative status."),
    c("emails", "Email addresses for the user.")
        .multi()
        .subs(EMAIL_SUBS),
    c("phoneNumbers", "Phone numbers for the User.")
        .multi()
        .subs(PHONE_SUBS),
    c("addresses", "A physical mailing address for this User.")
        .multi()
        .subs(ADDRESS_SUBS),
    c("roles", "A list of roles for the User that collectively represent who the User is.")
        .multi()
        .subs(ROLE_SUBS),
];

const MANAGER_SUBS: &[AttributeDef] = &[
    s(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    AttributeDef::new(
        "$ref",
        AttrType::Reference,
        "The URI of the SCIM resource representing the User's manager.",
    )
    .refs(&["User"]),
    s("displayName", "The displayName of the User's manager.").mutability(Mutability::ReadOnly),
];

/// Enterprise User extension attributes (RFC 7643 §4.3).
static ENTERPRISE_ATTRIBUTES: &[AttributeDef] = &[
    s(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization. Tenure files a person under the employeeNumber (else the userName) given when the User is created; a later change is kept with the User and does not file them anew.",
    ),
    s("costCenter", "Identifies the name of a cost center."),
    s("organization", "Identifies the name of an organization."),
    s("division", "Identifies the name of a division."),
    s("department", "Identifies the name of a department."),
    c("manager", "The User's manager.").subs(MANAGER_SUBS),
];

const META_SUBS: &[AttributeDef] = &[
    s("resourceType", "The name of the resource type of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
    AttributeDef::new(
        "created",
        AttrType::DateTime,
        "The DateTime that the resource was added to the service provider.",
    )
    .mutability(Mutability::ReadOnly),
    AttributeDef::new(
        "lastModified",
        AttrType::DateTime,
        "The most recent DateTime that the details of this resource were updated at the service provider.",
    )
    .mutability(Mutability::ReadOnly),
    AttributeDef::new("location", AttrType::Reference, "The URI of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .refs(&["uri"]),
    s("version", "The version of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
];

/// Common attributes (RFC 7643 §3.1), present on every resource but not part
/// of the published User schema (§8.7.1).
static COMMON_ATTRIBUTES: &[AttributeDef] = &[
    s(
        "id",
        "A unique identifier for a SCIM resource as defined by the service provider.",
    )
    .case_exact()
    .mutability(Mutability::ReadOnly)
    .returned(Returned::Always)
    .unique(Uniqueness::Server),
    s(
        "externalId",
        "A String that is an identifier for the resource as defined by the provisioning client.",
    )
    .case_exact(),
    c("meta", "A complex attribute containing resource metadata.")
        .mutability(Mutability::ReadOnly)
        .subs(META_SUBS),
];

/// The core User attribute table, for callers that need to iterate it.
pub fn core_attributes() -> &'static [AttributeDef] {
    CORE_ATTRIBUTES
}

/// The enterprise extension attribute table, for callers that need to iterate it.
pub fn enterprise_attributes() -> &'static [AttributeDef] {
    ENTERPRISE_ATTRIBUTES
}

/// The common attribute table (`id`, `externalId`, `meta`).
pub fn common_attributes() -> &'static [AttributeDef] {
    COMMON_ATTRIBUTES
}

fn find(defs: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    defs.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Finds a top-level attribute of the core User schema or the common
/// attributes, case-insensitively: the keys of a resource body are resolved
/// with it.
pub fn core_attribute(name: &str) -> Option<&'static AttributeDef> {
    find(COMMON_ATTRIBUTES, name).or_else(|| find(CORE_ATTRIBUTES, name))
}

/// Finds an attribute of the enterprise extension case-insensitively.
pub fn enterprise_attribute(name: &str) -> Option<&'static AttributeDef> {
    find(ENTERPRISE_ATTRIBUTES, name)
}

/// What an attribute path points at, so that callers learn at once where the
/// value lives and which characteristics govern it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The top-level attribute.
    pub attr: &'static AttributeDef,
    /// The sub-attribute, when the path has one.
    pub sub: Option<&'static AttributeDef>,
    /// True when the attribute lives in the enterprise extension object.
    pub enterprise: bool,
}

impl Resolved {
    /// The definition of the value the path designates (the sub-attribute if
    /// any), which is what type checks and comparisons must use.
    pub fn leaf(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

/// Which schema a URN names, case-insensitively.
fn schema_of_uri(uri: &str) -> Option<&'static str> {
    [USER_SCHEMA, ENTERPRISE_SCHEMA]
        .into_iter()
        .find(|u| u.eq_ignore_ascii_case(uri))
}

/// Resolves a (possibly URN-qualified, any-case) path to its definitions.
/// Unqualified names are the core schema's (RFC 7644 §3.10); the enterprise
/// extension's attributes need their URN. Returns `None` for anything the
/// server does not know.
pub fn attribute(path: &AttrPath) -> Option<Resolved> {
    let (attr, enterprise) = match path.uri.as_deref() {
        None => (core_attribute(&path.name)?, false),
        Some(uri) => match schema_of_uri(uri)? {
            ENTERPRISE_SCHEMA => (enterprise_attribute(&path.name)?, true),
            _ => (core_attribute(&path.name)?, false),
        },
    };
    let sub = match path.sub_attr.as_deref() {
        None => None,
        Some(name) => Some(attr.sub(name)?),
    };
    Some(Resolved {
        attr,
        sub,
        enterprise,
    })
}

/// Recognises a path that names a whole schema rather than an attribute
/// (`urn:…:enterprise:2.0:User` parses as URI `urn:…:2.0` plus name `User`);
/// PATCH and projection treat such a path as "the whole extension object".
pub fn whole_schema(path: &AttrPath) -> Option<&'static str> {
    if path.sub_attr.is_some() {
        return None;
    }
    let full = match path.uri.as_deref() {
        Some(uri) => format!("{uri}:{}", path.name),
        None => path.name.clone(),
    };
    schema_of_uri(&full)
}

/// Parses a plain attribute path (`name.givenName`, `urn:…:User:manager.$ref`)
/// without filter syntax. It exists because the filter grammar cannot spell
/// `$ref`, which the `attributes` query parameter and PATCH keys may use.
pub fn parse_attr_path(text: &str) -> Option<AttrPath> {
    let text = text.trim();
    let (uri, rest) = match text.rsplit_once(':') {
        Some((uri, rest)) => {
            if !uri.to_ascii_lowercase().starts_with("urn:") || uri.len() <= 4 {
                return None;
            }
            (Some(uri.to_string()), rest)
        }
        None => (None, text),
    };
    let (name, sub_attr) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let valid = |n: &str| {
        let mut chars = n.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(name) || !sub_attr.is_none_or(valid) {
        return None;
    }
    Some(AttrPath {
        uri,
        name: name.to_string(),
        sub_attr: sub_attr.map(str::to_string),
    })
}

fn attribute_document(def: &AttributeDef) -> Value {
    let kind = match def.kind {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Complex => "complex",
        AttrType::Reference => "reference",
        AttrType::DateTime => "dateTime",
        AttrType::Integer => "integer",
        AttrType::Decimal => "decimal",
        AttrType::Binary => "binary",
    };
    let mutability = match def.mutability {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    };
    let returned = match def.returned {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    };
    let uniqueness = match def.uniqueness {
        Uniqueness::None => "none",
        Uniqueness::Server => "server",
        Uniqueness::Global => "global",
    };
    let mut doc = json!({
        "name": def.name,
        "type": kind,
        "multiValued": def.multi_valued,
        "description": def.description,
        "required": def.required,
        "caseExact": def.case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    });
    if let Some(obj) = doc.as_object_mut() {
        if !def.canonical_values.is_empty() {
            obj.insert("canonicalValues".into(), json!(def.canonical_values));
        }
        if def.kind == AttrType::Reference {
            obj.insert("referenceTypes".into(), json!(def.reference_types));
        }
        if def.kind == AttrType::Complex {
            let subs: Vec<Value> = def.sub_attributes.iter().map(attribute_document).collect();
            obj.insert("subAttributes".into(), Value::Array(subs));
        }
    }
    doc
}

fn schema_document(
    base: &str,
    id: &str,
    name: &str,
    description: &str,
    defs: &[AttributeDef],
) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": defs.iter().map(attribute_document).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{id}", base.trim_end_matches('/')),
        },
    })
}

/// The `/Schemas` resources (RFC 7643 §7) for the core User and the
/// enterprise extension, generated from the same table the server enforces.
/// `base` is the SCIM base URL without trailing slash.
pub fn schema_documents(base: &str) -> Vec<Value> {
    vec![
        schema_document(base, USER_SCHEMA, "User", "User Account", CORE_ATTRIBUTES),
        schema_document(
            base,
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            "Enterprise User",
            ENTERPRISE_ATTRIBUTES,
        ),
    ]
}

/// The `User` ResourceType (RFC 7643 §6), which tells clients the endpoint and
/// that the enterprise extension is optional.
pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/User", base.trim_end_matches('/')),
        },
    })
}

/// Limits the server enforces and must therefore publish in
/// `/ServiceProviderConfig`, so clients can size their requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// Largest number of operations in one bulk request.
    pub bulk_max_operations: usize,
    /// Largest bulk request body in bytes.
    pub bulk_max_payload_bytes: usize,
    /// Largest number of resources one filtered query returns.
    pub filter_max_results: usize,
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5), advertising exactly
/// the features this library implements.
pub fn service_provider_config(
    base: &str,
    limits: &ProviderLimits,
    documentation_uri: Option<&str>,
) -> Value {
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": limits.bulk_max_operations,
            "maxPayloadSize": limits.bulk_max_payload_bytes,
        },
        "filter": {"supported": true, "maxResults": limits.filter_max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "http://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base.trim_end_matches('/')),
        },
    });
    if let (Some(uri), Some(obj)) = (documentation_uri, doc.as_object_mut()) {
        obj.insert("documentationUri".into(), Value::String(uri.to_string()));
    }
    doc
}

/// Finds a key of a JSON object case-insensitively, because clients spell
/// attribute names freely (RFC 7643 §2.1).
pub fn key_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name))
}

/// Checks a client value against an attribute definition and brings it to
/// canonical form (canonical sub-attribute names, `"true"` → `true`, a single
/// value wrapped for multi-valued attributes, readOnly sub-attributes and
/// nulls dropped). Shared by resource bodies and PATCH values so both are
/// held to the same rules. `Ok(None)` means "unassigned".
pub fn normalize_value(
    def: &AttributeDef,
    value: Value,
    label: &str,
) -> Result<Option<Value>, ScimProblem> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        if value.is_array() {
            return Err(ScimProblem::invalid_value(format!(
                "attribute {label} is single-valued but an array was given"
            )));
        }
        return normalize_single(def, value, label);
    }
    let items = match value {
        Value::Array(items) => items,
        single @ (Value::Object(_) | Value::String(_)) => vec![single],
        _ => {
            return Err(ScimProblem::invalid_value(format!(
                "attribute {label} is multi-valued and needs an array"
            )));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.is_array() {
            return Err(ScimProblem::invalid_value(format!(
                "attribute {label} holds a nested array"
            )));
        }
        if let Some(v) = normalize_single(def, item, label)? {
            out.push(v);
        }
    }
    let primaries = out
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimProblem::invalid_value(format!(
            "attribute {label} has more than one value with primary true"
        )));
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Array(out))
    })
}

/// Converts the `"True"`/`"false"` strings some IdPs send for booleans.
pub fn boolean_quirk(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn normalize_single(
    def: &AttributeDef,
    value: Value,
    label: &str,
) -> Result<Option<Value>, ScimProblem> {
    let wrong = |expected: &str| {
        Err(ScimProblem::invalid_value(format!(
            "attribute {label} must be {expected}"
        )))
    };
    match def.kind {
        AttrType::Complex => {
            let Value::Object(map) = value else {
                return wrong("an object");
            };
            let mut out = Map::new();
            for (key, v) in map {
                let Some(sub) = def.sub(&key) else {
                    return Err(ScimProblem::invalid_value(format!(
                        "attribute {label}.{key} is not in the User schema"
                    )));
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                let sub_label = format!("{label}.{}", sub.name);
                if let Some(v) = normalize_value(sub, v, &sub_label)? {
                    out.insert(sub.name.to_string(), v);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
        AttrType::Boolean => match boolean_quirk(&value) {
            Some(b) => Ok(Some(Value::Bool(b))),
            None => wrong("a boolean"),
        },
        AttrType::Integer => match &value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(value)),
            _ => wrong("an integer"),
        },
        AttrType::Decimal => match &value {
            Value::Number(_) => Ok(Some(value)),
            _ => wrong("a number"),
        },
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => {
            let Value::String(text) = &value else {
                return wrong("a string");
            };
            if text.chars().count() > MAX_STRING_CHARS {
                return Err(ScimProblem::invalid_value(format!(
                    "attribute {label} is longer than {MAX_STRING_CHARS} characters"
                )));
            }
            if text.contains('\0') {
                return Err(ScimProblem::invalid_value(format!(
                    "attribute {label} contains a NUL character"
                )));
            }
            Ok(Some(value))
        }
    }
}

/// Merges `incoming` into `target[key]`: objects merge key by key, anything
/// else replaces.
fn merge_into(target: &mut Map<String, Value>, key: &str, incoming: Value) {
    match (target.get_mut(key), incoming) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                existing.insert(k, v);
            }
        }
        (_, incoming) => {
            target.insert(key.to_string(), incoming);
        }
    }
}

/// Server-owned top-level attributes a client may echo back; they are
/// dropped, not refused.
/// Attributes a client may send that Tenure drops without a word: `groups` is the
/// server's, and a `password` (which IdPs with password sync send) is never held.
const IGNORED_READ_ONLY: &[&str] = &["groups", "password"];

fn put_attribute(
    target: &mut Map<String, Value>,
    enterprise: bool,
    key: &str,
    value: Value,
) -> Result<(), ScimProblem> {
    let (name, sub) = match key.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (key, None),
    };
    let def = if enterprise {
        enterprise_attribute(name)
    } else {
        core_attribute(name)
    };
    let Some(def) = def else {
        if !enterprise
            && IGNORED_READ_ONLY
                .iter()
                .any(|i| i.eq_ignore_ascii_case(name))
        {
            return Ok(());
        }
        let schema = if enterprise {
            "the enterprise User extension"
        } else {
            "the User schema"
        };
        return Err(ScimProblem::invalid_value(format!(
            "attribute {key} is not in {schema}"
        )));
    };
    if def.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let value = match sub {
        None => value,
        Some(sub) if def.kind == AttrType::Complex && !def.multi_valued => {
            let mut m = Map::new();
            m.insert(sub.to_string(), value);
            Value::Object(m)
        }
        Some(_) => {
            return Err(ScimProblem::invalid_value(format!(
                "attribute {key} cannot be set by a dotted name"
            )));
        }
    };
    // Remove other spellings of the same attribute before inserting.
    let stale: Vec<String> = target
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(def.name) && *k != def.name)
        .cloned()
        .collect();
    for k in stale {
        if let Some(v) = target.remove(&k) {
            target.insert(def.name.to_string(), v);
        }
    }
    if let Some(v) = normalize_value(def, value, def.name)? {
        merge_into(target, def.name, v);
    }
    Ok(())
}

/// Brings a client-sent User (POST/PUT body, or a PATCH result) to the
/// canonical stored form and refuses what the schema does not allow; see the
/// crate documentation of each rule. Runs before anything is stored so that
/// storage, filters and responses only ever see canonical data.
pub fn normalize_user(user: &mut Value) -> Result<(), ScimProblem> {
    let Value::Object(input) = user else {
        return Err(ScimProblem::invalid_syntax("a User must be a JSON object"));
    };
    let input = std::mem::take(input);
    let mut core = Map::new();
    let mut ext = Map::new();
    let mut schemas: Option<Value> = None;
    let ext_prefix = format!("{ENTERPRISE_SCHEMA}:");
    let core_prefix = format!("{USER_SCHEMA}:");
    let mut deferred = Vec::new();
    for (key, value) in input {
        let lower = key.to_ascii_lowercase();
        if key.eq_ignore_ascii_case("schemas") {
            schemas = Some(value);
        } else if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
            match value {
                Value::Null => {}
                Value::Object(map) => {
                    for (k, v) in map {
                        // The server's, as at the top level.
                        if k.eq_ignore_ascii_case("schemas") {
                            continue;
                        }
                        put_attribute(&mut ext, true, &k, v)?;
                    }
                }
                _ => {
                    return Err(ScimProblem::invalid_value(format!(
                        "attribute {ENTERPRISE_SCHEMA} must be an object"
                    )));
                }
            }
        } else if lower.starts_with(&ext_prefix.to_ascii_lowercase()) {
            deferred.push((true, key[ext_prefix.len()..].to_string(), value));
        } else if lower.starts_with(&core_prefix.to_ascii_lowercase()) {
            deferred.push((false, key[core_prefix.len()..].to_string(), value));
        } else if lower.starts_with("urn:") {
            // An extension this server does not know: kept verbatim.
            core.insert(key, value);
        } else {
            put_attribute(&mut core, false, &key, value)?;
        }
    }
    // URN-qualified keys are applied last so they win over the plain form.
    for (enterprise, key, value) in deferred {
        let target = if enterprise { &mut ext } else { &mut core };
        put_attribute(target, enterprise, &key, value)?;
    }

    let mut listed: Vec<String> = Vec::new();
    match schemas {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Value::String(urn) = item else {
                    return Err(ScimProblem::invalid_value(
                        "attribute schemas must be an array of strings",
                    ));
                };
                let urn = schema_of_uri(&urn).map_or(urn, str::to_string);
                if !listed.iter().any(|l| l.eq_ignore_ascii_case(&urn)) {
                    listed.push(urn);
                }
            }
        }
        Some(_) => {
            return Err(ScimProblem::invalid_value(
                "attribute schemas must be an array of strings",
            ));
        }
    }
    listed.retain(|u| u != USER_SCHEMA && u != ENTERPRISE_SCHEMA);
    listed.insert(0, USER_SCHEMA.to_string());
    if !ext.is_empty() {
        listed.insert(1, ENTERPRISE_SCHEMA.to_string());
        core.insert(ENTERPRISE_SCHEMA.to_string(), Value::Object(ext));
    }
    core.insert(
        "schemas".to_string(),
        Value::Array(listed.into_iter().map(Value::String).collect()),
    );
    *user = Value::Object(core);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> AttrPath {
        parse_attr_path(text).unwrap_or_else(|| AttrPath::with_name("unparsable"))
    }

    #[test]
    fn given_urn_qualified_paths_when_resolved_then_core_and_extension_are_found() {
        // given
        let core = path("urn:ietf:params:scim:schemas:core:2.0:User:userName");
        let ext = path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        // when
        let core = attribute(&core);
        let ext = attribute(&ext);
        // then
        assert_eq!(
            core.map(|r| (r.attr.name, r.enterprise)),
            Some(("userName", false))
        );
        assert_eq!(
            ext.map(|r| (r.attr.name, r.sub.map(|s| s.name), r.enterprise)),
            Some(("manager", Some("value"), true))
        );
    }

    #[test]
    fn given_any_case_name_when_resolved_then_canonical_definition_is_returned() {
        let r = attribute(&path("NAME.FamilyName"));
        assert_eq!(r.map(|r| r.leaf().name), Some("familyName"));
        assert!(attribute(&path("password")).is_none());
        assert!(attribute(&path("employeeNumber")).is_none());
        assert_eq!(
            attribute(&path("id")).map(|r| r.attr.case_exact),
            Some(true)
        );
        assert_eq!(
            attribute(&path("externalId")).map(|r| r.attr.case_exact),
            Some(true)
        );
    }

    #[test]
    fn given_the_extension_urn_when_checked_then_it_is_a_whole_schema() {
        assert_eq!(
            whole_schema(&path(ENTERPRISE_SCHEMA)),
            Some(ENTERPRISE_SCHEMA)
        );
        assert_eq!(whole_schema(&path("title")), None);
    }

    #[test]
    fn given_schema_documents_then_every_attribute_is_well_formed() {
        // given
        let docs = schema_documents("https://h/scim/v2");
        // then
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["id"], USER_SCHEMA);
        assert_eq!(docs[0]["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(
            docs[1]["meta"]["location"],
            format!("https://h/scim/v2/Schemas/{ENTERPRISE_SCHEMA}")
        );
        fn check(attr: &Value) {
            for key in [
                "name",
                "type",
                "multiValued",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
                "description",
            ] {
                assert!(attr.get(key).is_some(), "{key} missing in {attr}");
            }
            if attr["type"] == "reference" {
                assert!(attr["referenceTypes"].is_array());
            }
            if attr["type"] == "complex" {
                let subs = attr["subAttributes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(!subs.is_empty());
                subs.iter().for_each(check);
            }
        }
        for doc in &docs {
            let attrs = doc["attributes"].as_array().cloned().unwrap_or_default();
            assert!(!attrs.is_empty());
            attrs.iter().for_each(check);
            assert!(
                !attrs
                    .iter()
                    .any(|a| a["name"] == "id" || a["name"] == "password")
            );
        }
        let emp = &docs[1]["attributes"][0];
        assert_eq!(emp["name"], "employeeNumber");
        assert_eq!(emp["mutability"], "readWrite");
        let user_name = &docs[0]["attributes"][0];
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
    }

    #[test]
    fn given_limits_when_config_built_then_they_are_published() {
        let limits = ProviderLimits {
            bulk_max_operations: 100,
            bulk_max_payload_bytes: 1_048_576,
            filter_max_results: 200,
        };
        let doc = service_provider_config("https://h", &limits, Some("https://docs"));
        assert_eq!(doc["bulk"]["maxOperations"], 100);
        assert_eq!(doc["bulk"]["maxPayloadSize"], 1_048_576);
        assert_eq!(doc["filter"]["maxResults"], 200);
        assert_eq!(doc["etag"]["supported"], true);
        assert_eq!(doc["sort"]["supported"], false);
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(doc["documentationUri"], "https://docs");
        assert_eq!(doc["meta"]["location"], "https://h/ServiceProviderConfig");
        let rt = user_resource_type("https://h");
        assert_eq!(rt["schemaExtensions"][0]["required"], false);
        assert_eq!(rt["meta"]["location"], "https://h/ResourceTypes/User");
    }

    #[test]
    fn given_a_quirky_body_when_normalized_then_it_is_canonical() {
        // given
        let mut user = json!({
            "schemas": [USER_SCHEMA],
            "id": "client-chosen",
            "meta": {"resourceType": "User"},
            "groups": [{"value": "g"}],
            "username": "bjensen",
            "Active": "False",
            "title": null,
            "phoneNumbers": [],
            "emails": {"Value": "b@x", "primary": "true"},
            "name": {"givenname": "Barbara"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            ENTERPRISE_SCHEMA: {"Manager": {"value": "E1", "displayName": "Boss"}},
            "urn:example:custom:1.0": {"anything": 1},
        });
        // when
        let result = normalize_user(&mut user);
        // then
        assert_eq!(result, Ok(()));
        assert_eq!(
            user,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                "userName": "bjensen",
                "active": false,
                "emails": [{"value": "b@x", "primary": true}],
                "name": {"givenName": "Barbara"},
                ENTERPRISE_SCHEMA: {"department": "Sales", "manager": {"value": "E1"}},
                "urn:example:custom:1.0": {"anything": 1},
            })
        );
    }

    #[test]
    fn given_schemas_listing_an_empty_extension_when_normalized_then_it_is_dropped() {
        let mut user =
            json!({"schemas": [ENTERPRISE_SCHEMA], "userName": "a", ENTERPRISE_SCHEMA: {}});
        assert_eq!(normalize_user(&mut user), Ok(()));
        assert_eq!(user, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
    }

    fn refused(body: Value) -> ScimProblem {
        let mut body = body;
        normalize_user(&mut body)
            .err()
            .unwrap_or(ScimProblem::uniqueness("accepted"))
    }

    #[test]
    fn given_invalid_bodies_when_normalized_then_invalid_value_names_the_attribute() {
        let cases = [
            (json!({"userName": "a", "active": "yes"}), "active"),
            (json!({"userName": {"x": 1}}), "userName"),
            (json!({"userName": "a", "emails": 5}), "emails"),
            (
                json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
                "emails",
            ),
            (json!({"userName": "a".repeat(4097)}), "userName"),
            (json!({"userName": "a\u{0}b"}), "userName"),
            (json!({"userName": "a", "shoeSize": 42}), "shoeSize"),
            (json!({"userName": "a", "name": {"nick": "x"}}), "name.nick"),
            (
                json!({"userName": "a", ENTERPRISE_SCHEMA: {"floor": "3"}}),
                "floor",
            ),
            (json!({"userName": "a", "title": ["x"]}), "title"),
        ];
        for (body, attr) in cases {
            let p = refused(body);
            assert_eq!(p.scim_type, "invalidValue", "{attr}: {p:?}");
            assert!(p.detail.contains(attr), "{attr}: {}", p.detail);
        }
        assert!(
            refused(json!({"userName": "a", "shoeSize": 1}))
                .detail
                .contains("not in the User schema")
        );
    }
}
