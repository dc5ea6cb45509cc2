//! Every intake path asks the same core rules (`tenure_core::intake`), so each refuses
//! the same bad event with the same problems: HTTP JSON, HTTP NDJSON and the raw
//! topics, for an ungoverned fulfilment naming an unknown owner, the fulfilment of a
//! rejected request, an HR joiner with a NUL in its role, and a non-human identity
//! without an owner. SCIM refuses the NUL the same way, in SCIM's error format.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use tenure_kafka::{Publisher, topics};
use tenure_tests::{TestEnv, eventually, hire_owner, read_topic, start_tenure_run};

/// Problems as `field: problem` lines, the form the raw topics' dead letters use.
type Problems = BTreeSet<String>;

fn from_http(body: &Value) -> Problems {
    body["problems"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        p["field"].as_str().unwrap_or_default(),
                        p["problem"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    ndjson: bool,
) -> anyhow::Result<(u16, Value)> {
    let request = http.post(url);
    let request = if ndjson {
        request
            .header("content-type", "application/x-ndjson")
            .body(format!("{body}\n"))
    } else {
        request.json(body)
    };
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// The reason the raw-topic bridge gave for the dead letter of `event_id`.
async fn dead_letter_reason(env: &TestEnv, event_id: &str) -> anyhow::Result<Problems> {
    let reason = eventually(
        &format!("the dead letter of {event_id}"),
        Duration::from_secs(30),
        || async {
            Ok(read_topic(env.bootstrap(), topics::DEAD_LETTERS)
                .await?
                .into_iter()
                .find(|r| String::from_utf8_lossy(&r.payload).contains(event_id))
                .and_then(|r| r.header("tenure_error").map(str::to_owned)))
        },
    )
    .await?;
    Ok(reason.split("; ").map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_intake_path_refuses_the_same_event_with_the_same_problems() -> anyhow::Result<()> {
    let env = TestEnv::start("intake_paths").await?;
    let (_tenure, base) = start_tenure_run(&env, "intake_paths-run", &[]).await?;
    let http = reqwest::Client::new();
    hire_owner(&base, "IP-OWNER").await?;
    let publisher = Publisher::new(env.bootstrap())?;

    let rejected = json!({"event_id": "IP-REJ", "type": "access_rejected", "request_id": "IP-R1",
        "employee_id": "IP-OWNER", "effective_time": "2026-01-02T00:00:00Z", "reason": "no"});
    let (status, body) = post(&http, &format!("{base}/v1/itsm/events"), &rejected, false).await?;
    assert_eq!(status, 202, "{body}");
    // Until the projector has folded the rejection in, the view does not know it.
    eventually(
        "the rejection to be projected",
        Duration::from_secs(30),
        || async {
            let client = env.db.client().await?;
            let n: i64 = client
                .query_one(
                    "SELECT count(*) FROM projection_events WHERE event_type = 'access_request_changed'",
                    &[],
                )
                .await?
                .get(0);
            Ok((n > 0).then_some(()))
        },
    )
    .await?;

    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "itsm",
            "IP-UNGOVERNED",
            json!({"type": "access_fulfilled", "request_id": "IP-R2", "employee_id": "IP-OWNER",
                   "entitlement": "github:acme:admin", "owner": "IP-NOBODY",
                   "effective_time": "2026-01-02T00:00:00Z"}),
        ),
        (
            "itsm",
            "IP-CLOSED",
            json!({"type": "access_fulfilled", "request_id": "IP-R1", "employee_id": "IP-OWNER",
                   "entitlement": "github:acme:member", "owner": "IP-OWNER", "business_reason": "x",
                   "revocation": {"ends_on_role_change": true},
                   "effective_time": "2026-01-02T00:00:00Z"}),
        ),
        (
            "hr",
            "IP-NUL",
            json!({"type": "joiner", "employee_id": "IP-E1", "role": "eng\u{0}ineer",
                   "effective_time": "2026-01-02T00:00:00Z"}),
        ),
        (
            "hr",
            "IP-ORPHAN",
            json!({"type": "joiner", "employee_id": "IP-SVC", "role": "engineer",
                   "kind": "service_account", "effective_time": "2026-01-02T00:00:00Z"}),
        ),
    ];
    for (source, event_id, mut event) in cases {
        let url = format!("{base}/v1/{source}/events");
        let mut answers = Vec::new();
        for (path, ndjson) in [("json", false), ("ndjson", true)] {
            event["event_id"] = json!(format!("{event_id}-{path}"));
            let (status, body) = post(&http, &url, &event, ndjson).await?;
            assert!(
                status == 400 || status == 422,
                "{event_id} over {path}: {status} {body}"
            );
            answers.push(from_http(&body));
        }
        event["event_id"] = json!(format!("{event_id}-raw"));
        let topic = if source == "hr" {
            topics::HR_RAW
        } else {
            topics::ITSM_RAW
        };
        publisher
            .send(topic, event_id, event.to_string().as_bytes(), &[])
            .await?;
        answers.push(dead_letter_reason(&env, &format!("{event_id}-raw")).await?);
        assert!(!answers[0].is_empty(), "{event_id}: no problem named");
        assert_eq!(answers[0], answers[1], "{event_id}: JSON and NDJSON differ");
        assert_eq!(
            answers[0], answers[2],
            "{event_id}: HTTP and the raw topic differ"
        );
        eprintln!("{event_id}: {:?}", answers[0]);
    }

    // SCIM: the same NUL, in SCIM's error format, naming the same rule.
    let response = http
        .post(format!("{base}/scim/v2/Users"))
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                      "userName": "IP-E2", "active": true,
                      "roles": [{"value": "eng\u{0}ineer", "primary": true}]}),
        )
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("role") && d.contains("NUL")),
        "{body}"
    );
    Ok(())
}
