//! Who may call the query and operator routes: the same credentials file as ingest,
//! with the `reader` and `operator` scopes. Ingest's own routes check their scopes in
//! their handlers (they need the body they sign); health, readiness, the OpenAPI
//! document and the dashboard's page (which holds no data) stay open.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenure_ingest::auth::HeaderCheck;
use tenure_ingest::{Credentials, Scope};

/// The most a signed request to these routes may carry (a brake release is tiny).
const MAX_SIGNED_BODY: usize = 64 * 1024;

/// Pages served without a credential: they carry no data (the dashboard's page asks
/// for a reader token and fetches its data with it).
const OPEN_PAGES: &[&str] = &["/dashboard"];

/// Which scope a request to the query and operator routes needs: reads need
/// `reader` (which `operator` includes), anything else `operator`.
fn needed(request: &Request) -> Scope {
    Scope::for_operations(request.method().is_safe())
}

/// Admits a request to the query or operator routes, or answers 401/403. An admitted
/// request carries its credential's name as the reactor's [`Actor`] so that an
/// operator action is recorded with who took it.
///
/// [`Actor`]: tenure_reactor::api::Actor
pub async fn guard(
    State(credentials): State<Credentials>,
    request: Request,
    next: Next,
) -> Response {
    if credentials.is_open() || OPEN_PAGES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let scope = needed(&request);
    // The caller is known (or refused) before its body is read; only a signed
    // request needs its body to be verified.
    let name = match credentials.admit_headers(request.headers(), scope) {
        Err(refused) => return refused.into_response(),
        Ok(HeaderCheck::Open) => None,
        Ok(HeaderCheck::Admitted(credential)) => Some(credential.name.clone()),
        Ok(HeaderCheck::SignatureToCheck) => {
            return signed(&credentials, request, next, scope).await;
        }
    };
    let mut request = request;
    if let Some(name) = name {
        request
            .extensions_mut()
            .insert(tenure_reactor::api::Actor(name));
    }
    next.run(request).await
}

/// Admits a signed request, whose signature covers its (small) body.
async fn signed(credentials: &Credentials, request: Request, next: Next, scope: Scope) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_SIGNED_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return tenure_ingest::ApiError::too_large(format!(
                "this route takes at most {MAX_SIGNED_BODY} bytes"
            ))
            .into_response();
        }
    };
    let name = match credentials.admit(&parts.headers, &parts.method, &parts.uri, &body, scope) {
        Ok(credential) => credential.map(|c| c.name.clone()),
        Err(refused) => return refused.into_response(),
    };
    let mut request = Request::from_parts(parts, axum::body::Body::from(body));
    if let Some(name) = name {
        request
            .extensions_mut()
            .insert(tenure_reactor::api::Actor(name));
    }
    next.run(request).await
}
