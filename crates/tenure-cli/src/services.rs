//! Starting Tenure's services as tasks of one process, or one at a time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tenure_core::Policy;
use tenure_kafka::{BrokerOptions, EmbeddedBroker, Publisher, broker, topics};
use tenure_store::Database;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::sql;

/// The built-in policy, used when no `--policy` file is given.
pub const DEFAULT_POLICY: &str = include_str!("../../../deploy/policy.toml");

/// Reads the policy file, or the built-in one.
pub fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    let text = policy_text(path)?;
    Policy::from_toml(&text).with_context(|| match path {
        Some(p) => format!("policy file {} is invalid", p.display()),
        None => "built-in policy is invalid".to_owned(),
    })
}

/// The policy file's text (the built-in copy of deploy/policy.toml without one).
pub fn policy_text(path: Option<&Path>) -> anyhow::Result<String> {
    Ok(match path {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read policy file {}", p.display()))?,
        None => DEFAULT_POLICY.to_owned(),
    })
}

/// Reads the ingest credentials file, if one is given, and fetches its OIDC
/// issuer's keys (an issuer that cannot be reached stops the start, naming it).
pub async fn load_credentials(path: Option<&Path>) -> anyhow::Result<tenure_ingest::Credentials> {
    let Some(path) = path else {
        return Ok(tenure_ingest::Credentials::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read credentials file {}", path.display()))?;
    let credentials = tenure_ingest::Credentials::from_toml(&text)
        .with_context(|| format!("credentials file {} is invalid", path.display()))?;
    credentials
        .start_oidc()
        .await
        .with_context(|| format!("credentials file {}", path.display()))?;
    Ok(credentials)
}

/// Starts the embedded broker with `storage` and creates Tenure's topics.
pub async fn start_embedded_broker(
    storage: &str,
    port: u16,
    log_file: Option<PathBuf>,
) -> anyhow::Result<EmbeddedBroker> {
    let binary = broker::locate_tansu()?;
    // A durable broker keeps its own log beside its storage, for the operator.
    let log_file = log_file.or_else(|| {
        tenure_kafka::tansu_sqlite::sqlite_file(storage).map(|f| f.with_file_name("broker.log"))
    });
    let broker = EmbeddedBroker::start(BrokerOptions {
        binary,
        port,
        storage: storage.to_owned(),
        log_file,
    })
    .await?;
    topics::ensure_topics(broker.bootstrap(), topics::DEFAULT_PARTITIONS).await?;
    Ok(broker)
}

/// What the reactor applies: the governance policy and the retry policy.
pub struct Rules {
    pub policy: Policy,
    pub retry: tenure_reactor::RetryPolicy,
    pub brake: tenure_reactor::BrakePolicy,
    /// Who may post to ingest (none: open).
    pub credentials: tenure_ingest::Credentials,
    /// Refuse owners the projection does not know as active people. Off only where
    /// no projector maintains the projection (the latency bench).
    pub check_owners: bool,
    /// How long ingest waits for the broker's acknowledgement before answering 503.
    pub ingest_timeout: Duration,
    /// Where /metrics, /healthz and /readyz are also served, open (`--admin-listen`).
    pub admin_listen: Option<SocketAddr>,
    /// Where the reactor publishes connector commands.
    pub command_topics: tenure_kafka::topics::CommandTopics,
}

/// Ingest's default bound on waiting for the broker (`--ingest-timeout-secs`).
pub const INGEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Which services a process runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Selection {
    pub ingest: bool,
    pub projector: bool,
    pub reactor: bool,
}

impl Selection {
    /// Everything in one process.
    pub fn all() -> Self {
        Selection {
            ingest: true,
            projector: true,
            reactor: true,
        }
    }
}

/// The OpenAPI document of every HTTP route Tenure serves.
pub const OPENAPI: &str = include_str!("../../../deploy/openapi.json");

/// The HTTP API of the selected services, with health and the OpenAPI document.
pub fn http_router(
    selection: Selection,
    ingest: tenure_ingest::IngestState,
    db: &Database,
    retry: tenure_reactor::RetryPolicy,
    bootstrap: Option<String>,
    metrics_on_main: bool,
) -> Router {
    let policy = ingest.policy();
    let guard = axum::middleware::from_fn_with_state(ingest.credentials(), crate::access::guard);
    let readiness = Readiness {
        db: db.clone(),
        bootstrap: bootstrap.clone(),
    };
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz).with_state(readiness))
        .route(
            "/openapi.json",
            get(|| async { ([(CONTENT_TYPE, "application/json")], OPENAPI) }),
        );
    if selection.ingest {
        app = app.merge(tenure_ingest::router(ingest));
    }
    if selection.projector {
        app = app.merge(
            tenure_projector::api::router(db.clone(), bootstrap, &policy, metrics_on_main)
                .route_layer(guard.clone()),
        );
    }
    if selection.reactor {
        app = app.merge(tenure_reactor::api::router(db.clone(), retry).route_layer(guard));
    }
    // Every error answer is JSON of one shape, axum's own refusals (404, 405, 413) too.
    let app = app.layer(axum::middleware::map_response(tenure_ingest::json_errors));
    with_request_log(app)
}

