//! Who may announce what: each source has its own bearer token and scopes, so an ITSM
//! credential cannot announce a leaver and a connector can only acknowledge commands.

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde::Deserialize;

use crate::error::ApiError;

/// What a credential may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Announce joiners, movers, leavers and leaves of absence.
    Hr,
    /// Record fulfilled access requests.
    Itsm,
    /// Acknowledge commands.
    Connector,
}

/// One source's credential.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The source's name, for logs.
    pub name: String,
    /// The bearer token it presents.
    pub token: String,
    pub scopes: Vec<Scope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credential: Vec<Credential>,
}

/// Why a credentials file was refused; fix the file and restart.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("credentials file is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("credential {0:?} has a token shorter than 16 characters")]
    WeakToken(String),
    #[error("credentials {0:?} and {1:?} share a token")]
    SharedToken(String, String),
}

/// The credentials ingest accepts. With none configured ingest is open (for local
/// development only; the binary warns).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    by_token: HashMap<String, Credential>,
}

impl Credentials {
    /// Reads `[[credential]]` entries (name, token, scopes) from TOML.
    pub fn from_toml(text: &str) -> Result<Credentials, CredentialsError> {
        let file: CredentialsFile = toml::from_str(text)?;
        let mut by_token: HashMap<String, Credential> = HashMap::new();
        for credential in file.credential {
            if credential.token.len() < 16 {
                return Err(CredentialsError::WeakToken(credential.name));
            }
            if let Some(other) = by_token.get(&credential.token) {
                return Err(CredentialsError::SharedToken(
                    other.name.clone(),
                    credential.name,
                ));
            }
            by_token.insert(credential.token.clone(), credential);
        }
        Ok(Credentials { by_token })
    }

    /// True when no credential is configured and every request is accepted.
    pub fn is_open(&self) -> bool {
        self.by_token.is_empty()
    }

    /// Admits a request needing `scope`: 401 without a known bearer token, 403 when the
    /// token's source lacks the scope.
    pub(crate) fn admit(&self, headers: &HeaderMap, scope: Scope) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "send Authorization: Bearer <token> with your source's token",
                )
            })?;
        let credential = self
            .by_token
            .get(token.trim())
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not known"))?;
        if credential.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "credential {:?} may not use this endpoint (needs scope {scope:?})",
                credential.name
            )))
        }
    }
}

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
    }
}
