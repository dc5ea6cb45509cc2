//! HTTP to one SCIM service provider (RFC 7644): the few requests the connector makes,
//! and every failure classified the way Tenure acts on it. A passing problem (no
//! connection, a timeout, a 5xx, 429) is retryable; a refusal that will not change
//! without a person (400, 401, 403, 404, 409) is permanent and carries the server's
//! own `detail`, because that is what the operator needs to fix it.

use std::error::Error as _;
use std::net::IpAddr;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tenure_connector::ConnectorError;

use crate::resources::{self, ErrorBody, Group, ListResponse, User};
use crate::settings::{ScimSettings, ScimSetupError};

/// RFC 7644's media type: requests are sent as it, and some servers refuse others.
const SCIM_JSON: &str = "application/scim+json";
/// Most pages a listing reads before giving up on a server that never ends a query.
const MAX_PAGES: u32 = 100_000;

/// A client of one service provider; cheap to share between commands.
pub(crate) struct ScimClient {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    page_size: u32,
}

impl ScimClient {
    /// A client for `settings`, refusing a base URL that would leak the token.
    pub fn new(settings: &ScimSettings) -> Result<Self, ScimSetupError> {
        let refused = |reason: String| ScimSetupError::BaseUrl {
            url: settings.base_url.clone(),
            reason,
        };
        let base = Url::parse(&settings.base_url).map_err(|e| refused(e.to_string()))?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&base) => {}
            "http" => return Err(ScimSetupError::Insecure(settings.base_url.clone())),
            other => return Err(refused(format!("scheme {other:?} is not http or https"))),
        }
        if base.cannot_be_a_base() || base.query().is_some() {
            return Err(refused(
                "it must be a plain http(s) URL without a query".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            .user_agent(concat!("tenure-connector-scim/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ScimClient {
            http,
            base,
            token: settings.token.clone(),
            page_size: settings.page_size.max(1),
        })
    }

    /// The URL of `segments` under the base URL, each segment percent-encoded (an id
    /// is the server's and may hold any character).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // An http(s) URL always has path segments (`new` refused any other).
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A request with the headers every request carries.
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let builder = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/scim+json, application/json");
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Whether the service provider answers, with this token: a connector with a
    /// wrong URL or token should stop at start, not fail every command.
    pub async fn probe(&self) -> Result<(), ConnectorError> {
        let what = "reading the ServiceProviderConfig";
        let response = send(
            what,
            self.request(Method::GET, self.url(&["ServiceProviderConfig"])),
        )
        .await?;
        check(what, response).await?;
        Ok(())
    }

    /// The user named `user_name`, if the service provider has one.
    pub async fn find_user(&self, user_name: &str) -> Result<Option<User>, ConnectorError> {
        let what = format!("looking up user {user_name:?}");
        let found: ListResponse<User> = self
            .search(&what, "Users", &resources::eq_filter("userName", user_name))
            .await?;
        resources::pick(found.resources, user_name)
            .map_err(|e| ConnectorError::Permanent(format!("{what}: {e}")))
    }

    /// The group whose `displayName` is `name`, if there is one.
    pub async fn find_group(&self, name: &str) -> Result<Option<Group>, ConnectorError> {
        let what = format!("looking up group {name:?}");
        let found: ListResponse<Group> = self
            .search(&what, "Groups", &resources::eq_filter("displayName", name))
            .await?;
        resources::pick(found.resources, name)
            .map_err(|e| ConnectorError::Permanent(format!("{what}: {e}")))
    }

    /// The first page of a filtered query; one page is enough for a lookup by a name.
    async fn search<T: DeserializeOwned>(
        &self,
        what: &str,
        endpoint: &str,
        filter: &str,
    ) -> Result<ListResponse<T>, ConnectorError> {
        let request = self
            .request(Method::GET, self.url(&[endpoint]))
            .query(&[("filter", filter)]);
        let response = check(what, send(what, request).await?).await?;
        read(what, response).await
    }

    /// The group with id `id` as it is now, with its members; `None` once deleted.
    pub async fn group(&self, id: &str) -> Result<Option<Group>, ConnectorError> {
        let what = format!("reading group {id}");
        let response = send(&what, self.request(Method::GET, self.url(&["Groups", id]))).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check(&what, response).await?;
        read(&what, response).await.map(Some)
    }

    /// Creates a user from `body`; `None` when the service provider says one with
    /// these unique attributes exists already (409), as after a race with another
    /// instance of the connector.
    pub async fn create_user(
        &self,
        user_name: &str,
        body: &Value,
    ) -> Result<Option<User>, ConnectorError> {
        let what = format!("creating user {user_name:?}");
        let request = with_body(self.request(Method::POST, self.url(&["Users"])), body);
        let response = send(&what, request).await?;
        if response.status() == StatusCode::CONFLICT {
            return Ok(None);
        }
        let response = check(&what, response).await?;
        read(&what, response).await.map(Some)
    }

    /// Enables or disables the user `user`.
    pub async fn set_active(&self, user: &User, active: bool) -> Result<(), ConnectorError> {
        let what = format!("setting user {:?} active={active}", user.user_name);
        self.patch(&what, &["Users", &user.id], &resources::set_active(active))
            .await
    }

    /// Adds the user `user_id` to the group `group_id`.
    pub async fn add_member(&self, group_id: &str, user_id: &str) -> Result<(), ConnectorError> {
        let what = format!("adding user {user_id} to group {group_id}");
        self.patch(
            &what,
            &["Groups", group_id],
            &resources::add_member(user_id),
        )
        .await
    }

    /// Removes the user `user_id` from the group `group_id`.
    pub async fn remove_member(&self, group_id: &str, user_id: &str) -> Result<(), ConnectorError> {
        let what = format!("removing user {user_id} from group {group_id}");
        self.patch(
            &what,
            &["Groups", group_id],
            &resources::remove_member(user_id),
        )
        .await
    }

    /// Sends a PATCH; its answer (204, or 200 with the resource) is not needed.
    async fn patch(
        &self,
        what: &str,
        segments: &[&str],
        body: &Value,
    ) -> Result<(), ConnectorError> {
        let request = with_body(self.request(Method::PATCH, self.url(segments)), body);
        check(what, send(what, request).await?).await?;
        Ok(())
    }

    /// Every user, with only the attributes reconciliation reads.
    pub async fn all_users(&self) -> Result<Vec<User>, ConnectorError> {
        self.all("Users", "userName").await
    }

    /// Every group, with its members.
    pub async fn all_groups(&self) -> Result<Vec<Group>, ConnectorError> {
        self.all("Groups", "displayName,members").await
    }

    /// Every resource of `endpoint`, page by page (RFC 7644 section 3.4.2.4): until
    /// `totalResults` are read, an empty page, or (without `totalResults`) a short one.
    async fn all<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        attributes: &str,
    ) -> Result<Vec<T>, ConnectorError> {
        let what = format!("listing {endpoint}");
        let mut all = Vec::new();
        let mut start: u64 = 1;
        for _ in 0..MAX_PAGES {
            let request = self.request(Method::GET, self.url(&[endpoint])).query(&[
                ("startIndex", start.to_string()),
                ("count", self.page_size.to_string()),
                ("attributes", attributes.to_owned()),
            ]);
            let response = check(&what, send(&what, request).await?).await?;
            let page: ListResponse<T> = read(&what, response).await?;
            let got = page.resources.len() as u64;
            all.extend(page.resources);
            let finished = match page.total_results {
                Some(total) => all.len() as u64 >= total,
                None => got < u64::from(self.page_size),
            };
            if got == 0 || finished {
                return Ok(all);
            }
            start += got;
        }
        Err(ConnectorError::Permanent(format!(
            "{what}: the service provider was still returning pages after {MAX_PAGES}"
        )))
    }
}

