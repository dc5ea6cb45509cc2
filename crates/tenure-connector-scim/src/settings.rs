//! Where the SCIM service provider is and how to talk to it, and why a connector
//! could not be set up from that.

use std::fmt;
use std::time::Duration;

/// The system name entitlements carry for this connector unless configured otherwise:
/// one deployment may run several SCIM connectors, one per application, each with its
/// own system name (`scim-slack`, `scim-zoom`).
pub const DEFAULT_SYSTEM: &str = "scim";

/// The only permission this connector knows: membership of a group. SCIM has no finer
/// notion of access than a group, so the entitlement's resource names the group.
pub const MEMBER: &str = "member";

/// What a [`ScimConnector`](crate::ScimConnector) needs to reach its service provider.
/// Not `Debug`-derived, so a bearer token never reaches a log by accident.
#[derive(Clone)]
pub struct ScimSettings {
    /// The SCIM base URL under which `/Users` and `/Groups` live, such as
    /// `https://app.example.com/scim/v2`. Plain `http` is accepted only for this
    /// machine (tests, a sidecar), because the bearer token would cross the network
    /// in clear text.
    pub base_url: String,
    /// A static bearer token (`Authorization: Bearer …`), the way Entra ID and Okta
    /// authenticate to SaaS applications; `None` for a service provider that needs no
    /// authentication.
    pub token: Option<String>,
    /// The system name of the entitlements this connector executes.
    pub system: String,
    /// Longest one HTTP request may take; past it the command fails as retryable.
    pub request_timeout: Duration,
    /// How many resources to ask for per page when listing for reconciliation.
    pub page_size: u32,
}

impl ScimSettings {
    /// The usual settings for the service provider at `base_url`: no token, system
    /// [`DEFAULT_SYSTEM`], 10 seconds per request, pages of 100.
    pub fn new(base_url: &str) -> Self {
        ScimSettings {
            base_url: base_url.to_owned(),
            token: None,
            system: DEFAULT_SYSTEM.to_owned(),
            request_timeout: Duration::from_secs(10),
            page_size: 100,
        }
    }
}

impl fmt::Debug for ScimSettings {
    /// Everything but the token, which is only said to be there or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimSettings")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("system", &self.system)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// Why a connector could not be set up; nothing was sent to the service provider.
#[derive(Debug, thiserror::Error)]
pub enum ScimSetupError {
    /// The base URL cannot be read, or is not http(s).
    #[error("SCIM base URL {url:?} cannot be used: {reason}")]
    BaseUrl { url: String, reason: String },
    /// Plain http to another machine would send the bearer token in clear text.
    #[error("SCIM base URL {0:?} must use https (plain http is accepted only for this machine)")]
    Insecure(String),
    /// No system name: every entitlement names its system.
    #[error("the connector's system name must not be empty")]
    NoSystem,
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}
