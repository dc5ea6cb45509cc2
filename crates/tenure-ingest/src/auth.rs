//! Who may announce what: each source has its own credential and scopes, so an ITSM
//! credential cannot announce a leaver and a connector can only acknowledge commands.
//!
//! A credential is either a bearer token or an HMAC secret. A signed request carries
//! `X-Tenure-Source` (the credential's name), `X-Tenure-Timestamp` (Unix seconds) and
//! `X-Tenure-Signature: sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>`; a
//! timestamp more than five minutes away from Tenure's clock is refused, so a captured
//! request cannot be replayed later.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::ApiError;

pub use tenure_core::access::Scope;

/// One source's credential.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The source's name, for logs.
    pub name: String,
    /// The bearer token it presents (or give `hmac_secret`).
    #[serde(default)]
    pub token: Option<String>,
    /// The secret it signs bodies with (or give `token`).
    #[serde(default)]
    pub hmac_secret: Option<String>,
    pub scopes: Vec<Scope>,
    /// For a connector: the target systems whose commands it may acknowledge (an
    /// acknowledgement for another system's command is refused with 403). Absent:
    /// every system, which suits a single connector host; the service warns.
    #[serde(default)]
    pub systems: Option<Vec<String>>,
    /// For HR and ITSM callers: the source systems it announces events as (an event
    /// naming another `source_system` is refused with 403). Absent: its `name`.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
}

impl Credential {
    /// The source systems this credential announces events as.
    pub fn speaks_for(&self) -> &[String] {
        self.sources.as_deref().unwrap_or_default()
    }
}

/// Header naming the credential of a signed request.
pub const SOURCE_HEADER: &str = "x-tenure-source";
/// Header with the Unix time (seconds) a request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-tenure-timestamp";
/// Header with `sha256=<hex HMAC-SHA256 of "<timestamp>.<METHOD>.<path?query>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-tenure-signature";
/// How far a signed request's timestamp may be from Tenure's clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// The HMAC of one request: it covers the method and the path with its query, so a
/// captured signature cannot be replayed against another endpoint.
fn request_mac(
    secret: &str,
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(
        format!(
            "{timestamp}.{}.{path_and_query}.",
            method.to_ascii_uppercase()
        )
        .as_bytes(),
    );
    mac.update(body);
    mac
}

/// The signature header value for a request (`method`, `path_and_query` such as
/// `/v1/hr/events`, `body`) signed with `secret` at `timestamp`; sources (and tests)
/// compute exactly this.
pub fn sign(
    secret: &str,
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    let mac = request_mac(secret, timestamp, method, path_and_query, body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credential: Vec<Credential>,
    /// People through the operator's SSO (see [`crate::oidc`]).
    #[serde(default)]
    oidc: Option<crate::oidc::OidcSettings>,
}

/// Why a credentials file was refused; fix the file and restart.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("credentials file is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("credential {0:?} has a token or secret shorter than 16 characters")]
    WeakToken(String),
    #[error("credentials {0:?} and {1:?} share a token")]
    SharedToken(String, String),
    #[error("credential {0:?} must have exactly one of token and hmac_secret")]
    Ambiguous(String),
    #[error("two credentials are named {0:?}; signed requests name their credential")]
    SharedName(String),
    #[error("credential {0:?} speaks for {1:?}, one of Tenure's own sources; name its own source")]
    ReservedSource(String, String),
    #[error("[oidc]: {0}")]
    Oidc(#[from] crate::oidc::OidcError),
}

/// The credentials ingest accepts. With none configured ingest is open (for local
/// development only; the binary warns).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    by_token: HashMap<String, Credential>,
    by_name: HashMap<String, Credential>,
    /// The operator's SSO, whose tokens stand for people (readers and operators).
    oidc: Option<std::sync::Arc<crate::oidc::Oidc>>,
}