/// One `info` line per HTTP request when it is answered (method, path, status,
/// latency) in a span carrying the request's trace id: the `traceparent` the caller
/// sent, or a new trace, written into the request so that everything downstream (the
/// events ingest publishes) carries the same one.
fn with_request_log(app: Router) -> Router {
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    app.layer(
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
    )
    .layer(axum::middleware::map_request(ensure_traceparent))
}

/// The request with a valid `traceparent`: the caller's, or a new trace's.
async fn ensure_traceparent(mut request: axum::extract::Request) -> axum::extract::Request {
    use tenure_kafka::trace::{TRACEPARENT, TraceContext};
    let valid = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse)
        .is_some();
    if !valid && let Ok(value) = TraceContext::new_root().header().parse() {
        request.headers_mut().insert(TRACEPARENT, value);
    }
    request
}

fn request_span(request: &axum::extract::Request) -> tracing::Span {
    let trace = request
        .headers()
        .get(tenure_kafka::trace::TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(tenure_kafka::trace::TraceContext::parse);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        trace_id = %trace.map(|t| t.trace_id()).unwrap_or_default(),
    );
    // Under the caller's span, when spans are exported over OTLP.
    if let Some(t) = trace {
        t.adopt(&span);
    }
    span
}

/// What `/readyz` checks: PostgreSQL, the broker, and the embedded broker's supervisor.
#[derive(Clone)]
struct Readiness {
    db: Database,
    bootstrap: Option<String>,
}

/// Ready when PostgreSQL answers a query and the broker a metadata request, each
/// within two seconds, and every consumer group of the process (projector, reactor,
/// relay, bridges) has joined its group; `503` with what is not otherwise. A joined
/// replica that holds no partition (more replicas than partitions) is ready: it
/// takes over when another leaves. Liveness (`/healthz`) only says the process
/// serves HTTP.
async fn readyz(
    axum::extract::State(ready): axum::extract::State<Readiness>,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    let bound = Duration::from_secs(2);
    let database = async {
        let client = ready.db.client().await.map_err(|e| e.to_string())?;
        client
            .query_one(sql::PING, &[])
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    // The open answer says what is down, never the other component's own error text
    // (that goes to the log).
    let database = match tokio::time::timeout(bound, database).await {
        Ok(Ok(())) => serde_json::json!({"up": true}),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "readiness: PostgreSQL cannot be queried");
            serde_json::json!({"up": false, "error": "PostgreSQL cannot be queried"})
        }
        Err(_) => serde_json::json!({"up": false, "error": "no answer within 2 s"}),
    };
    let broker = match &ready.bootstrap {
        Some(bootstrap) => match tenure_kafka::broker::probe(bootstrap, bound).await {
            Ok(()) => serde_json::json!({"up": true}),
            Err(e) => {
                tracing::debug!(error = %e, "readiness: the broker does not answer");
                serde_json::json!({"up": false, "error": "the broker does not answer a metadata request"})
            }
        },
        None => serde_json::json!({"up": null}),
    };
    let embedded = tenure_kafka::broker::embedded_health();
    let consumers = tenure_kafka::membership::snapshot();
    let up = |v: &serde_json::Value| v["up"] != serde_json::json!(false);
    let ready_now = up(&database)
        && up(&broker)
        && embedded.as_ref().is_none_or(|h| h.up)
        && consumers.values().all(|m| m.joined);
    let status = if ready_now {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({
            "ready": ready_now,
            "database": database,
            "broker": broker,
            "embedded_broker": embedded,
            "consumers": consumers,
        })),
    )
}

