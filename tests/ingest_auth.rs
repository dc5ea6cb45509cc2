//! Each source has its own credential (bearer token or HMAC secret) and scope: a
//! missing, unknown or wrongly signed credential is 401, one used outside its scope is
//! 403, and nothing of a refused request is published.

use serde_json::{Value, json};
use tenure_tests::{TestEnv, eventually, log_dir, read_topic, start_tenure_run};

const CREDENTIALS: &str = r#"
[[credential]]
name = "workday"
token = "hr-token-0123456789abcdef"
scopes = ["hr"]

[[credential]]
name = "servicenow"
token = "itsm-token-0123456789abcdef"
scopes = ["itsm"]

[[credential]]
name = "successfactors"
hmac_secret = "signing-secret-0123456789"
scopes = ["hr"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_scopes_guard_the_ingest_api() -> anyhow::Result<()> {
    let env = TestEnv::start("ingest_auth").await?;
    let file = log_dir().join("ingest_auth-credentials.toml");
    std::fs::write(&file, CREDENTIALS)?;
    let path = file.to_string_lossy().into_owned();
    let (tenure, base) =
        start_tenure_run(&env, "ingest_auth-tenure", &["--credentials", &path]).await?;
    let http = reqwest::Client::new();
    let joiner = json!({"event_id": "hire-E600", "type": "joiner", "employee_id": "E600", "role": "sales",
                        "effective_time": chrono::Utc::now().to_rfc3339()});
    let send = |token: Option<&'static str>| {
        let mut request = http.post(format!("{base}/v1/hr/events")).json(&joiner);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let challenge = response.headers().get("www-authenticate").is_some();
            let body: Value = response.json().await?;
            anyhow::Ok((status, challenge, body))
        }
    };

    let (status, challenge, body) = send(None).await?;
    assert_eq!((status, challenge), (401, true), "{body}");
    assert_eq!(body["error"], "unauthorized");
    let (status, _, body) = send(Some("not-a-known-token-at-all")).await?;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = send(Some("itsm-token-0123456789abcdef")).await?;
    assert_eq!(
        status, 403,
        "an ITSM credential cannot announce a joiner: {body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("servicenow"),
        "{body}"
    );
    let (status, _, body) = send(Some("hr-token-0123456789abcdef")).await?;
    assert_eq!(status, 202, "{body}");

    // A body signed with the source's HMAC secret is accepted; a tampered or stale
    // one is not.
    let signed = |body: String, timestamp: i64, secret: &str| {
        http.post(format!("{base}/v1/hr/events"))
            .header("content-type", "application/json")
            .header(tenure_ingest::auth::SOURCE_HEADER, "successfactors")
            .header(tenure_ingest::auth::TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                tenure_ingest::auth::SIGNATURE_HEADER,
                tenure_ingest::auth::sign(
                    secret,
                    timestamp,
                    "POST",
                    "/v1/hr/events",
                    body.as_bytes(),
                ),
            )
            .body(body)
    };
    let now = chrono::Utc::now().timestamp();
    let body =
        json!({"event_id": "hire-E601", "type": "joiner", "employee_id": "E601", "role": "sales",
                      "effective_time": chrono::Utc::now().to_rfc3339()})
        .to_string();
    let secret = "signing-secret-0123456789";
    let response = signed(body.clone(), now, secret).send().await?;
    assert_eq!(response.status(), 202, "{}", response.text().await?);
    let response = signed(body.clone(), now, "not-the-right-secret-at-all")
        .send()
        .await?;
    assert_eq!(response.status(), 401);
    let response = signed(body.clone(), now - 3600, secret).send().await?;
    assert_eq!(response.status(), 401, "a stale signature is a replay");
    let tampered = signed(body.clone(), now, secret).body(body.replace("sales", "finance"));
    assert_eq!(tampered.send().await?.status(), 401);

    // Only the accepted joiners reached the log.
    let log = tenure_tests::read_topic(env.bootstrap(), tenure_kafka::topics::LIFECYCLE).await?;
    let joiners = log
        .iter()
        .filter(|r| r.header("ce_type") == Some("tenure.lifecycle.v1.identity_joined"))
        .count();
    assert_eq!(joiners, 2);
    tenure.assert_running()?;
    Ok(())
}

const ROLE_CREDENTIALS: &str = r#"
[[credential]]
name = "workday"
token = "hr-token-0123456789abcdef"
scopes = ["hr"]

[[credential]]
name = "auditor"
token = "reader-token-0123456789abcdef"
scopes = ["reader"]

[[credential]]
name = "ops-oncall"
token = "operator-token-0123456789abcdef"
scopes = ["operator"]
"#;