/// Whether `url` names this machine, where plain http exposes the token to no one.
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `request` with the JSON `body`, labelled as SCIM.
fn with_body(request: RequestBuilder, body: &Value) -> RequestBuilder {
    // `json` keeps a Content-Type already set.
    request.header(CONTENT_TYPE, SCIM_JSON).json(body)
}

/// Sends `request`; a failure to get any answer is retryable.
async fn send(what: &str, request: RequestBuilder) -> Result<Response, ConnectorError> {
    request.send().await.map_err(|e| transport(what, &e))
}

/// `response` if it is a success, else the service provider's refusal, classified.
async fn check(what: &str, response: Response) -> Result<Response, ConnectorError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    Err(refusal(what, status, &body))
}

/// The JSON body of a successful `response`.
async fn read<T: DeserializeOwned>(what: &str, response: Response) -> Result<T, ConnectorError> {
    let body = response.bytes().await.map_err(|e| transport(what, &e))?;
    serde_json::from_slice(&body).map_err(|e| {
        ConnectorError::Permanent(format!(
            "{what}: the answer is not the SCIM JSON expected ({e}): {}",
            excerpt(&body)
        ))
    })
}

/// A request that got no answer: no connection, a timeout, a connection cut while
/// reading. Retryable, except a request that could not even be built.
fn transport(what: &str, error: &reqwest::Error) -> ConnectorError {
    let mut message = format!("{what}: {error}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    if error.is_builder() {
        ConnectorError::Permanent(message)
    } else {
        ConnectorError::Retryable(message)
    }
}

