//! The SCIM JSON this connector reads and writes (RFC 7643 section 4, RFC 7644
//! sections 3.3, 3.4.2, 3.5.2 and 3.12), reduced to the attributes it needs. Unknown
//! attributes are ignored, so a service provider's schema extensions pass by.

use serde::Deserialize;
use serde_json::{Value, json};
use tenure_core::TargetAccount;

/// The core User schema, named in every user this connector creates.
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The PATCH message schema, named in every PATCH request.
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A user as the service provider returns it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    /// The service provider's id, which group members refer to.
    pub id: String,
    /// What Tenure calls the holder's account name.
    #[serde(default)]
    pub user_name: String,
    /// Optional in RFC 7643: absent means the service provider has no notion of it.
    #[serde(default)]
    pub active: Option<bool>,
}

impl User {
    /// Whether the user may sign in; a user without `active` is taken as active,
    /// because nothing on the service provider disables it.
    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(true)
    }
}

/// A group as the service provider returns it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Group {
    /// The service provider's id, which PATCH addresses.
    pub id: String,
    /// The group's name, which entitlements carry as their resource.
    #[serde(default)]
    pub display_name: String,
    /// Absent (or null) when the group has no members, as many servers answer.
    #[serde(default)]
    pub members: Option<Vec<Member>>,
}

impl Group {
    /// The group's members (none when the server left the attribute out).
    pub fn members(&self) -> &[Member] {
        self.members.as_deref().unwrap_or_default()
    }

    /// Whether the user with id `user_id` is a direct member.
    pub fn has_member(&self, user_id: &str) -> bool {
        self.members().iter().any(|m| m.value == user_id)
    }
}

/// One member of a group: a user, or a nested group.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Member {
    /// The member's id.
    pub value: String,
    /// `User` or `Group` when the server says which.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl Member {
    /// Whether the server says this member is a nested group (not a user).
    pub fn is_group(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("group"))
    }
}

/// A page of a query's results (RFC 7644 section 3.4.2).
#[derive(Debug, Deserialize)]
pub(crate) struct ListResponse<T> {
    /// How many resources match in all, over every page; required by RFC 7644, but
    /// tolerated missing (then pages are read until a short one).
    #[serde(rename = "totalResults", default)]
    pub total_results: Option<u64>,
    /// This page's resources; servers leave the attribute out of an empty page.
    #[serde(rename = "Resources", alias = "resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

/// An error response (RFC 7644 section 3.12): what the operator is told.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    /// The human-readable explanation.
    #[serde(default)]
    pub detail: Option<String>,
    /// The machine-readable kind (`uniqueness`, `invalidFilter`, …).
    #[serde(default)]
    pub scim_type: Option<String>,
}

/// A resource that a filter looks up by one name.
pub(crate) trait Named {
    /// The name the filter compared.
    fn name(&self) -> &str;
}

impl Named for User {
    fn name(&self) -> &str {
        &self.user_name
    }
}

impl Named for Group {
    fn name(&self) -> &str {
        &self.display_name
    }
}

/// The filter `<attribute> eq "<value>"`. The value is written as a JSON string, as
/// RFC 7644 section 3.4.2.2 requires (`"` and `\` escaped, control characters too),
/// so no name can change the filter's meaning.
pub(crate) fn eq_filter(attribute: &str, value: &str) -> String {
    format!("{attribute} eq {}", Value::from(value))
}

/// The one resource of a filter's results that is the one wanted. `userName` and a
/// group's `displayName` compare without case in RFC 7643, so a server may return
/// near-namesakes: an exact match wins, a single match ignoring case is accepted, and
/// anything else ambiguous is refused rather than guessed (a wrong group would grant
/// the wrong access). A server that ignores the filter returns others, never taken.
pub(crate) fn pick<T: Named>(found: Vec<T>, wanted: &str) -> Result<Option<T>, String> {
    let folded = wanted.to_lowercase();
    let mut matches: Vec<T> = found
        .into_iter()
        .filter(|item| item.name().to_lowercase() == folded)
        .collect();
    let exact = matches.iter().filter(|m| m.name() == wanted).count();
    if exact > 1 {
        return Err(format!("{exact} resources are named exactly {wanted:?}"));
    }
    if let Some(at) = matches.iter().position(|m| m.name() == wanted) {
        return Ok(Some(matches.swap_remove(at)));
    }
    match matches.len() {
        0 => Ok(None),
        1 => Ok(matches.pop()),
        n => Err(format!(
            "{n} resources are named {wanted:?} when case is ignored, none exactly"
        )),
    }
}

