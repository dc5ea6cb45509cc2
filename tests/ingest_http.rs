//! The ingest service over HTTP and Kafka against the running binary: every HR and
//! ITSM event type is accepted; every ungoverned or malformed input is refused with a
//! 4xx naming the problem; a duplicate delivery is one event; SCIM provisioning maps
//! to joiner / mover / leaver; and raw-topic messages become events or dead letters.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tenure_core::{EventPayload, LifecycleEvent, ids};
use tenure_kafka::{Publisher, topics};
use tenure_tests::{TestEnv, eventually, hire_owner, read_topic, start_tenure_run, wait_caught_up};

const POLICY: &str = r#"
[roles.engineer]
owner = "head-of-engineering"
birthright = ["slack:acme:member"]

[roles.manager]
owner = "head-of-people"

[entitlement_classes.admin]
entitlements = ["*:*:admin"]
max_days = 30
"#;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// Posts `body` (JSON, or NDJSON when it is a string) and returns status and JSON answer.
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let request = self.http.post(format!("{}{path}", self.base));
        let request = match body {
            Value::String(ndjson) => request
                .header("content-type", "application/x-ndjson")
                .body(ndjson),
            json => request.json(&json),
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.raw_with(method, path, body, &[]).await
    }

    async fn raw_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }
}

fn ndjson(lines: &[Value]) -> Value {
    Value::String(lines.iter().map(|l| l.to_string() + "\n").collect())
}