impl Credentials {
    /// Reads `[[credential]]` entries (name, token, scopes) from TOML.
    pub fn from_toml(text: &str) -> Result<Credentials, CredentialsError> {
        let file: CredentialsFile = toml::from_str(text)?;
        let mut by_token: HashMap<String, Credential> = HashMap::new();
        let mut by_name: HashMap<String, Credential> = HashMap::new();
        for mut credential in file.credential {
            let sources = credential
                .sources
                .get_or_insert_with(|| vec![credential.name.clone()]);
            if let Some(reserved) = sources
                .iter()
                .find(|s| tenure_core::intake::source::is_tenure_source(s))
            {
                return Err(CredentialsError::ReservedSource(
                    credential.name.clone(),
                    reserved.clone(),
                ));
            }
            let secret = match (&credential.token, &credential.hmac_secret) {
                (Some(s), None) | (None, Some(s)) => s.clone(),
                _ => return Err(CredentialsError::Ambiguous(credential.name)),
            };
            if secret.len() < 16 {
                return Err(CredentialsError::WeakToken(credential.name));
            }
            if by_name.contains_key(&credential.name) {
                return Err(CredentialsError::SharedName(credential.name));
            }
            if let Some(token) = &credential.token {
                if let Some(other) = by_token.get(token) {
                    return Err(CredentialsError::SharedToken(
                        other.name.clone(),
                        credential.name,
                    ));
                }
                by_token.insert(token.clone(), credential.clone());
            }
            by_name.insert(credential.name.clone(), credential);
        }
        let oidc = match file.oidc {
            Some(settings) => Some(std::sync::Arc::new(crate::oidc::Oidc::new(settings)?)),
            None => None,
        };
        Ok(Credentials {
            by_token,
            by_name,
            oidc,
        })
    }

    /// Fetches the OIDC issuer's keys, if one is configured, and keeps them fresh in
    /// the background; call once at start (an unreachable issuer is an error then).
    pub async fn start_oidc(&self) -> Result<(), crate::oidc::OidcError> {
        if let Some(oidc) = &self.oidc {
            let keys = oidc.refresh().await?;
            tracing::info!(keys, "OIDC issuer's keys fetched");
            oidc.keep_fresh();
        }
        Ok(())
    }

    /// True when no credential is configured and every request is accepted.
    pub fn is_open(&self) -> bool {
        self.by_name.is_empty() && self.oidc.is_none()
    }