/// Spawns the selected services, and their HTTP API on `listen` if given; each task
/// ends with its name and result. Returns the address the API listens on.
pub async fn spawn(
    tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
    selection: Selection,
    bootstrap: &str,
    db: &Database,
    rules: Rules,
    listen: Option<SocketAddr>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Option<SocketAddr>> {
    let Rules {
        policy,
        retry,
        brake,
        credentials,
        check_owners,
        ingest_timeout,
        admin_listen,
        command_topics: routes,
    } = rules;
    if selection.ingest && listen.is_some() && credentials.is_open() {
        tracing::warn!(
            "ingest accepts unauthenticated requests; pass --credentials for production"
        );
    }
    let unrestricted = credentials.unrestricted_connectors();
    if selection.ingest && !unrestricted.is_empty() {
        tracing::warn!(
            credentials = ?unrestricted,
            "connector credentials without `systems` may acknowledge commands for every system"
        );
    }
    let mut bound = None;
    let publisher = Publisher::new(bootstrap)?;
    if let Some(listen) = listen {
        if credentials.is_open() && !listen.ip().is_loopback() {
            anyhow::bail!(
                "refusing to serve {listen} without credentials: anyone who can reach it could \
                 announce leavers, acknowledge commands and read who holds what. Pass \
                 --credentials FILE (TENURE_CREDENTIALS; see deploy/credentials.example.toml), \
                 or listen on loopback (--listen 127.0.0.1:8080)"
            );
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        bound = Some(listener.local_addr()?);
        let mut ingest = tenure_ingest::IngestState::new(publisher.clone())
            .with_answer_bound(ingest_timeout)
            .with_credentials(credentials)
            .with_policy(policy.clone());
        if check_owners {
            ingest = ingest.with_directory(db.clone());
        }
        let app = http_router(
            selection,
            ingest,
            db,
            retry,
            Some(bootstrap.to_owned()),
            admin_listen.is_none(),
        );
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            tracing::info!(address = ?listener.local_addr().ok(), "HTTP API listening");
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            ("http", served.map_err(Into::into))
        });
    }
    if let Some(admin) = admin_listen {
        // Open by design: for a Prometheus on an internal network (the operator's choice
        // over the main listener's reader scope).
        let listener = tokio::net::TcpListener::bind(admin)
            .await
            .with_context(|| format!("cannot listen on {admin} (--admin-listen)"))?;
        let readiness = Readiness {
            db: db.clone(),
            bootstrap: Some(bootstrap.to_owned()),
        };
        let mut app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz).with_state(readiness));
        if selection.projector {
            app = app.merge(tenure_projector::api::metrics_router(
                db.clone(),
                Some(bootstrap.to_owned()),
                &policy,
            ));
        } else {
            // Ingest and reactor alone: this process's own figures.
            app = app.route(
                "/metrics",
                get(|| async {
                    (
                        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                        tenure_projector::process::exposition(),
                    )
                }),
            );
        }
        let app = app.layer(axum::middleware::map_response(tenure_ingest::json_errors));
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            tracing::info!(address = ?listener.local_addr().ok(), "admin HTTP (metrics, health) listening");
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            ("admin http", served.map_err(Into::into))
        });
    }
    if selection.ingest && check_owners {
        let (bootstrap, db, stop) = (bootstrap.to_owned(), db.clone(), shutdown.clone());
        let policy = policy.clone();
        tasks.spawn(async move {
            (
                "raw-topic bridge",
                tenure_ingest::bridge::run(&bootstrap, db, policy, stop)
                    .await
                    .map_err(Into::into),
            )
        });
    }
    if selection.projector {
        let (bootstrap, db, stop) = (bootstrap.to_owned(), db.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "projector",
                tenure_projector::run(&bootstrap, db, stop)
                    .await
                    .map_err(Into::into),
            )
        });
    }
    if selection.reactor {
        // The relay and the scheduler send on a producer of their own, at once.
        let commands_publisher = Publisher::latency_bound(bootstrap)?;
        let (bootstrap, reactor_db, stop) = (bootstrap.to_owned(), db.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "reactor",
                tenure_reactor::run(&bootstrap, reactor_db, policy, retry, brake, routes, stop)
                    .await
                    .map_err(Into::into),
            )
        });
        let (relay_db, relay_publisher, stop) =
            (db.clone(), commands_publisher.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "relay",
                tenure_reactor::relay::run(relay_db, relay_publisher, stop)
                    .await
                    .map_err(Into::into),
            )
        });
        let (retry_db, stop) = (db.clone(), shutdown.clone());
        tasks.spawn(async move {
            let tick = Duration::from_millis(500);
            let retried = tenure_reactor::retry::run(retry_db, retry, tick, stop).await;
            ("retrier", retried.map_err(Into::into))
        });
        let (scheduler_db, stop) = (db.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "scheduler",
                tenure_reactor::scheduler::run(scheduler_db, commands_publisher, stop)
                    .await
                    .map_err(Into::into),
            )
        });
    }
    Ok(bound)
}

