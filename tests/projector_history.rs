//! Point-in-time queries across a joiner, a mover and a leaver, and a late
//! (back-dated) grant that corrects history without erasing what was believed before.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenure_tests::{TestEnv, acknowledge_revocations, eventually, start_tenure_run};

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 202,
            "{path}: {} {}",
            response.status(),
            response.text().await?
        );
        Ok(())
    }

    async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        Ok((response.status().as_u16(), response.json().await?))
    }

    /// Entitlements E200 held at `at`, as believed at `as_of`, with role and status.
    async fn held(
        &self,
        at: DateTime<Utc>,
        as_of: Option<DateTime<Utc>>,
    ) -> anyhow::Result<(Value, BTreeSet<String>)> {
        let mut path = format!("/v1/identities/hr:E200/access?at={}", enc(at));
        if let Some(k) = as_of {
            path.push_str(&format!("&as_of={}", enc(k)));
        }
        let (status, body) = self.get(&path).await?;
        anyhow::ensure!(status == 200, "{path}: {status} {body}");
        let grants = body["grants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                format!(
                    "{}:{}",
                    g["entitlement"]["system"].as_str().unwrap_or(""),
                    g["entitlement"]["resource"].as_str().unwrap_or("")
                )
            })
            .collect();
        Ok((body, grants))
    }

    /// Everyone who held `aws:prod-account` at `at`, as believed at `as_of`.
    async fn holders(&self, at: DateTime<Utc>, as_of: DateTime<Utc>) -> anyhow::Result<usize> {
        let (status, body) = self
            .get(&format!(
                "/v1/access?system=aws&resource=prod-account&at={}&as_of={}",
                enc(at),
                enc(as_of)
            ))
            .await?;
        anyhow::ensure!(status == 200, "{body}");
        Ok(body["holders"].as_array().map_or(0, Vec::len))
    }

    /// Acknowledges revocations until E200 has no grant awaiting confirmation.
    async fn settle(&self, env: &TestEnv, acked: &mut HashSet<String>) -> anyhow::Result<()> {
        let mut idle = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let newly = acknowledge_revocations(env, &self.base, acked).await?;
            let (_, identity) = self.get("/v1/identities/hr:E200").await?;
            let pending = identity["grants"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|g| g["status"] == "revocation_pending")
                .count();
            idle = if newly == 0 && pending == 0 {
                idle + 1
            } else {
                0
            };
            if idle >= 3 {
                return Ok(());
            }
        }
    }
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace('+', "%2B")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_time_queries_follow_mover_leaver_and_a_late_grant() -> anyhow::Result<()> {
    let env = TestEnv::start("projector_history").await?;
    let (tenure, base) = start_tenure_run(&env, "projector_history-tenure", &[]).await?;
    let api = Api {
        http: reqwest::Client::new(),
        base,
    };
    let mut acked = HashSet::new();
    tenure_tests::hire_owner(&api.base, "E001").await?;
    let hired = Utc::now() - chrono::Duration::days(30);

    api.post(
        "/v1/hr/events",
        json!({"event_id": "hire-E200", "type": "joiner", "employee_id": "E200",
        "role": "engineer", "effective_time": hired.to_rfc3339()}),
    )
    .await?;
    api.post(
        "/v1/itsm/events",
        json!({"event_id": "sn-200", "type": "access_fulfilled", "request_id": "R-200",
        "employee_id": "E200", "entitlement": "aws:prod-account:admin", "owner": "E001",
        "business_reason": "on-call", "effective_time": Utc::now().to_rfc3339(),
        "revocation": {"ends_on_role_change": true,
                       "expires_at": (Utc::now() + chrono::Duration::days(7)).to_rfc3339()}}),
    )
    .await?;
    eventually(
        "joiner and grant to be projected",
        Duration::from_secs(60),
        || async {
            tenure.assert_running()?;
            let (status, body) = api.get("/v1/identities/hr:E200").await?;
            Ok((status == 200 && body["grants"].as_array().map_or(0, Vec::len) == 5).then_some(()))
        },
    )
    .await?;
    let as_engineer = Utc::now();
    // E200 owns a service account (no birthright: its role is not in the policy).
    api.post(
        "/v1/hr/events",
        json!({"event_id": "svc-2", "type": "joiner", "employee_id": "svc-payments",
        "kind": "service_account", "role": "automation", "owner": "E200", "sponsor": "E001",
        "expires_at": (Utc::now() + chrono::Duration::days(365)).to_rfc3339(), "rotation_period_days": 90, "credential_system": "vault",
        "effective_time": Utc::now().to_rfc3339()}),
    )
    .await?;

    api.post(
        "/v1/hr/events",
        json!({"event_id": "move-E200", "type": "mover", "employee_id": "E200",
        "role": "sales", "effective_time": Utc::now().to_rfc3339()}),
    )
    .await?;
    api.settle(&env, &mut acked).await?;
    let as_sales = Utc::now();

    api.post(
        "/v1/hr/events",
        json!({"event_id": "leave-E200", "type": "leaver", "employee_id": "E200",
        "effective_time": Utc::now().to_rfc3339()}),
    )
    .await?;
    api.settle(&env, &mut acked).await?;
    let after_leave = Utc::now();

    let engineer = set(&[
        "google:workspace",
        "slack:acme",
        "github:acme",
        "aws:dev-account",
        "aws:prod-account",
    ]);
    let (body, held) = api.held(as_engineer, None).await?;
    assert_eq!(held, engineer);
    assert_eq!(body["role"], "engineer");
    let (body, held) = api.held(as_sales, None).await?;
    assert_eq!(
        held,
        set(&["google:workspace", "slack:acme", "salesforce:acme"])
    );
    assert_eq!(body["role"], "sales");
    let (body, held) = api.held(after_leave, None).await?;
    assert!(held.is_empty(), "a leaver holds nothing: {held:?}");
    assert_eq!(body["status"], "left");
    assert_eq!(api.holders(as_engineer, after_leave).await?, 1);
    assert_eq!(api.holders(as_sales, after_leave).await?, 0);

    // A grant fulfilled while E200 was in sales is reported only now, after the leave.
    let believed_before = Utc::now();
    api.post(
        "/v1/itsm/events",
        json!({"event_id": "sn-201", "type": "access_fulfilled", "request_id": "R-201",
        "employee_id": "E200", "entitlement": "aws:prod-account:read", "owner": "E001",
        "business_reason": "audit support", "effective_time": as_sales.to_rfc3339(),
        "revocation": {"expires_at": (Utc::now() + chrono::Duration::days(7)).to_rfc3339()}}),
    )
    .await?;
    // The reactor revokes it at once (the holder has left); the connector confirms.
    api.settle(&env, &mut acked).await?;
    eventually(
        "the late grant to be revoked",
        Duration::from_secs(60),
        || async {
            let (_, body) = api.get("/v1/identities/hr:E200").await?;
            Ok(body["grants"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|g| g["entitlement"]["permission"] == "read" && g["status"] == "revoked")
                .then_some(()))
        },
    )
    .await?;

    // History is corrected: E200 held the read grant while in sales...
    let (_, held) = api.held(as_sales, None).await?;
    assert!(
        held.contains("aws:prod-account"),
        "corrected history shows the late grant: {held:?}"
    );
    assert_eq!(api.holders(as_sales, Utc::now()).await?, 1);
    // ...but what Tenure believed before the late event is still answerable.
    let (_, held) = api.held(as_sales, Some(believed_before)).await?;
    assert!(
        !held.contains("aws:prod-account"),
        "the earlier belief is kept: {held:?}"
    );
    assert_eq!(api.holders(as_sales, believed_before).await?, 0);

    // Errors name the problem.
    let (status, body) = api
        .get("/v1/identities/hr:E200/access?at=yesterday")
        .await?;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap_or("").contains("at"),
        "{body}"
    );
    let (status, _) = api.get("/v1/identities/hr:NOBODY").await?;
    assert_eq!(status, 404);
    let (status, _) = api
        .get("/v1/access?system=aws&at=2026-01-01T00:00:00Z")
        .await?;
    assert_eq!(status, 400);
    let (status, body) = api.get("/v1/governance").await?;
    assert_eq!(status, 200);
    assert_eq!(body["counters"]["past_expiry_active"], 0);

    // A service account must name its owner; the one registered earlier became
    // orphaned when E200 left.
    let response = api
        .http
        .post(format!("{}/v1/hr/events", api.base))
        .json(&json!({"event_id": "svc-1", "type": "joiner", "employee_id": "svc-payments", "kind": "service_account",
                      "role": "engineer", "effective_time": Utc::now().to_rfc3339()}))
        .send()
        .await?;
    assert_eq!(
        response.status(),
        422,
        "a service account without an owner is refused"
    );
    // Nor may a new one name an owner who has left.
    let response = api
        .http
        .post(format!("{}/v1/hr/events", api.base))
        .json(&json!({"event_id": "svc-3", "type": "joiner", "employee_id": "svc-billing",
        "kind": "service_account", "role": "automation", "owner": "E200",
        "expires_at": (Utc::now() + chrono::Duration::days(365)).to_rfc3339(), "rotation_period_days": 90, "credential_system": "vault",
        "effective_time": Utc::now().to_rfc3339()}))
        .send()
        .await?;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await?;
    assert_eq!(body["problems"][0]["field"], "owner", "{body}");
    assert!(
        body["problems"][0]["problem"]
            .as_str()
            .unwrap_or("")
            .contains("has left"),
        "{body}"
    );
    eventually(
        "the orphaned service account to be counted",
        Duration::from_secs(60),
        || async {
            let (_, body) = api.get("/v1/governance").await?;
            Ok((body["counters"]["orphaned_non_human_identities"] == 1).then_some(()))
        },
    )
    .await?;
    let (_, svc) = api.get("/v1/identities/hr:svc-payments").await?;
    assert_eq!(svc["kind"], "service_account");
    assert_eq!(svc["attributes"]["owner"], "E200");
    tenure.assert_running()?;
    Ok(())
}
