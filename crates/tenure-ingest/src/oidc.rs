//! OIDC/JWT bearer tokens from the operator's SSO, the usual way people reach an
//! internal API: a token signed by the configured issuer (its keys fetched from its
//! JWKS, refreshed in the background), for the configured audience, unexpired, is a
//! credential whose scopes come from a claim. Only the people-facing scopes map from a
//! token (`tenure:reader`, `tenure:operator`); sources and connectors keep their own
//! static or HMAC credentials, which name the sources and systems they speak for.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::auth::{Credential, Scope};
use crate::error::ApiError;

/// How often the issuer's keys are fetched again (a key rotated in is known within
/// this; a token signed with an unknown key also triggers a fetch).
pub const KEY_REFRESH: Duration = Duration::from_secs(600);

/// The least time between two fetches caused by tokens naming an unknown key.
const UNKNOWN_KEY_FETCH_GAP: Duration = Duration::from_secs(60);

/// How far the clocks of Tenure and the issuer may disagree.
const LEEWAY_SECS: u64 = 60;

/// The `[oidc]` table of the credentials file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer (`iss`), e.g. `https://sso.example.com/realms/ops`; its
    /// `/.well-known/openid-configuration` names the JWKS unless `jwks_uri` does.
    pub issuer: String,
    /// The audience (`aud`) tokens must be for.
    pub audience: String,
    /// The claim holding the granted values (space-separated string or array).
    #[serde(default = "default_scopes_claim")]
    pub scopes_claim: String,
    /// The claim naming the person, recorded as the actor of operator actions.
    #[serde(default = "default_actor_claim")]
    pub actor_claim: String,
    /// Where the issuer's keys are, when discovery is not wanted.
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

fn default_scopes_claim() -> String {
    "scope".to_owned()
}

fn default_actor_claim() -> String {
    "sub".to_owned()
}

/// Why the issuer's keys could not be had; fix `[oidc]` or the network, then restart.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("OIDC issuer {0}: {1}")]
    Fetch(String, String),
    #[error("OIDC issuer {issuer} must be https (http only on loopback)")]
    Insecure { issuer: String },
}

/// A verifying key and the algorithm it was published for.
struct Key {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// The issuer's settings and its current keys.
pub struct Oidc {
    settings: OidcSettings,
    keys: RwLock<HashMap<String, Arc<Key>>>,
    http: reqwest::Client,
    /// When a token naming an unknown key last made Tenure fetch the keys.
    unknown_key_fetch: std::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// Asymmetric algorithms only: a token "signed" with a shared secret or none is never
/// accepted, whatever its header says.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn is_loopback(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    rest.starts_with("127.0.0.1") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

impl Oidc {
    /// The issuer of `settings`, with no keys yet ([`Oidc::refresh`] fetches them).
    pub fn new(settings: OidcSettings) -> Result<Oidc, OidcError> {
        for url in std::iter::once(&settings.issuer).chain(settings.jwks_uri.as_ref()) {
            let secure =
                url.starts_with("https://") || (url.starts_with("http://") && is_loopback(url));
            if !secure {
                return Err(OidcError::Insecure {
                    issuer: url.clone(),
                });
            }
        }
        Ok(Oidc {
            settings,
            keys: RwLock::new(HashMap::new()),
            unknown_key_fetch: std::sync::Mutex::new(None),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client with a timeout builds"),
        })
    }

    /// A JSON document from the issuer, or why not (naming the address).
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        self.http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| format!("{url}: {e}"))
    }