    /// What a signed request's headers say, checked before its body is read: the
    /// signing credential it names, when it was signed, and the signature. A name that
    /// is not a signing credential gets the same answer as a wrong signature, so the
    /// answer does not tell which names exist.
    fn signed_headers(&self, headers: &HeaderMap) -> Result<(&Credential, i64, Vec<u8>), ApiError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let source = header(SOURCE_HEADER).unwrap_or_default();
        let credential = self
            .by_name
            .get(source)
            .filter(|c| c.hmac_secret.is_some())
            .ok_or_else(unverifiable_signature)?;
        let timestamp: i64 = header(TIMESTAMP_HEADER)
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::unauthorized(format!(
                    "{TIMESTAMP_HEADER} must be the signing time in Unix seconds"
                ))
            })?;
        if chrono::Utc::now().timestamp().abs_diff(timestamp) > SIGNATURE_TOLERANCE_SECS as u64 {
            return Err(ApiError::unauthorized(format!(
                "{TIMESTAMP_HEADER} {timestamp} is more than {SIGNATURE_TOLERANCE_SECS} s from now: sign the request again"
            )));
        }
        let given = header(SIGNATURE_HEADER)
            .and_then(|s| s.trim().strip_prefix("sha256="))
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| {
                ApiError::unauthorized(format!("{SIGNATURE_HEADER} must be sha256=<hex>"))
            })?;
        Ok((credential, timestamp, given))
    }

    /// The HMAC credential that signed this request: 401 for a missing, stale or
    /// wrong signature.
    fn signed_by(
        &self,
        headers: &HeaderMap,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        body: &[u8],
    ) -> Result<&Credential, ApiError> {
        let (credential, timestamp, given) = self.signed_headers(headers)?;
        let secret = credential.hmac_secret.as_deref().unwrap_or_default();
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(uri.path());
        request_mac(secret, timestamp, method.as_str(), path, body)
            .verify_slice(&given)
            .map_err(|_| unverifiable_signature())?;
        // A signature is used once: `crate::replay` claims it around the request.
        Ok(credential)
    }

    /// Connector credentials that may acknowledge for every system (no `systems`).
    pub fn unrestricted_connectors(&self) -> Vec<&str> {
        self.by_name
            .values()
            .filter(|c| c.scopes.contains(&Scope::Connector) && c.systems.is_none())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Admits a request needing `scope`: 401 without a known bearer token, 403 when the
    /// token's source lacks the scope. Returns the credential (none when ingest is
    /// open).
    pub fn admit(
        &self,
        headers: &HeaderMap,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        body: &[u8],
        scope: Scope,
    ) -> Result<Option<Cow<'_, Credential>>, ApiError> {
        if self.is_open() {
            return Ok(None);
        }
        let credential = if headers.contains_key(SIGNATURE_HEADER) {
            Cow::Borrowed(self.signed_by(headers, method, uri, body)?)
        } else {
            self.bearer(headers)?
        };
        permitted(&credential, scope)?;
        Ok(Some(credential))
    }

    /// Checks what can be checked before a request's body is read: a bearer token in
    /// full, a signed request's credential, timestamp and form, and the scope. A
    /// request that fails here is answered without reading (or buffering) its body.
    pub fn admit_headers(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<HeaderCheck<'_>, ApiError> {
        if self.is_open() {
            return Ok(HeaderCheck::Open);
        }
        if headers.contains_key(SIGNATURE_HEADER) {
            permitted(self.signed_headers(headers)?.0, scope)?;
            return Ok(HeaderCheck::SignatureToCheck);
        }
        let credential = self.bearer(headers)?;
        permitted(&credential, scope)?;
        Ok(HeaderCheck::Admitted(credential))
    }

    /// The credential of a bearer token (the scheme in any case, as RFC 9110 allows):
    /// a configured token, or a JWT from the OIDC issuer.
    fn bearer(&self, headers: &HeaderMap) -> Result<Cow<'_, Credential>, ApiError> {
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                ApiError::unauthorized(format!(
                    "send Authorization: Bearer <token>, or sign the body ({SIGNATURE_HEADER})"
                ))
            })?;
        if let Some(credential) = self.by_token.get(token) {
            return Ok(Cow::Borrowed(credential));
        }
        match &self.oidc {
            Some(oidc) if crate::oidc::Oidc::looks_like_jwt(token) => {
                oidc.verify(token).map(Cow::Owned)
            }
            _ => Err(ApiError::unauthorized("the bearer token is not known")),
        }
    }
}

/// What the headers alone settle about a request.
#[derive(Debug)]
pub enum HeaderCheck<'a> {
    /// No credentials are configured: everyone is admitted.
    Open,
    /// A bearer credential, admitted for the scope: nothing more to check.
    Admitted(Cow<'a, Credential>),
    /// A signed request whose signer may use the route; the signature over the body
    /// is still to be verified ([`Credentials::admit`]).
    SignatureToCheck,
}

/// The one answer for a signature that cannot be verified, whatever the reason.
fn unverifiable_signature() -> ApiError {
    ApiError::unauthorized(format!(
        "the signature cannot be verified: {SOURCE_HEADER} must name a signing credential and \
         {SIGNATURE_HEADER} must be its HMAC of the timestamp, method, path and body"
    ))
}

/// Whether the credential holds `scope` (an operator may also read what it operates
/// on): 403 if not.
fn permitted(credential: &Credential, scope: Scope) -> Result<(), ApiError> {
    if Scope::permits(&credential.scopes, scope) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "credential {:?} may not use this endpoint (needs scope {scope:?})",
            credential.name
        )))
    }
}

