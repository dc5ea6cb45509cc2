//! One leaver is one trace, exported: with an OTLP endpoint configured, `tenure run`
//! sends its spans over OTLP/HTTP to a collector (the test's own, decoding the
//! protobuf export requests), and the HR request's span and the reactor's decision
//! for that leaver are in the caller's trace, the decision under the request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use tenure_tests::{TestEnv, eventually};

const TRACE_ID: &str = "5c2f1a9e8d7b6c5a4f3e2d1c0b9a8f7e";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaver_is_one_trace_exported_over_otlp() -> anyhow::Result<()> {
    // The collector: every span of every export request it receives.
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let received = Arc::clone(&spans);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let received = Arc::clone(&received);
            async move {
                if let Ok(request) = ExportTraceServiceRequest::decode(body) {
                    let mut all = received.lock().unwrap();
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            all.extend(scope.spans);
                        }
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let collector = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let env = TestEnv::start("traces_otlp").await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let tenure = env.spawn_tenure_with(
        &["run", "--listen", &format!("127.0.0.1:{port}")],
        "traces_otlp-tenure",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("the API to answer", Duration::from_secs(60), || async {
        tenure.assert_running()?;
        Ok(http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success()))
    })
    .await?;
    let now = chrono::Utc::now();
    let joiner = json!({"source_system": "workday", "event_id": "hire-T1", "type": "joiner",
        "employee_id": "T1", "role": "engineer",
        "effective_time": (now - chrono::Duration::days(3)).to_rfc3339()});
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .json(&joiner)
        .send()
        .await?;
    assert_eq!(response.status(), 202);
    // Wait for the birthright grants, so the leaver has something to revoke.
    eventually("the joiner's grants", Duration::from_secs(60), || async {
        let client = env.db.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM projection_grants", &[])
            .await?;
        Ok((row.get::<_, i64>(0) > 0).then_some(()))
    })
    .await?;
    let leaver = json!({"source_system": "workday", "event_id": "leave-T1", "type": "leaver",
        "employee_id": "T1", "effective_time": chrono::Utc::now().to_rfc3339()});
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .header("traceparent", format!("00-{TRACE_ID}-b7ad6b7169203331-01"))
        .json(&leaver)
        .send()
        .await?;
    assert_eq!(response.status(), 202);

    let (request, decisions) = eventually(
        "the leaver's spans at the collector",
        Duration::from_secs(60),
        || async {
            tenure.assert_running()?;
            let all = spans.lock().unwrap().clone();
            let ours: Vec<&Span> = all
                .iter()
                .filter(|s| hex(&s.trace_id) == TRACE_ID)
                .collect();
            let request = ours
                .iter()
                .find(|s| s.name == "request")
                .map(|s| (*s).clone());
            let decisions: Vec<Span> = ours
                .iter()
                .filter(|s| s.name == "reactor.decide")
                .map(|s| (*s).clone())
                .collect();
            Ok(request
                .filter(|_| !decisions.is_empty())
                .map(|r| (r, decisions)))
        },
    )
    .await?;
    // The request hangs under the caller's span, the decision under the request.
    assert_eq!(hex(&request.parent_span_id), "b7ad6b7169203331");
    assert!(
        decisions
            .iter()
            .all(|d| d.parent_span_id == request.span_id),
        "the reactor's decision is a child of the HR request's span"
    );
    tenure.assert_running()?;
    Ok(())
}
