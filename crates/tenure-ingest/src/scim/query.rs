//! Listing and searching Users (RFC 7644 §3.4.2–3.4.3): filters, pagination and
//! attribute selection. The lookups identity providers make before every create
//! (`userName eq`, `externalId eq`, `id eq`) are answered from an index or a narrow
//! scan; a list without a filter reads every User's id and the page's Users alone;
//! any other filter reads every User. Users this process wrote that the projection
//! does not hold yet are included (read-your-writes).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use scim_v2::filter::{AttrPath, Filter};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use tenure_core::{IdentityId, IdentityState};

use super::error::{ScimError, scim_json};
use super::filter::{self as scim_filter, Lookup};
use super::{
    ScimResult, admitted, base, decoded, load, message, projection, store, unavailable, user,
    visible,
};
use crate::routes::IngestState;

pub use super::schema::{
    LIST_RESPONSE_SCHEMA as LIST_SCHEMA, SEARCH_REQUEST_SCHEMA as SEARCH_SCHEMA,
};
/// Most Users one page returns (`ServiceProviderConfig.filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;
/// Users one page returns when the client does not say.
const DEFAULT_COUNT: usize = 100;
/// Users read from the projection per round trip when every User is needed.
const SCAN_PAGE: i64 = 2000;

/// Which attributes of each User to return (`attributes` or `excludedAttributes`).
#[derive(Debug, Default)]
pub(super) struct Selection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Selection {
    fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        let list = |text: Option<&str>| -> Result<Vec<AttrPath>, ScimError> {
            match text.map(str::trim).filter(|t| !t.is_empty()) {
                Some(t) => Ok(super::projection::parse_attribute_list(t)?),
                None => Ok(Vec::new()),
            }
        };
        Ok(Selection {
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    /// The selection a request's query string asks for.
    pub(super) fn from_params(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        Self::parse(
            param(params, "attributes").map(String::as_str),
            param(params, "excludedAttributes").map(String::as_str),
        )
    }

    /// `user` with only the selected attributes.
    pub(super) fn apply(&self, user: &Value) -> Value {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return user.clone();
        }
        super::projection::project(user, &self.attributes, &self.excluded)
    }
}

/// Query parameter names are case-insensitive for common clients (`startindex`).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a String> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// One list or search request.
#[derive(Debug, Default)]
pub(super) struct ListRequest {
    filter: Option<Filter>,
    /// 1-based.
    start_index: usize,
    count: usize,
    selection: Selection,
}

fn number(name: &str, text: Option<&String>) -> Result<Option<i64>, ScimError> {
    text.map(|t| {
        t.trim()
            .parse::<i64>()
            .map_err(|_| ScimError::invalid(format!("{name} must be an integer, not {t:?}")))
    })
    .transpose()
}

impl ListRequest {
    fn new(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        selection: Selection,
    ) -> Result<Self, ScimError> {
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(text) => Some(scim_filter::parse(text)?),
            None => None,
        };
        Ok(ListRequest {
            filter,
            // RFC 7644 §3.4.2.4: below 1 is taken as 1; a negative count as 0.
            start_index: start_index.unwrap_or(1).max(1) as usize,
            count: count
                .unwrap_or(DEFAULT_COUNT as i64)
                .clamp(0, MAX_RESULTS as i64) as usize,
            selection,
        })
    }

    /// The request a `GET /Users` query string makes.
    pub(super) fn from_params(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        if param(params, "sortBy").is_some() {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                "sorting is not supported (ServiceProviderConfig sort.supported is false); Users come ordered by id",
            ));
        }
        Self::new(
            param(params, "filter").map(String::as_str),
            number("startIndex", param(params, "startIndex"))?,
            number("count", param(params, "count"))?,
            Selection::from_params(params)?,
        )
    }
}

/// A `POST .search` body (RFC 7644 §3.4.3).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    schemas: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    start_index: Option<i64>,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    attributes: Option<Vec<String>>,
    #[serde(default)]
    excluded_attributes: Option<Vec<String>>,
    #[serde(default)]
    sort_by: Option<String>,
}

/// The Users named `user_name` (without regard to case), not deleted.
pub(super) async fn users_named(
    state: &IngestState,
    user_name: &str,
) -> Result<Vec<IdentityState>, ScimError> {
    if state.directory.is_none() {
        return Ok(Vec::new());
    }
    let client = projection(state).await?;
    let found = decoded(
        store::people_by_login(&client, user_name)
            .await
            .map_err(unavailable)?,
    )?;
    drop(client);
    let users = with_recent(state, found).await?;
    Ok(users
        .into_iter()
        .filter(|u| {
            // A person HR announced without a login shows their key as userName.
            u.attributes
                .login
                .as_deref()
                .or(u.source_person_id.as_deref())
                .is_some_and(|l| l.to_lowercase() == user_name.to_lowercase())
        })
        .collect())
}