/// The fields the 422 answer names, in order.
fn fields(body: &Value) -> Vec<String> {
    body["problems"]
        .as_array()
        .map(|p| {
            p.iter()
                .map(|p| p["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn events_of(env: &TestEnv, person: &str) -> anyhow::Result<Vec<LifecycleEvent>> {
    let identity = ids::identity(ids::PEOPLE, person);
    Ok(read_topic(env.bootstrap(), topics::LIFECYCLE)
        .await?
        .iter()
        .filter_map(|r| tenure_proto::decode_event(&r.payload).ok())
        .filter(|e| e.identity_id == identity)
        .collect())
}

/// Distinct events by kind: a redelivered event is on the log twice but is one event.
fn kinds(events: &[LifecycleEvent]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for e in events.iter().filter(|e| seen.insert(e.event_id)) {
        *out.entry(e.payload.kind()).or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_accepts_every_event_type_and_refuses_what_it_must() -> anyhow::Result<()> {
    let env = TestEnv::start("ingest_http").await?;
    let policy = tenure_tests::log_dir().join("ingest_http-policy.toml");
    std::fs::write(&policy, POLICY)?;
    let policy = policy.display().to_string();
    let (tenure, base) =
        start_tenure_run(&env, "ingest_http-tenure", &["--policy", &policy]).await?;
    let api = Api {
        http: reqwest::Client::new(),
        base: base.clone(),
    };
    hire_owner(&base, "E001").await?;
    let now = Utc::now();
    let at = |days: i64| (now + chrono::Duration::days(days)).to_rfc3339();

    // --- HR: every event type, single and NDJSON.
    let (status, body) = api
        .post(
            "/v1/hr/events",
            json!({"event_id": "h1", "type": "joiner", "employee_id": "E700",
            "role": "engineer", "kind": "contractor", "effective_time": at(-100)}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = api
        .post("/v1/hr/events", ndjson(&[
            json!({"event_id": "h2", "type": "mover", "employee_id": "E700", "role": "engineer",
                   "department": "R&D", "title": "lead", "manager_id": "E001", "location": "Lyon", "effective_time": at(-90)}),
            json!({"event_id": "h3", "type": "conversion", "employee_id": "E700", "kind": "employee",
                   "role": "engineer", "effective_time": at(-80)}),
            json!({"event_id": "h4", "type": "leave_of_absence_start", "employee_id": "E700",
                   "reason": "sabbatical", "effective_time": at(-70)}),
            json!({"event_id": "h5", "type": "leave_of_absence_end", "employee_id": "E700", "effective_time": at(-60)}),
            json!({"event_id": "h6", "type": "leaver", "employee_id": "E700", "reason": "resignation", "effective_time": at(-50)}),
            json!({"event_id": "h7", "type": "rehire", "employee_id": "E700", "role": "engineer", "effective_time": at(-10)}),
            json!({"event_id": "h8", "type": "leaver", "employee_id": "E700", "effective_time": at(30)}),
        ]))
        .await?;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 7);

    // --- Duplicate delivery: the same source event twice is one event id.
    let joiner = json!({"event_id": "h1", "type": "joiner", "employee_id": "E700",
        "role": "engineer", "kind": "contractor", "effective_time": at(-100)});
    let (_, again) = api.post("/v1/hr/events", joiner).await?;
    let first_id = ids::event("hr", "h1").to_string();
    assert_eq!(again["event_ids"][0], first_id.as_str());

    // --- ITSM: the request lifecycle, then the grant.
    for (n, kind, request) in [
        (1, "access_requested", "R1"),
        (2, "access_approved", "R1"),
        (3, "access_requested", "R2"),
        (4, "access_rejected", "R2"),
        (5, "access_requested", "R3"),
        (6, "access_cancelled", "R3"),
        (7, "access_fulfilled", "R1"),
    ] {
        let (status, body) = api
            .post(
                "/v1/itsm/events",
                json!({"event_id": format!("i{n}"), "type": kind, "request_id": request,
                "employee_id": "E701", "entitlement": "github:acme:admin", "owner": "E001",
                "business_reason": "release manager", "reason": "not needed",
                "effective_time": at(0), "revocation": {"expires_at": at(14)}}),
            )
            .await?;
        assert_eq!(status, 202, "{kind}: {body}");
    }

    // --- A rejected or cancelled request cannot be fulfilled afterwards, whether the
    // rejection is already projected or earlier in the same batch.
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(60)).await?;
    let fulfil = |n: &str, request: &str| {
        json!({"event_id": format!("late-{n}"), "type": "access_fulfilled", "request_id": request,
            "employee_id": "E701", "entitlement": "github:acme:admin", "owner": "E001",
            "business_reason": "release manager", "effective_time": at(0),
            "revocation": {"expires_at": at(14)}})
    };
    let (status, body) = api.post("/v1/itsm/events", fulfil("1", "R2")).await?;
    assert_eq!(
        (status, fields(&body)),
        (422, vec!["request_id".to_owned()]),
        "{body}"
    );
    assert!(
        body["problems"][0]["problem"]
            .as_str()
            .unwrap_or("")
            .contains("rejected"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/v1/itsm/events",
            ndjson(&[
                json!({"event_id": "i-r8", "type": "access_cancelled", "request_id": "R8",
                   "employee_id": "E701", "effective_time": at(0)}),
                fulfil("2", "R8"),
            ]),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["problems"][0]["line"], 2, "{body}");

    // --- Refusals, each naming its field.
    let governed = |over: Value| {
        let mut event = json!({"event_id": "bad", "type": "access_approved", "request_id": "R9",
            "employee_id": "E701", "entitlement": "github:acme:write", "owner": "E001",
            "business_reason": "why", "effective_time": at(0), "revocation": {"expires_at": at(10)}});
        for (k, v) in over.as_object().unwrap() {
            if v.is_null() {
                event.as_object_mut().unwrap().remove(k);
            } else {
                event[k] = v.clone();
            }
        }
        event
    };
    for (case, over, field) in [
        ("missing owner", json!({"owner": null}), "owner"),
        (
            "missing reason",
            json!({"business_reason": null}),
            "business_reason",
        ),
        (
            "missing revocation condition",
            json!({"revocation": null}),
            "revocation",
        ),
        (
            "empty revocation condition",
            json!({"revocation": {}}),
            "revocation",
        ),
        ("unknown owner", json!({"owner": "E999"}), "owner"),
        (
            "admin over 30 days",
            json!({"entitlement": "aws:prod:admin", "revocation": {"expires_at": at(90)}}),
            "revocation.expires_at",
        ),
        (
            "admin with no expiry",
            json!({"entitlement": "aws:prod:admin", "revocation": {"ends_on_role_change": true}}),
            "revocation.expires_at",
        ),
        (
            "bad entitlement",
            json!({"entitlement": "github"}),
            "entitlement",
        ),
        (
            "expiry before start",
            json!({"revocation": {"expires_at": at(-1)}}),
            "revocation.expires_at",
        ),
    ] {
        for kind in ["access_approved", "access_fulfilled"] {
            let mut event = governed(over.clone());
            event["type"] = json!(kind);
            let (status, body) = api.post("/v1/itsm/events", event).await?;
            assert_eq!(status, 422, "{case} ({kind}): {body}");
            assert!(
                fields(&body).contains(&field.to_owned()),
                "{case} ({kind}): {body}"
            );
        }
    }
    let (status, body) = api
        .post(
            "/v1/hr/events",
            json!({"event_id": "svc", "type": "joiner", "employee_id": "svc-x",
            "kind": "api_key", "role": "engineer", "owner": "E001", "effective_time": at(0)}),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        fields(&body),
        ["credential_system", "expires_at", "rotation_period_days"],
        "{body}"
    );
    let (status, body) = api
        .post(
            "/v1/hr/events",
            json!({"event_id": "c", "type": "conversion", "employee_id": "E700",
            "role": "engineer", "effective_time": at(0)}),
        )
        .await?;
    assert_eq!(
        (status, fields(&body)),
        (422, vec!["kind".to_owned()]),
        "{body}"
    );
    // Malformed input: 400 naming the problem.
    let (status, body) = api
        .post("/v1/hr/events", Value::String("{not json".into()))
        .await?;
    assert_eq!(status, 400, "{body}");
    let response = api
        .http
        .post(format!("{base}/v1/hr/events"))
        .header("content-type", "application/json")
        .body("{\"event_id\": 1")
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error"], "malformed_request");
    for (case, event) in [
        (
            "unknown type",
            json!({"event_id": "x", "type": "promotion", "employee_id": "E1", "effective_time": at(0)}),
        ),
        (
            "impossible date",
            json!({"event_id": "x", "type": "leaver", "employee_id": "E1", "effective_time": "2026-02-30T00:00:00Z"}),
        ),
        (
            "wrong type",
            json!({"event_id": 7, "type": "leaver", "employee_id": "E1", "effective_time": at(0)}),
        ),
    ] {
        let response = api
            .http
            .post(format!("{base}/v1/hr/events"))
            .json(&event)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await?;
        assert_eq!(status, 400, "{case}: {body}");
        assert!(
            body["message"].as_str().unwrap_or("").len() > 10,
            "{case}: {body}"
        );
    }
    // An NDJSON batch with one bad line is refused whole, naming the line.
    let (status, body) = api
        .post("/v1/hr/events", ndjson(&[
            json!({"event_id": "ok", "type": "leaver", "employee_id": "E702", "effective_time": at(0)}),
            json!({"event_id": "bad", "type": "leaver", "employee_id": "E702"}),
        ]))
        .await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["problems"][0]["line"], 2, "{body}");
    // Oversized body: 413.
    let big = "x".repeat(tenure_ingest::MAX_BODY_BYTES + 1);
    let response = api
        .http
        .post(format!("{base}/v1/hr/events"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await?;
    assert_eq!(response.status(), 413);

    // --- Raw topics: a good message becomes an event, a bad one a dead letter.
    let publisher = Publisher::new(env.bootstrap())?;
    let good = json!({"event_id": "raw-1", "type": "joiner", "employee_id": "E703",
        "role": "engineer", "effective_time": at(-5)});
    publisher
        .send(topics::HR_RAW, "E703", good.to_string().as_bytes(), &[])
        .await?;
    publisher
        .send(
            topics::HR_RAW,
            "E704",
            b"{\"event_id\": \"raw-2\", \"type\": \"joiner\"}",
            &[],
        )
        .await?;
    publisher
        .send(
            topics::ITSM_RAW,
            "E703",
            governed(json!({"owner": null, "event_id": "raw-3"}))
                .to_string()
                .as_bytes(),
            &[],
        )
        .await?;
    let letters = eventually("two dead letters", Duration::from_secs(60), || async {
        let letters = read_topic(env.bootstrap(), topics::DEAD_LETTERS).await?;
        Ok((letters.len() == 2).then_some(letters))
    })
    .await?;
    let reasons: Vec<&str> = letters
        .iter()
        .filter_map(|l| l.header("tenure_error"))
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("employee_id")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("owner")), "{reasons:?}");
    assert!(
        letters
            .iter()
            .all(|l| l.header("tenure_source_topic").is_some())
    );
    eventually(
        "the raw joiner on the log",
        Duration::from_secs(60),
        || async { Ok((!events_of(&env, "E703").await?.is_empty()).then_some(())) },
    )
    .await?;

    // --- Every accepted type reached the log, each once.
    let e700 = events_of(&env, "E700").await?;
    let seen = kinds(&e700);
    assert_eq!(seen.get("identity_joined"), Some(&2), "{seen:?}");
    assert_eq!(seen.get("identity_moved"), Some(&2), "{seen:?}");
    assert_eq!(seen.get("identity_left"), Some(&2), "{seen:?}");
    assert_eq!(seen.get("leave_of_absence_started"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("leave_of_absence_ended"), Some(&1), "{seen:?}");
    let e701 = events_of(&env, "E701").await?;
    let requests: Vec<String> = e701
        .iter()
        .filter_map(|e| match &e.payload {
            EventPayload::AccessRequestChanged {
                request_id, state, ..
            } => Some(format!("{request_id}:{}", state.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        requests,
        [
            "R1:requested",
            "R1:approved",
            "R2:requested",
            "R2:rejected",
            "R3:requested",
            "R3:cancelled"
        ]
    );
    assert_eq!(kinds(&e701).get("access_granted"), Some(&1));

    // Request-to-fulfilment time and SLA breaches on /metrics: R1 was fulfilled.
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(60)).await?;
    let metrics = api
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let value = |name: &str| -> Option<f64> {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    assert_eq!(
        value("tenure_request_to_fulfilment_seconds_count"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value("tenure_request_sla_breaches{state=\"open\"}"),
        Some(0.0),
        "{metrics}"
    );
    tenure.assert_running()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_provisioning_maps_to_joiner_mover_and_leaver() -> anyhow::Result<()> {
    let env = TestEnv::start("ingest_scim").await?;
    let (tenure, base) = start_tenure_run(&env, "ingest_scim-tenure", &[]).await?;
    let api = Api {
        http: reqwest::Client::new(),
        base,
    };
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
        "userName": "grace@acme.example", "externalId": "okta-00u1", "displayName": "Grace Hopper",
        "name": {"givenName": "Grace", "familyName": "Hopper"}, "active": true,
        "title": "Engineer", "roles": [{"value": "engineer", "primary": true}],
        "emails": [{"value": "grace@acme.example", "type": "work", "primary": true}],
        enterprise: {"employeeNumber": "E800", "department": "R&D", "manager": {"value": "E001"}}
    });
    let (status, created) = api
        .raw(reqwest::Method::POST, "/scim/v2/Users", Some(user.clone()))
        .await?;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id, ids::identity(ids::PEOPLE, "E800").to_string());
    // Kept as sent: the client's own key and every attribute come back.
    assert_eq!(created["userName"], "grace@acme.example");
    assert_eq!(created["externalId"], "okta-00u1");
    assert_eq!(created["name"]["familyName"], "Hopper");
    // A second create of the same person, or of another under the same userName in
    // other case, is a conflict (RFC 7643: userName is not case-exact).
    let (status, conflict) = api
        .raw(reqwest::Method::POST, "/scim/v2/Users", Some(user.clone()))
        .await?;
    assert_eq!(
        (status, conflict["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{conflict}"
    );
    let (status, conflict) = api
        .raw(
            reqwest::Method::POST,
            "/scim/v2/Users",
            Some(json!({"userName": "GRACE@acme.example"})),
        )
        .await?;
    assert_eq!(
        (status, conflict["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{conflict}"
    );

    // A client matches the user by userName (any case) and by externalId, right
    // after creating it and once the projector holds it.
    let path = format!("/scim/v2/Users/{id}");
    for filter in [
        "userName%20eq%20%22Grace%40ACME.example%22",
        "externalId%20eq%20%22okta-00u1%22",
        "emails%5Btype%20eq%20%22work%22%20and%20value%20co%20%22grace%22%5D%20and%20active%20eq%20true",
    ] {
        let (status, list) = api
            .raw(
                reqwest::Method::GET,
                &format!("/scim/v2/Users?filter={filter}"),
                None,
            )
            .await?;
        assert_eq!(
            (
                status,
                list["totalResults"].as_u64(),
                list["Resources"][0]["id"].as_str()
            ),
            (200, Some(1), Some(id.as_str())),
            "{filter}: {list}"
        );
    }
    let (_, none) = api
        .raw(
            reqwest::Method::GET,
            "/scim/v2/Users?filter=externalId%20eq%20%22OKTA-00U1%22",
            None,
        )
        .await?;
    assert_eq!(none["totalResults"], 0, "externalId is case-exact: {none}");
    let read = eventually(
        "the SCIM user to be projected",
        Duration::from_secs(60),
        || async {
            let (status, body) = api.raw(reqwest::Method::GET, &path, None).await?;
            let projected = env
                .db
                .client()
                .await?
                .query_opt(
                    "SELECT 1 FROM projection_identities WHERE identity_id = $1",
                    &[&uuid::Uuid::parse_str(&id)?],
                )
                .await?;
            Ok((status == 200 && projected.is_some()).then_some(body))
        },
    )
    .await?;
    assert_eq!(read["userName"], "grace@acme.example");
    assert_eq!(read[enterprise]["department"], "R&D");
    let (status, list) = api
        .raw(
            reqwest::Method::GET,
            "/scim/v2/Users?filter=userName%20eq%20%22grace%40acme.example%22&attributes=userName",
            None,
        )
        .await?;
    assert_eq!(
        (status, list["totalResults"].as_u64()),
        (200, Some(1)),
        "{list}"
    );
    assert!(list["Resources"][0].get("displayName").is_none(), "{list}");

    // PATCH the role and clear the title: a mover that clears it in Tenure too.
    let version = read["meta"]["version"].as_str().unwrap().to_owned();
    let (status, patched) = api
        .raw_with(reqwest::Method::PATCH, &path, Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "roles[primary eq true].value", "value": "sales"},
                           {"op": "remove", "path": "title"}]})), &[("if-match", &version)])
        .await?;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["roles"][0]["value"], "sales");
    assert!(patched.get("title").is_none(), "{patched}");
    // The same version again is stale now: 412, and nothing changes.
    let (status, stale) = api
        .raw_with(
            reqwest::Method::PATCH,
            &path,
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "G. Hopper"}]})),
            &[("if-match", &version)],
        )
        .await?;
    assert_eq!(
        (status, stale["status"].as_str()),
        (412, Some("412")),
        "{stale}"
    );
    let moved = eventually(
        "the mover to be projected",
        Duration::from_secs(60),
        || async {
            let row = env.db.client().await?.query_opt(
                "SELECT role, state->'attributes'->>'title' FROM projection_identities WHERE identity_id = $1",
                &[&uuid::Uuid::parse_str(&id)?],
            ).await?;
            Ok(row
                .map(|r| (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)))
                .filter(|(role, _)| role.as_deref() == Some("sales")))
        },
    )
    .await?;
    assert_eq!(moved.1, None, "the title was cleared in the projection too");

    // PUT with active "False": a leaver; then DELETE: gone for SCIM (404), twice.
    let (_, current) = api.raw(reqwest::Method::GET, &path, None).await?;
    let mut inactive = current.clone();
    inactive["active"] = json!("False");
    let (status, body) = api.raw(reqwest::Method::PUT, &path, Some(inactive)).await?;
    assert_eq!((status, &body["active"]), (200, &json!(false)), "{body}");
    let (status, _) = api.raw(reqwest::Method::DELETE, &path, None).await?;
    assert_eq!(status, 204);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, body) = api.raw(method.clone(), &path, None).await?;
        assert_eq!(
            (status, body["status"].as_str()),
            (404, Some("404")),
            "{method}: {body}"
        );
    }
    let left = eventually(
        "the SCIM leaver on the log",
        Duration::from_secs(60),
        || async {
            let events = events_of(&env, "E800").await?;
            Ok(events
                .iter()
                .any(|e| matches!(e.payload, EventPayload::IdentityLeft { .. }))
                .then_some(events))
        },
    )
    .await?;
    let seen = kinds(&left);
    assert_eq!(seen.get("identity_joined"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("identity_moved"), Some(&1), "{seen:?}");
    // Deactivated, then deleted: two leavers, the second marking the person deleted.
    assert_eq!(seen.get("identity_left"), Some(&2), "{seen:?}");

    // A bulk request whose first operation refers forward to the second's bulkId.
    let (status, bulk) = api
        .raw(reqwest::Method::POST, "/scim/v2/Bulk", Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "report",
                 "data": {"userName": "ada@acme.example", "roles": [{"value": "engineer"}],
                          enterprise: {"employeeNumber": "E801", "manager": {"value": "bulkId:boss"}}}},
                {"method": "POST", "path": "/Users", "bulkId": "boss",
                 "data": {"userName": "lin@acme.example", "roles": [{"value": "manager"}],
                          enterprise: {"employeeNumber": "E802"}}}
            ]})))
        .await?;
    assert_eq!(status, 200, "{bulk}");
    let operations = bulk["Operations"].as_array().unwrap();
    assert_eq!(operations.len(), 2, "{bulk}");
    assert!(operations.iter().all(|o| o["status"] == "201"), "{bulk}");
    let boss = ids::identity(ids::PEOPLE, "E802").to_string();
    let report_path = format!("/scim/v2/Users/{}", ids::identity(ids::PEOPLE, "E801"));
    let (_, report) = api.raw(reqwest::Method::GET, &report_path, None).await?;
    assert_eq!(
        report[enterprise]["manager"]["value"],
        boss.as_str(),
        "{report}"
    );

    // SCIM errors use SCIM's format, the framework's refusals included.
    let (status, body) = api
        .raw(
            reqwest::Method::POST,
            "/scim/v2/Users",
            Some(json!({"userName": "E803", "active": 3})),
        )
        .await?;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{body}"
    );
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(
        body["detail"].as_str().unwrap_or("").contains("active"),
        "{body}"
    );
    let (status, body) = api
        .raw(
            reqwest::Method::GET,
            "/scim/v2/Users?filter=title%20zz%20%22x%22",
            None,
        )
        .await?;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (400, Some("invalidFilter")),
        "{body}"
    );
    for (method, path, expected) in [
        (reqwest::Method::GET, "/scim/v2/Groups", 404),
        (reqwest::Method::DELETE, "/scim/v2/Users", 405),
    ] {
        let (status, body) = api.raw(method, path, None).await?;
        assert_eq!(
            (status, body["status"].as_str()),
            (expected, Some(expected.to_string().as_str())),
            "{path}: {body}"
        );
    }
    let huge = json!({"userName": "x".repeat(9 * 1024 * 1024)});
    let (status, body) = api
        .raw(reqwest::Method::POST, "/scim/v2/Users", Some(huge))
        .await?;
    assert_eq!(
        (status, body["status"].as_str()),
        (413, Some("413")),
        "{body}"
    );
    tenure.assert_running()?;
    Ok(())
}