    /// Fetches the issuer's keys (discovering the JWKS address when not configured);
    /// returns how many usable keys it publishes.
    pub async fn refresh(&self) -> Result<usize, OidcError> {
        let issuer = self.settings.issuer.trim_end_matches('/');
        let fail = |e: String| OidcError::Fetch(issuer.to_owned(), e);
        let jwks_uri = match &self.settings.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                #[derive(Deserialize)]
                struct Discovery {
                    jwks_uri: String,
                }
                let discovery: Discovery = self
                    .get_json(&format!("{issuer}/.well-known/openid-configuration"))
                    .await
                    .map_err(fail)?;
                discovery.jwks_uri
            }
        };
        let set: JwkSet = self.get_json(&jwks_uri).await.map_err(fail)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk))
            else {
                continue;
            };
            // The key's own `alg`, else the usual one for its type.
            let algorithm = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok())
                .or(match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
                    AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                        EllipticCurve::P256 => Some(Algorithm::ES256),
                        EllipticCurve::P384 => Some(Algorithm::ES384),
                        _ => None,
                    },
                    AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
                    _ => None,
                });
            if let Some(algorithm) = algorithm.filter(|a| ALLOWED.contains(a)) {
                keys.insert(kid, Arc::new(Key { key, algorithm }));
            }
        }
        let count = keys.len();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(count)
    }

    /// Fetches the keys again every [`KEY_REFRESH`], for as long as the process runs.
    pub fn keep_fresh(self: &Arc<Self>) {
        let oidc = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEY_REFRESH).await;
                let Some(oidc) = oidc.upgrade() else { return };
                if let Err(e) = oidc.refresh().await {
                    tracing::warn!(error = %e, "the OIDC issuer's keys could not be refreshed");
                }
            }
        });
    }

    /// Whether `token` has the shape of a JWT (three base64url parts).
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3 && token.starts_with("ey")
    }

    /// The credential a valid token stands for: named `oidc:<actor>`, with the
    /// scopes its claim grants. 401 for anything not signed by the issuer for this
    /// audience and still valid.
    pub fn verify(self: &Arc<Self>, token: &str) -> Result<Credential, ApiError> {
        let refused =
            |why: &str| ApiError::unauthorized(format!("the bearer token is refused: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("not a JWT"))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(refused(
                "its algorithm is not an asymmetric one Tenure accepts",
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| refused("its header names no key (kid)"))?;
        let key = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kid)
            .cloned();
        let Some(key) = key else {
            // A key rotated in since the last fetch: fetch now, for the next attempt;
            // at most once a minute, so tokens naming made-up keys cannot make Tenure
            // hammer the issuer.
            let due = {
                let mut last = self
                    .unknown_key_fetch
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let due = last.is_none_or(|at| at.elapsed() >= UNKNOWN_KEY_FETCH_GAP);
                if due {
                    *last = Some(std::time::Instant::now());
                }
                due
            };
            if due {
                let oidc = Arc::clone(self);
                tokio::spawn(async move {
                    if let Err(e) = oidc.refresh().await {
                        tracing::warn!(error = %e, "the OIDC issuer's keys could not be fetched");
                    }
                });
            }
            return Err(refused(
                "signed with a key the issuer does not publish (yet); retry",
            ));
        };
        if key.algorithm != header.alg {
            return Err(refused("its algorithm is not its key's"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&[self.settings.audience.as_str()]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
            .map_err(|e| refused(&e.to_string()))?
            .claims;
        let actor = claims
            .get(&self.settings.actor_claim)
            .and_then(|v| v.as_str())
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                refused(&format!(
                    "no {} claim names the caller",
                    self.settings.actor_claim
                ))
            })?;
        let granted: Vec<&str> = match claims.get(&self.settings.scopes_claim) {
            Some(serde_json::Value::String(s)) => s.split_whitespace().collect(),
            Some(serde_json::Value::Array(values)) => {
                values.iter().filter_map(|v| v.as_str()).collect()
            }
            _ => Vec::new(),
        };
        let scopes: Vec<Scope> = granted
            .iter()
            .filter_map(|g| Scope::from_sso_value(g))
            .collect();
        Ok(Credential {
            name: format!("oidc:{actor}"),
            token: None,
            hmac_secret: None,
            scopes,
            systems: Some(Vec::new()),
            sources: Some(Vec::new()),
        })
    }
}