/// Every query and operator route needs its scope: none → 401, another scope → 403,
/// `reader` reads, only `operator` releases the brake, and each release is recorded
/// on the log with the operator's credential as the actor whatever the body claims. Health,
/// readiness, the OpenAPI document and the dashboard's page stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_and_operator_route_needs_its_scope() -> anyhow::Result<()> {
    let env = TestEnv::start("route_scopes").await?;
    let file = log_dir().join("route_scopes-credentials.toml");
    std::fs::write(&file, ROLE_CREDENTIALS)?;
    let path = file.to_string_lossy().into_owned();
    // A brake that holds any non-leaver revocation, so that a release has something to
    // record.
    let (tenure, base) = start_tenure_run(
        &env,
        "route_scopes-tenure",
        &[
            "--credentials",
            &path,
            "--brake-minimum",
            "0",
            "--brake-share",
            "0",
        ],
    )
    .await?;
    let http = reqwest::Client::new();
    let status = |method: &str, route: &str, token: Option<&str>| {
        let url = format!("{base}{}", route.replace("{id}", "hr:E1"));
        let mut request = match method {
            "post" => http
                .post(url)
                .json(&json!({"actor": "someone-else", "reason": "reviewed"})),
            _ => http.get(url),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { anyhow::Ok(request.send().await?.status().as_u16()) }
    };
    for open in ["/healthz", "/openapi.json", "/dashboard"] {
        assert_eq!(status("get", open, None).await?, 200, "{open} stays open");
    }
    assert_ne!(status("get", "/readyz", None).await?, 401);

    let reads = tenure_projector::api::ROUTES
        .iter()
        .chain(tenure_reactor::api::ROUTES)
        .filter(|(method, route)| *method == "get" && *route != "/dashboard");
    for (method, route) in reads {
        assert_eq!(
            status(method, route, None).await?,
            401,
            "{route} without a credential"
        );
        assert_eq!(
            status(method, route, Some("hr-token-0123456789abcdef")).await?,
            403,
            "{route} with an HR credential"
        );
        for reader in [
            "reader-token-0123456789abcdef",
            "operator-token-0123456789abcdef",
        ] {
            let answered = status(method, route, Some(reader)).await?;
            assert!(
                answered != 401 && answered != 403,
                "{route} with a reading credential: {answered}"
            );
        }
    }

    // A mover's revocations are held by the brake.
    let hr = |body: Value| {
        let request = http
            .post(format!("{base}/v1/hr/events"))
            .bearer_auth("hr-token-0123456789abcdef")
            .json(&body);
        async move { anyhow::Ok(request.send().await?.status().as_u16()) }
    };
    let hired = (chrono::Utc::now() - chrono::Duration::days(10)).to_rfc3339();
    let moved = chrono::Utc::now().to_rfc3339();
    assert_eq!(hr(json!({"event_id": "hire-E1", "type": "joiner", "employee_id": "E1", "role": "engineer", "effective_time": hired})).await?, 202);
    eventually(
        "birthright grants",
        std::time::Duration::from_secs(60),
        || async {
            let body: Value = http
                .get(format!("{base}/v1/identities/hr:E1"))
                .bearer_auth("reader-token-0123456789abcdef")
                .send()
                .await?
                .json()
                .await?;
            Ok((body["grants"].as_array().map_or(0, Vec::len) == 4).then_some(()))
        },
    )
    .await?;
    assert_eq!(hr(json!({"event_id": "move-E1", "type": "mover", "employee_id": "E1", "role": "sales", "effective_time": moved})).await?, 202);
    eventually(
        "revocations held by the brake",
        std::time::Duration::from_secs(60),
        || async {
            let body: Value = http
                .get(format!("{base}/v1/brake"))
                .bearer_auth("reader-token-0123456789abcdef")
                .send()
                .await?
                .json()
                .await?;
            Ok((body["held"].as_i64() > Some(0)).then_some(()))
        },
    )
    .await?;

    let release = "/v1/brake/release";
    assert_eq!(status("post", release, None).await?, 401);
    assert_eq!(
        status("post", release, Some("reader-token-0123456789abcdef")).await?,
        403,
        "a reader cannot release the brake"
    );
    let released: Value = http
        .post(format!("{base}{release}"))
        .bearer_auth("operator-token-0123456789abcdef")
        .json(&json!({"actor": "someone-else", "reason": "reviewed with HR"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(released["actor"], "ops-oncall", "{released}");
    assert_eq!(released["reason"], "reviewed with HR", "{released}");
    assert!(released["released"].as_u64() > Some(0), "{released}");
    // On the log, each release names the operator's credential, not the body's claim.
    let actors = eventually(
        "the releases on the log",
        std::time::Duration::from_secs(60),
        || async {
            let mut actors = Vec::new();
            for record in read_topic(env.bootstrap(), tenure_kafka::topics::LIFECYCLE).await? {
                if let tenure_core::EventPayload::RevocationReleased { actor, .. } =
                    tenure_proto::decode_event(&record.payload)?.payload
                {
                    actors.push(actor);
                }
            }
            Ok(
                (actors.len() as u64 == released["released"].as_u64().unwrap_or(0))
                    .then_some(actors),
            )
        },
    )
    .await?;
    assert!(actors.iter().all(|a| a == "ops-oncall"), "{actors:?}");
    tenure.assert_running()?;
    Ok(())
}

/// Without credentials Tenure serves loopback only: binding any other address is
/// refused with a message that names the flag to pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_installation_refuses_to_listen_beyond_loopback() -> anyhow::Result<()> {
    let env = TestEnv::start("open_beyond_loopback").await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("0.0.0.0:{port}");
    let refused = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        env.run_tenure(&["run", "--listen", &listen]),
    )
    .await
    .map_err(|_| anyhow::anyhow!("tenure served 0.0.0.0 without credentials instead of refusing"))?
    .expect_err("an open installation must not listen on every interface");
    let message = format!("{refused:#}");
    assert!(
        message.contains("without credentials") && message.contains("--credentials"),
        "{message}"
    );
    Ok(())
}