/// The service provider's answer `status` with `body`, as Tenure acts on it: a busy
/// or broken server (5xx, 429, 408) is retried later; any other refusal needs a
/// person and says why in the server's own words.
fn refusal(what: &str, status: StatusCode, body: &[u8]) -> ConnectorError {
    let detail = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            detail: Some(detail),
            scim_type: Some(kind),
        }) => format!("{detail} (scimType {kind})"),
        Ok(ErrorBody {
            detail: Some(detail),
            scim_type: None,
        }) => detail,
        _ => excerpt(body),
    };
    let message = format!("{what}: the SCIM service provider answered {status}: {detail}");
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        ConnectorError::Retryable(message)
    } else {
        ConnectorError::Permanent(message)
    }
}

/// The start of a body that is not SCIM JSON, for a message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no body)".to_owned();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Result<ScimClient, ScimSetupError> {
        ScimClient::new(&ScimSettings::new(base))
    }

    #[test]
    fn https_or_http_to_this_machine_only() {
        assert!(client("https://app.example.com/scim/v2").is_ok());
        assert!(client("http://127.0.0.1:8080/v2").is_ok());
        assert!(client("http://localhost:8080/v2").is_ok());
        assert!(client("http://[::1]:8080/v2").is_ok());
        assert!(matches!(
            client("http://app.example.com/scim/v2"),
            Err(ScimSetupError::Insecure(_))
        ));
        assert!(matches!(
            client("ftp://app.example.com/"),
            Err(ScimSetupError::BaseUrl { .. })
        ));
        assert!(matches!(
            client("not a url"),
            Err(ScimSetupError::BaseUrl { .. })
        ));
    }

    #[test]
    fn paths_go_under_the_base_with_ids_encoded() {
        let with_slash = client("https://app.example.com/scim/v2/").unwrap();
        assert_eq!(
            with_slash.url(&["Users"]).as_str(),
            "https://app.example.com/scim/v2/Users"
        );
        let without = client("https://app.example.com/scim/v2").unwrap();
        assert_eq!(
            without.url(&["Groups", "a/b c"]).as_str(),
            "https://app.example.com/scim/v2/Groups/a%2Fb%20c"
        );
    }

    #[test]
    fn busy_servers_are_retried_and_refusals_carry_the_scim_detail() {
        let body =
            br#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409",
                        "scimType": "uniqueness", "detail": "userName is taken"}"#;
        match refusal("creating user", StatusCode::CONFLICT, body) {
            ConnectorError::Permanent(m) => {
                assert!(m.contains("userName is taken (scimType uniqueness)"), "{m}");
                assert!(m.contains("409"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
        ] {
            assert!(matches!(
                refusal("x", status, b""),
                ConnectorError::Permanent(_)
            ));
        }
        for status in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
        ] {
            assert!(matches!(
                refusal("x", status, b"<html>busy</html>"),
                ConnectorError::Retryable(m) if m.contains("<html>busy</html>")
            ));
        }
    }
}