/// The user created for `holder` (RFC 7643 section 4.1): the account name as
/// `userName`, active, with the name, work e-mail and source key Tenure knows, so the
/// application shows a person rather than a bare login.
pub(crate) fn new_user(holder: &TargetAccount) -> Value {
    let mut user = json!({
        "schemas": [USER_SCHEMA],
        "userName": holder.name,
        "active": true,
    });
    if !holder.display_name.is_empty() {
        user["displayName"] = json!(holder.display_name);
    }
    if !holder.email.is_empty() {
        user["emails"] = json!([{"value": holder.email, "type": "work", "primary": true}]);
    }
    if !holder.source_person_id.is_empty() {
        user["externalId"] = json!(holder.source_person_id);
    }
    user
}

/// A PATCH request of one operation (RFC 7644 section 3.5.2).
fn patch(operation: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [operation]})
}

/// The PATCH that adds the user `user_id` to a group's members.
pub(crate) fn add_member(user_id: &str) -> Value {
    patch(json!({"op": "add", "path": "members", "value": [{"value": user_id}]}))
}

/// The PATCH that removes only the member `user_id` from a group (a value filter in
/// the path, so the other members stay).
pub(crate) fn remove_member(user_id: &str) -> Value {
    patch(json!({"op": "remove", "path": format!("members[{}]", eq_filter("value", user_id))}))
}

/// The PATCH that enables or disables a user.
pub(crate) fn set_active(active: bool) -> Value {
    patch(json!({"op": "replace", "path": "active", "value": active}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> User {
        User {
            id: format!("id-{name}"),
            user_name: name.to_owned(),
            active: None,
        }
    }

    #[test]
    fn a_filter_value_is_a_json_string_so_quotes_and_backslashes_cannot_escape_it() {
        assert_eq!(eq_filter("userName", "grace"), r#"userName eq "grace""#);
        assert_eq!(
            eq_filter("userName", r#"a" or userName pr or "\"#),
            r#"userName eq "a\" or userName pr or \"\\""#
        );
        assert_eq!(
            remove_member(r#"x"y"#)["Operations"][0]["path"],
            r#"members[value eq "x\"y"]"#
        );
    }

    #[test]
    fn an_exact_name_wins_one_caseless_match_is_taken_and_others_are_refused() {
        let found = vec![user("Grace"), user("grace"), user("gracie")];
        assert_eq!(pick(found, "grace").unwrap().unwrap().id, "id-grace");
        assert_eq!(
            pick(vec![user("GRACE")], "grace").unwrap().unwrap().id,
            "id-GRACE"
        );
        assert!(pick(vec![user("gracie")], "grace").unwrap().is_none());
        assert!(pick(vec![user("Grace"), user("GRACE")], "grace").is_err());
        assert!(pick(vec![user("grace"), user("grace")], "grace").is_err());
    }

    #[test]
    fn a_new_user_carries_only_what_the_holder_says() {
        let bare = new_user(&TargetAccount {
            name: "svc-1".into(),
            ..Default::default()
        });
        assert_eq!(
            bare,
            json!({"schemas": [USER_SCHEMA], "userName": "svc-1", "active": true})
        );
        let full = new_user(&TargetAccount {
            name: "grace".into(),
            email: "grace@example.com".into(),
            display_name: "Grace Hopper".into(),
            source_person_id: "E700".into(),
            ..Default::default()
        });
        assert_eq!(full["externalId"], "E700");
        assert_eq!(full["displayName"], "Grace Hopper");
        assert_eq!(full["emails"][0]["value"], "grace@example.com");
        assert_eq!(full["emails"][0]["primary"], json!(true));
    }

    #[test]
    fn members_may_be_missing_and_a_page_may_lack_resources() {
        let group: Group =
            serde_json::from_value(json!({"id": "g", "displayName": "eng", "members": null}))
                .unwrap();
        assert!(group.members().is_empty());
        let page: ListResponse<User> = serde_json::from_value(json!({"totalResults": 0})).unwrap();
        assert!(page.resources.is_empty());
        assert_eq!(page.total_results, Some(0));
        let member: Member =
            serde_json::from_value(json!({"value": "x", "type": "Group"})).unwrap();
        assert!(member.is_group());
    }
}