/// `found` completed with this process's recent writes, each User as SCIM must see
/// it now, deleted ones left out.
async fn with_recent(
    state: &IngestState,
    found: Vec<IdentityState>,
) -> Result<Vec<IdentityState>, ScimError> {
    let mut by_id: BTreeMap<IdentityId, IdentityState> =
        found.into_iter().map(|s| (s.identity_id, s)).collect();
    // Users this process wrote lately, found or not: which is newer, the projection
    // or the write, is `load`'s call.
    let ids: Vec<IdentityId> = state.scim.recent();
    for now in load(state, &ids).await? {
        by_id.insert(now.identity_id, now);
    }
    Ok(by_id.into_values().filter(visible).collect())
}

/// The Users a filter can match: a narrow read for the lookups identity providers
/// make, every User otherwise.
async fn candidates(
    state: &IngestState,
    filter: Option<&Filter>,
) -> Result<Vec<IdentityState>, ScimError> {
    let client = projection(state).await?;
    let found = match filter.and_then(scim_filter::equality_lookup) {
        Some((Lookup::Id, id)) => {
            drop(client);
            let ids: Vec<IdentityId> = id.parse().into_iter().collect();
            return Ok(load(state, &ids)
                .await?
                .into_iter()
                .filter(visible)
                .collect());
        }
        Some((Lookup::UserName, name)) => decoded(
            store::people_by_login(&client, &name)
                .await
                .map_err(unavailable)?,
        )?,
        Some((Lookup::ExternalId, value)) => decoded(
            store::people_by_external_id(&client, &value)
                .await
                .map_err(unavailable)?,
        )?,
        // employeeNumber is not case-exact, and HR-announced people carry it only as
        // their key: every User is read (rarer than userName and externalId lookups).
        Some((Lookup::EmployeeNumber, _)) | None => {
            let mut all = Vec::new();
            let mut after = IdentityId::nil();
            loop {
                let page = decoded(
                    store::people_page(&client, after, SCAN_PAGE)
                        .await
                        .map_err(unavailable)?,
                )?;
                let Some(last) = page.last() else { break };
                after = last.identity_id;
                let full = page.len() as i64 == SCAN_PAGE;
                all.extend(page);
                if !full {
                    break;
                }
            }
            all
        }
    };
    drop(client);
    with_recent(state, found).await
}

/// Answers an unfiltered list: the ids of every User, and the page's Users alone.
async fn unfiltered_page(
    state: &IngestState,
    base: &str,
    request: &ListRequest,
) -> Result<Value, ScimError> {
    let client = projection(state).await?;
    let mut ids: std::collections::BTreeSet<IdentityId> = store::visible_people_ids(&client)
        .await
        .map_err(unavailable)?
        .into_iter()
        .collect();
    drop(client);
    // What this process wrote lately, which the projection may not show yet.
    for recent in load(state, &state.scim.recent()).await? {
        if visible(&recent) {
            ids.insert(recent.identity_id);
        } else {
            ids.remove(&recent.identity_id);
        }
    }
    let total = ids.len();
    let page_ids: Vec<IdentityId> = ids
        .into_iter()
        .skip(request.start_index - 1)
        .take(request.count)
        .collect();
    let page: Vec<Value> = load(state, &page_ids)
        .await?
        .iter()
        .filter(|s| visible(s))
        .map(|s| request.selection.apply(&user::resource(s, base)))
        .collect();
    Ok(list_response(total, request.start_index, page))
}

fn list_response(total: usize, start_index: usize, page: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": page.len(),
        "Resources": page,
    })
}

/// Answers a list or search request with a ListResponse.
pub(super) async fn run(
    state: &IngestState,
    base: &str,
    request: ListRequest,
) -> Result<Value, ScimError> {
    if request.filter.is_none() {
        return unfiltered_page(state, base, &request).await;
    }
    let users = candidates(state, request.filter.as_ref()).await?;
    let matching: Vec<Value> = users
        .iter()
        .map(|s| user::resource(s, base))
        .filter(|u| {
            request
                .filter
                .as_ref()
                .is_none_or(|f| scim_filter::matches(f, u))
        })
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(request.start_index - 1)
        .take(request.count)
        .map(|u| request.selection.apply(&u))
        .collect();
    Ok(list_response(total, request.start_index, page))
}

/// `POST /Users/.search` and `POST /.search` (Users are the only resource type).
pub(super) async fn search(
    State(state): State<IngestState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult {
    let body = admitted(&state, &headers, &method, &uri, body)?;
    let search: SearchRequest = message(&body, "SearchRequest")?;
    if !search.schemas.is_empty() && !search.schemas.iter().any(|s| s == SEARCH_SCHEMA) {
        return Err(ScimError::syntax(format!(
            "schemas must list {SEARCH_SCHEMA}"
        )));
    }
    if search.sort_by.is_some() {
        return Err(ScimError::invalid(
            "sorting is not supported (ServiceProviderConfig sort.supported is false)",
        ));
    }
    let join = |list: Option<Vec<String>>| list.map(|l| l.join(","));
    let selection = Selection::parse(
        join(search.attributes).as_deref(),
        join(search.excluded_attributes).as_deref(),
    )?;
    let request = ListRequest::new(
        search.filter.as_deref(),
        search.start_index,
        search.count,
        selection,
    )?;
    let answer = run(&state, &base(&headers), request).await?;
    Ok(scim_json(StatusCode::OK, &answer))
}
