//! Security regressions at Tenure's edges, tried as an attacker would: a source
//! speaking for another, an identity nobody hired, a role nobody defined, bodies sent
//! before the caller is known, replayed signed requests (against a second ingest
//! instance too), injection and traversal strings, and error bodies that must be JSON
//! without another component's internal text. Each refusal is checked to change
//! nothing on the log.

use std::time::Duration;

use serde_json::{Value, json};
use tenure_ingest::auth::{SIGNATURE_HEADER, SOURCE_HEADER, TIMESTAMP_HEADER, sign};
use tenure_tests::{TestEnv, eventually, log_dir, read_topic, start_tenure_run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CREDENTIALS: &str = r#"
[[credential]]
name = "workday"
token = "hr-token-0123456789abcdef"
scopes = ["hr"]

[[credential]]
name = "itsm"
token = "itsm-token-0123456789abcdef"
scopes = ["itsm"]
sources = ["servicenow"]

[[credential]]
name = "successfactors"
hmac_secret = "signing-secret-0123456789"
scopes = ["hr"]

[[credential]]
name = "auditor"
token = "reader-token-0123456789abc"
scopes = ["reader"]
"#;

const HR: &str = "hr-token-0123456789abcdef";
const ITSM: &str = "itsm-token-0123456789abcdef";
const READER: &str = "reader-token-0123456789abc";

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// The lifecycle log's records, as (source system, source event id).
async fn logged(env: &TestEnv) -> anyhow::Result<Vec<(String, String)>> {
    Ok(read_topic(env.bootstrap(), tenure_kafka::topics::LIFECYCLE)
        .await?
        .iter()
        .filter_map(|r| tenure_proto::decode_event(&r.payload).ok())
        .map(|e| (e.source_system, e.source_event_id))
        .collect())
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let response = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edges_refuse_what_an_attacker_would_try() -> anyhow::Result<()> {
    let mut env = TestEnv::start("security").await?;
    // The whole run talks to PostgreSQL over TLS.
    env.database_url = format!("{}?sslmode=require", env.database_url);
    let file = log_dir().join("security-credentials.toml");
    std::fs::write(&file, CREDENTIALS)?;
    let path = file.to_string_lossy().into_owned();
    let (tenure, base) =
        start_tenure_run(&env, "security-tenure", &["--credentials", &path]).await?;
    let http = reqwest::Client::new();
    let hr_url = format!("{base}/v1/hr/events");
    let itsm_url = format!("{base}/v1/itsm/events");

    // The HR credential's events are recorded under its own source, not "hr".
    let (status, body) = post(
        &http,
        &hr_url,
        HR,
        &json!({"event_id": "hire-S1", "type": "joiner",
        "employee_id": "S1", "role": "engineer", "effective_time": now()}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");

    // A source cannot speak for another: the ITSM credential claiming "workday" (and so
    // the ids of HR's future events), or anyone claiming Tenure's own sources.
    for (token, url, claimed) in [
        (ITSM, &itsm_url, "workday"),
        (HR, &hr_url, "servicenow"),
        (HR, &hr_url, "tenure-reactor"),
        (HR, &hr_url, "scim"),
        (HR, &hr_url, "connector:github"),
    ] {
        let event = if url == &itsm_url {
            json!({"event_id": "LEAVE-VICTIM-1", "source_system": claimed, "type": "access_requested",
                   "request_id": "R-1", "employee_id": "S1", "entitlement": "github:acme:admin",
                   "effective_time": now()})
        } else {
            json!({"event_id": "LEAVE-VICTIM-1", "source_system": claimed, "type": "leaver",
                   "employee_id": "S1", "effective_time": now()})
        };
        let (status, body) = post(&http, url, token, &event).await?;
        assert_eq!(status, 403, "claiming {claimed:?}: {body}");
        assert!(
            body["message"].as_str().unwrap_or("").contains(claimed),
            "{body}"
        );
    }
    // The victim's real leaver is not a duplicate of anything and is accepted.
    let (status, body) = post(
        &http,
        &hr_url,
        HR,
        &json!({"event_id": "LEAVE-VICTIM-1", "type": "leaver",
        "employee_id": "S1", "effective_time": now()}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");

    // A leaver, mover or leave for someone Tenure never saw join is refused naming
    // employee_id; so is a joiner to a role the policy does not define.
    for event in [
        json!({"event_id": "ghost-leave", "type": "leaver", "employee_id": "GHOST-1", "effective_time": now()}),
        json!({"event_id": "ghost-move", "type": "mover", "employee_id": "GHOST-1", "role": "sales", "effective_time": now()}),
        json!({"event_id": "ghost-loa", "type": "leave_of_absence_start", "employee_id": "GHOST-1", "effective_time": now()}),
        json!({"event_id": "inj-1", "type": "leaver", "employee_id": "E1'; DROP TABLE projection_identities;--", "effective_time": now()}),
        json!({"event_id": "trav-1", "type": "leaver", "employee_id": "../../etc/passwd", "effective_time": now()}),
    ] {
        let (status, body) = post(&http, &hr_url, HR, &event).await?;
        assert_eq!(status, 422, "{event}: {body}");
        assert_eq!(body["problems"][0]["field"], "employee_id", "{body}");
    }
    let (status, body) = post(
        &http,
        &hr_url,
        HR,
        &json!({"event_id": "hire-typo", "type": "joiner",
        "employee_id": "S2", "role": "enginer", "effective_time": now()}),
    )
    .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["problems"][0]["field"], "role", "{body}");
    // A joiner and its leaver sent back to back in two requests: the leaver is known
    // at once, before the projection has caught up.
    let (status, body) = post(
        &http,
        &hr_url,
        HR,
        &json!({"event_id": "hire-S3", "type": "joiner",
        "employee_id": "S3", "role": "sales", "effective_time": now()}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = post(
        &http,
        &hr_url,
        HR,
        &json!({"event_id": "leave-S3", "type": "leaver",
        "employee_id": "S3", "effective_time": now()}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");

    // Injection and traversal strings in paths and query parameters: 4xx, JSON.
    for path in [
        "/v1/identities/..%2F..%2Fetc%2Fpasswd",
        "/v1/identities/hr:E1'%20OR%20'1'='1/access",
        "/v1/access?system=github&resource=acme%27%3B%20DROP%20TABLE%20projection_grants%3B--&at=x",
        "/v1/grants?system=%00",
        "/v1/no-such-route",
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(READER)
            .send()
            .await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response.text().await?;
        assert!(status.is_client_error(), "{path}: {status} {text}");
        assert!(
            content_type.contains("json"),
            "{path}: {content_type} {text}"
        );
        let body: Value = serde_json::from_str(&text)?;
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{path}: {body}"
        );
    }
    let client = env.db.client().await?;
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables
              WHERE tablename IN ('projection_identities', 'projection_grants')",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        tables, 2,
        "the tables named in the injections are still there"
    );

    // The scheme of a bearer token is case-insensitive (RFC 9110).
    let response = http
        .post(&hr_url)
        .header("authorization", format!("bearer {HR}"))
        .json(
            &json!({"event_id": "hire-S4", "type": "joiner", "employee_id": "S4", "role": "sales",
                      "effective_time": now()}),
        )
        .send()
        .await?;
    assert_eq!(response.status(), 202, "{}", response.text().await?);

    // An anonymous caller announcing 8 MB is answered from its headers alone: the
    // 401 arrives although the body is never sent.
    let address = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await?;
    socket
        .write_all(
            format!(
                "POST /v1/hr/events HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
                 Content-Length: 8000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");

    // An oversized body from a known caller is a JSON 413. The server closes that
    // connection without reading the rest of the body, so it is sent on a client of
    // its own: the shared client must not reuse the closing connection.
    let response = reqwest::Client::new()
        .post(&hr_url)
        .bearer_auth(HR)
        .header("content-type", "application/json")
        .body(vec![b' '; 9 * 1024 * 1024])
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await?;
    assert_eq!(body["error"], "payload_too_large", "{body}");

    // Signed requests: an unknown signer and a wrong signature get the same answer;
    // a refused request may be resent as it is; an accepted one cannot be replayed,
    // not even against a second ingest instance.
    let signed = |base: &str, body: &str, source: &str, secret: &str, timestamp: i64| {
        http.post(format!("{base}/v1/hr/events"))
            .header("content-type", "application/json")
            .header(SOURCE_HEADER, source)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(secret, timestamp, "POST", "/v1/hr/events", body.as_bytes()),
            )
            .body(body.to_owned())
    };
    let t = chrono::Utc::now().timestamp();
    let unknown: Value = signed(&base, "{}", "nobody", "signing-secret-0123456789", t)
        .send()
        .await?
        .json()
        .await?;
    let wrong: Value = signed(
        &base,
        "{}",
        "successfactors",
        "another-secret-0123456789",
        t,
    )
    .send()
    .await?
    .json()
    .await?;
    assert_eq!(
        unknown["message"], wrong["message"],
        "the 401 must not tell which names exist"
    );
    let refused_body = json!({"event_id": "sf-1", "type": "leaver", "employee_id": "NOT-HIRED",
                              "effective_time": now()})
    .to_string();
    for attempt in 0..2 {
        let response = signed(
            &base,
            &refused_body,
            "successfactors",
            "signing-secret-0123456789",
            t,
        )
        .send()
        .await?;
        assert_eq!(
            response.status(),
            422,
            "attempt {attempt}: {}",
            response.text().await?
        );
    }
    let accepted_body = json!({"event_id": "sf-hire-1", "type": "joiner", "employee_id": "SF1",
                               "role": "finance", "effective_time": now()})
    .to_string();
    let response = signed(
        &base,
        &accepted_body,
        "successfactors",
        "signing-secret-0123456789",
        t,
    )
    .send()
    .await?;
    assert_eq!(response.status(), 202, "{}", response.text().await?);
    // A second ingest instance on the same database and broker, with an admin
    // listener: its /metrics holds its own process figures, not the system's.
    let second_admin = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    );
    let (second, second_base) = tenure_tests::start_tenure_service(
        &env,
        "security-second-ingest",
        "ingest",
        &["--credentials", &path, "--admin-listen", &second_admin],
    )
    .await?;
    let own = reqwest::get(format!("http://{second_admin}/metrics"))
        .await?
        .text()
        .await?;
    assert!(own.contains("process_resident_memory_bytes "), "{own}");
    assert!(own.contains("tenure_build_info{version="), "{own}");
    assert!(!own.contains("tenure_events_total"), "{own}");
    for target in [&base, &second_base] {
        let response = signed(
            target,
            &accepted_body,
            "successfactors",
            "signing-secret-0123456789",
            t,
        )
        .send()
        .await?;
        assert_eq!(response.status(), 401, "a replay to {target}");
        let body: Value = response.json().await?;
        assert!(
            body["message"].as_str().unwrap_or("").contains("already"),
            "{body}"
        );
    }

    // Exactly the accepted events reached the log, under the sources of their
    // credentials; nothing refused did.
    let expected = vec![
        ("workday".to_owned(), "hire-S1".to_owned()),
        ("workday".to_owned(), "LEAVE-VICTIM-1".to_owned()),
        ("workday".to_owned(), "hire-S3".to_owned()),
        ("workday".to_owned(), "leave-S3".to_owned()),
        ("workday".to_owned(), "hire-S4".to_owned()),
        ("successfactors".to_owned(), "sf-hire-1".to_owned()),
    ];
    let sourced = eventually(
        "the accepted events on the log",
        Duration::from_secs(30),
        || async {
            let log: Vec<(String, String)> = logged(&env)
                .await?
                .into_iter()
                .filter(|(source, _)| {
                    source == "workday" || source == "successfactors" || source == "servicenow"
                })
                .collect();
            Ok((log.len() >= expected.len()).then_some(log))
        },
    )
    .await?;
    let mut sourced = sourced;
    sourced.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(sourced, expected);
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
              WHERE datname = 'tenure_test_security' AND ssl",
            &[],
        )
        .await?
        .get(0);
    assert!(
        encrypted >= 2,
        "the services' connections are encrypted ({encrypted})"
    );
    tenure.assert_running()?;
    second.assert_running()?;
    Ok(())
}

#[tokio::test]
async fn postgres_over_tls_as_sslmode_asks() -> anyhow::Result<()> {
    // The local server has `ssl = on` with Debian's self-signed certificate.
    let server = tenure_tests::pg_server();
    let plain = tenure_store::Database::connect(&format!("{server}/tenure_test_tls")).await?;
    let ssl: String = plain
        .client()
        .await?
        .query_one("SHOW ssl", &[])
        .await?
        .get(0);
    assert_eq!(
        ssl, "on",
        "this test needs the local PostgreSQL with ssl = on"
    );
    let encrypted = |db: &tenure_store::Database| {
        let db = db.clone();
        async move {
            let ssl: bool = db
                .client()
                .await?
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await?
                .get(0);
            anyhow::Ok(ssl)
        }
    };
    assert!(!encrypted(&plain).await?, "no sslmode: a plain connection");
    let required =
        tenure_store::Database::connect(&format!("{server}/tenure_test_tls?sslmode=require"))
            .await?;
    assert!(encrypted(&required).await?, "sslmode=require encrypts");
    let snakeoil = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let verified = tenure_store::Database::connect(&format!(
        "{server}/tenure_test_tls?sslmode=verify-ca&sslrootcert={snakeoil}"
    ))
    .await?;
    assert!(
        encrypted(&verified).await?,
        "verify-ca with the server's own root"
    );
    // The certificate names the machine, not 127.0.0.1: verify-full refuses it.
    let wrong_name = tenure_store::Database::connect(&format!(
        "{server}/tenure_test_tls?sslmode=verify-full&sslrootcert={snakeoil}"
    ))
    .await;
    assert!(wrong_name.is_err(), "verify-full must check the host name");
    // A root that did not sign the server's certificate is refused.
    let other_root = tenure_store::Database::connect(&format!(
        "{server}/tenure_test_tls?sslmode=verify-ca&sslrootcert=/etc/ssl/certs/ISRG_Root_X1.pem"
    ))
    .await;
    assert!(other_root.is_err(), "a certificate from an untrusted root");
    let bad =
        tenure_store::Database::connect(&format!("{server}/tenure_test_tls?sslmode=sometimes"))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
    assert!(bad.contains("sslmode"), "{bad}");
    Ok(())
}

/// A stand-in for an operator's SSO: an OIDC issuer on loopback that publishes one
/// EC P-256 key and signs tokens with it.
struct Issuer {
    url: String,
    key: jsonwebtoken::EncodingKey,
}

impl Issuer {
    async fn start() -> anyhow::Result<Issuer> {
        use base64::Engine;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("key generation"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("key parsing"))?;
        let point = pair.public_key().as_ref();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
                                    "x": b64.encode(&point[1..33]), "y": b64.encode(&point[33..65])}]});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Issuer {
            url,
            key: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
        })
    }

    fn token(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("a token signs")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_tokens_reach_the_query_and_operator_routes_by_their_scopes() -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let env = TestEnv::start("security_oidc").await?;
    let file = log_dir().join("security_oidc-credentials.toml");
    std::fs::write(
        &file,
        format!(
            "{CREDENTIALS}\n[oidc]\nissuer = \"{}\"\naudience = \"tenure\"\nactor_claim = \"email\"\n",
            issuer.url
        ),
    )?;
    let path = file.to_string_lossy().into_owned();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let admin = format!("127.0.0.1:{admin_port}");
    let (tenure, base) = start_tenure_run(
        &env,
        "security_oidc-tenure",
        &["--credentials", &path, "--admin-listen", &admin],
    )
    .await?;
    let http = reqwest::Client::new();
    // The operator chose an admin listener for /metrics: open there, gone from the
    // main listener.
    let metrics = http.get(format!("http://{admin}/metrics")).send().await?;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await?;
    assert!(
        text.contains("tenure_events_total"),
        "Prometheus text: {text}"
    );
    assert!(text.contains("process_open_fds "), "{text}");
    let on_main = http
        .get(format!("{base}/metrics"))
        .bearer_auth(READER)
        .send()
        .await?;
    assert_eq!(on_main.status(), 404);
    let exp = chrono::Utc::now().timestamp() + 300;
    let claims = |scope: &str, audience: &str, exp: i64| {
        json!({"iss": issuer.url, "aud": audience, "exp": exp, "sub": "u-1",
               "email": "alice@example.com", "scope": scope})
    };
    let get = |token: String| {
        let request = http.get(format!("{base}/v1/governance")).bearer_auth(token);
        async move { anyhow::Ok(request.send().await?.status().as_u16()) }
    };
    assert_eq!(
        get(issuer.token(&claims("openid tenure:reader", "tenure", exp))).await?,
        200
    );
    assert_eq!(
        get(issuer.token(&claims("openid tenure:operator", "tenure", exp))).await?,
        200
    );
    // Another audience, an expired token, no Tenure scope: refused.
    assert_eq!(
        get(issuer.token(&claims("tenure:reader", "another-api", exp))).await?,
        401
    );
    assert_eq!(
        get(issuer.token(&claims("tenure:reader", "tenure", exp - 3600))).await?,
        401
    );
    assert_eq!(
        get(issuer.token(&claims("openid profile", "tenure", exp))).await?,
        403
    );
    // A token signed with a shared secret under the issuer's key id is never accepted.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims("tenure:operator", "tenure", exp),
        &jsonwebtoken::EncodingKey::from_secret(b"guessed"),
    )?;
    assert_eq!(get(forged).await?, 401);
    // A signature from another key is refused too.
    let other = Issuer::start().await?;
    assert_eq!(
        get(other.token(&claims("tenure:reader", "tenure", exp))).await?,
        401
    );
    // A reader may not release the brake; an operator may.
    let release = |token: String| {
        let request = http
            .post(format!("{base}/v1/brake/release"))
            .bearer_auth(token)
            .json(&json!({"reason": "checked with HR"}));
        async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            anyhow::Ok((status, response.json::<Value>().await.unwrap_or_default()))
        }
    };
    let (status, _) = release(issuer.token(&claims("tenure:reader", "tenure", exp))).await?;
    assert_eq!(status, 403);
    let (status, body) = release(issuer.token(&claims("tenure:operator", "tenure", exp))).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["actor"], "oidc:alice@example.com",
        "the person is the actor: {body}"
    );
    // SSO tokens stand for people, never for sources.
    let (status, _) = post(
        &http,
        &format!("{base}/v1/hr/events"),
        &issuer.token(&claims("tenure:operator tenure:hr", "tenure", exp)),
        &json!({"event_id": "sso-1", "type": "joiner", "employee_id": "SSO1", "role": "sales",
                "effective_time": now()}),
    )
    .await?;
    assert_eq!(status, 403);
    tenure.assert_running()?;
    Ok(())
}