/// Axum middleware that authenticates a route's caller from the headers alone,
/// before the body is read: `from_fn_with_state((credentials, scope), authenticate_first)`.
pub async fn authenticate_first(
    axum::extract::State((credentials, scope)): axum::extract::State<(Credentials, Scope)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match credentials.admit_headers(request.headers(), scope) {
        Ok(_) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

impl Credentials {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_shared_tokens_are_refused_naming_the_credential() {
        let weak = Credentials::from_toml(
            "[[credential]]\nname = \"hr\"\ntoken = \"short\"\nscopes = [\"hr\"]\n",
        );
        assert!(matches!(weak, Err(CredentialsError::WeakToken(name)) if name == "hr"));
        let shared = Credentials::from_toml(
            "[[credential]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nscopes = [\"hr\"]\n\
             [[credential]]\nname = \"b\"\ntoken = \"0123456789abcdef\"\nscopes = [\"itsm\"]\n",
        );
        assert!(matches!(shared, Err(CredentialsError::SharedToken(..))));
        let unknown_scope = Credentials::from_toml(
            "[[credential]]\nname = \"x\"\ntoken = \"0123456789abcdef\"\nscopes = [\"root\"]\n",
        );
        assert!(unknown_scope.is_err());
        assert!(Credentials::from_toml("").unwrap().is_open());
        let both = Credentials::from_toml(
            "[[credential]]\nname = \"x\"\ntoken = \"0123456789abcdef\"\nhmac_secret = \"0123456789abcdefg\"\nscopes = [\"hr\"]\n",
        );
        assert!(matches!(both, Err(CredentialsError::Ambiguous(_))));
    }

    fn signed(secret: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        signed_for(secret, timestamp, "POST", "/v1/hr/events", body)
    }

    fn signed_for(
        secret: &str,
        timestamp: i64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SOURCE_HEADER, "workday".parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, timestamp.to_string().parse().unwrap());
        headers.insert(
            SIGNATURE_HEADER,
            sign(secret, timestamp, method, path, body).parse().unwrap(),
        );
        headers
    }

    #[test]
    fn hmac_signed_bodies_are_checked_for_signature_freshness_and_scope() {
        let credentials = Credentials::from_toml(
            "[[credential]]\nname = \"workday\"\nhmac_secret = \"s3cret-s3cret-s3cret\"\nscopes = [\"hr\"]\n",
        )
        .unwrap();
        let body = br#"{"event_id":"1"}"#;
        let now = chrono::Utc::now().timestamp();
        let post = axum::http::Method::POST;
        let hr: axum::http::Uri = "/v1/hr/events".parse().unwrap();
        // A signature for one endpoint is refused on another.
        let elsewhere: axum::http::Uri = "/scim/v2/Users/x".parse().unwrap();
        let delete = axum::http::Method::DELETE;
        let get_signed = signed_for("s3cret-s3cret-s3cret", now, "GET", "/scim/v2/Users", b"");
        assert!(
            credentials
                .admit(&get_signed, &delete, &elsewhere, b"", Scope::Hr)
                .is_err()
        );
        let ok = signed("s3cret-s3cret-s3cret", now, body);
        assert!(credentials.admit(&ok, &post, &hr, body, Scope::Hr).is_ok());
        let other = signed("s3cret-s3cret-s3cret", now - 1, body);
        let forbidden = credentials
            .admit(&other, &post, &hr, body, Scope::Itsm)
            .unwrap_err();
        assert_eq!(forbidden.status, axum::http::StatusCode::FORBIDDEN);
        let tampered = credentials
            .admit(&ok, &post, &hr, br#"{"event_id":"2"}"#, Scope::Hr)
            .unwrap_err();
        assert_eq!(tampered.status, axum::http::StatusCode::UNAUTHORIZED);
        let wrong_key = signed("another-secret-entirely", now, body);
        assert!(
            credentials
                .admit(&wrong_key, &post, &hr, body, Scope::Hr)
                .is_err()
        );
        let stale = signed("s3cret-s3cret-s3cret", now - 3600, body);
        let err = credentials
            .admit(&stale, &post, &hr, body, Scope::Hr)
            .unwrap_err();
        assert!(
            err.message.contains("sign the request again"),
            "{}",
            err.message
        );
    }
}