/// Waits for the tasks; the first one to fail stops the rest.
pub async fn supervise(
    mut tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    stop: &watch::Sender<bool>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (name, result) = joined.context("a service task panicked")?;
        match result {
            Ok(()) => tracing::info!(service = name, "stopped"),
            Err(e) => {
                tracing::error!(service = name, error = %e, "failed; stopping the others");
                let _ = stop.send(true);
                first_error.get_or_insert(e.context(format!("{name} failed")));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value =
            serde_json::from_str(OPENAPI).expect("deploy/openapi.json is JSON");
        let paths = doc["paths"].as_object().expect("the document has paths");
        paths
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn openapi_documents_exactly_the_served_routes() {
        let served: BTreeSet<(String, String)> = tenure_ingest::ROUTES
            .iter()
            .chain(tenure_projector::api::ROUTES)
            .chain(tenure_reactor::api::ROUTES)
            .chain(&[
                ("get", "/healthz"),
                ("get", "/readyz"),
                ("get", "/openapi.json"),
            ])
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented(), served);
    }

    #[tokio::test]
    async fn every_documented_route_is_routed() {
        let url = std::env::var("TENURE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        // A fresh database: one left by an older build may hold other migrations.
        let test_db = format!("{url}/tenure_test_openapi");
        Database::drop_database(&test_db).await.expect("PostgreSQL");
        let db = Database::connect(&test_db).await.expect("PostgreSQL");
        let publisher = Publisher::new("127.0.0.1:1").expect("a producer can be created offline");
        let app = http_router(
            Selection::all(),
            tenure_ingest::IngestState::new(publisher),
            &db,
            Default::default(),
            None,
            true,
        );
        for (method, path) in documented() {
            let uri = path.replace("{id}", "hr:nobody");
            let request = Request::builder()
                .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            if status == StatusCode::NOT_FOUND {
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let body: serde_json::Value =
                    serde_json::from_slice(&body).expect("a 404 from Tenure is JSON");
                let scim_404 = body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
                    && body["status"] == "404";
                assert!(
                    body["error"] == "not_found" || scim_404,
                    "{method} {path} is not routed"
                );
            }
        }
    }
}
