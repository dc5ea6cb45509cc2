//! The operator's commands against a running Tenure: `simulate` finds exactly the
//! grants a stricter maximum duration would have revoked earlier, `events show` reads
//! the log back as JSON lines, `audit` and `report` show one identity to an auditor.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tenure_tests::{TestEnv, hire_owner, start_tenure_run, wait_caught_up};

const CANDIDATE: &str = r#"
[roles.engineer]
owner = "head-of-engineering"
birthright = ["google:workspace:user", "slack:acme:member", "github:acme:member", "aws:dev-account:developer"]

[roles.sales]
owner = "head-of-sales"
birthright = ["google:workspace:user", "slack:acme:member", "salesforce:acme:user"]

[roles.finance]
owner = "cfo"
birthright = ["google:workspace:user", "slack:acme:member", "netsuite:acme:accountant"]

[leave_of_absence]
suspend_systems = ["aws", "github", "netsuite"]

[entitlement_classes.admin]
entitlements = ["*:*:admin", "*:*:owner"]
max_days = 30

# The candidate: write access to code for at most 30 days.
[entitlement_classes.code]
entitlements = ["github:*:write"]
max_days = 30
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_events_audit_and_report() -> anyhow::Result<()> {
    let env = TestEnv::start("operations").await?;
    let (tenure, base) = start_tenure_run(&env, "operations-tenure", &[]).await?;
    hire_owner(&base, "E001").await?;
    let http = reqwest::Client::new();
    let post = |path: &'static str, body: Value| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let response = http.post(url).json(&body).send().await?;
            anyhow::ensure!(response.status() == 202, "{}", response.text().await?);
            anyhow::Ok(())
        }
    };
    let now = Utc::now();
    let days_ago = |d: i64| (now - chrono::Duration::days(d)).to_rfc3339();
    post(
        "/v1/hr/events",
        json!({"event_id": "hire-E950", "type": "joiner", "employee_id": "E950",
        "role": "engineer", "effective_time": days_ago(100)}),
    )
    .await?;
    // Granted 45 days ago for 60 days: within today's policy, over the candidate's 30.
    for (request, entitlement) in [
        ("R1", "github:acme/payments:write"),
        ("R2", "github:acme/platform:write"),
        ("R3", "github:acme/infra:write"),
        ("R4", "jira:ops:write"),
        ("R5", "github:acme/docs:read"),
    ] {
        post("/v1/itsm/events", json!({"event_id": format!("sn-{request}"), "type": "access_fulfilled",
            "request_id": request, "employee_id": "E950", "entitlement": entitlement, "owner": "E001",
            "business_reason": "release work", "effective_time": days_ago(45),
            "revocation": {"expires_at": days_ago(-15)}}))
        .await?;
    }
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(60)).await?;

    // simulate: exactly the three code-write grants, revoked by policy 15 days ago.
    let candidate = tenure_tests::log_dir().join("operations-candidate.toml");
    std::fs::write(&candidate, CANDIDATE)?;
    let out = env
        .run_tenure(&[
            "simulate",
            "--policy",
            &candidate.display().to_string(),
            "--json",
        ])
        .await?;
    let report: Value = serde_json::from_str(&out)?;
    let differences = report["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let listed: BTreeSet<&str> = differences
        .iter()
        .map(|d| d["entitlement"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            "github:acme/payments:write",
            "github:acme/platform:write",
            "github:acme/infra:write"
        ]),
        "{report:#}"
    );
    for d in &differences {
        assert_eq!(d["kind"], "would_revoke", "{d}");
        assert_eq!(d["identity"], "E950");
        assert_eq!(d["simulated"]["cause"], "policy");
        let at: chrono::DateTime<Utc> = serde_json::from_value(d["simulated"]["at"].clone())?;
        assert!(
            (at - (now - chrono::Duration::days(15)))
                .num_seconds()
                .abs()
                < 5,
            "{d}"
        );
        assert!(d["actual"].is_null(), "in reality it is still active: {d}");
    }
    assert_eq!(report["counts"]["would_revoke: policy"], 3, "{report:#}");
    // The same policy as today changes nothing.
    let same = tenure_tests::log_dir().join("operations-same.toml");
    std::fs::write(&same, include_str!("../deploy/policy.toml"))?;
    let out = env
        .run_tenure(&[
            "simulate",
            "--policy",
            &same.display().to_string(),
            "--json",
        ])
        .await?;
    let report: Value = serde_json::from_str(&out)?;
    assert_eq!(report["differences"], json!([]), "{report:#}");

    // events show: the identity's events as JSON lines, filterable by type.
    let out = env
        .run_tenure(&[
            "events",
            "show",
            "--identity",
            "hr:E950",
            "--type",
            "access_granted",
        ])
        .await?;
    let lines: Vec<Value> = out
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(
        lines.len(),
        5 + 4,
        "5 requested and 4 birthright grants: {out}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["payload"]["type"] == "access_granted" && l["offset"].is_i64())
    );
    let out = env.run_tenure(&["events", "show", "--limit", "3"]).await?;
    assert_eq!(out.lines().count(), 3);

    // audit: the full timeline as CSV and JSON.
    let csv = env
        .run_tenure(&["audit", "hr:E950", "--format", "csv"])
        .await?;
    let mut rows = csv.lines();
    assert!(
        rows.next()
            .unwrap_or("")
            .starts_with("effective_time,recorded_time,event")
    );
    let granted = rows.filter(|r| r.contains(",access_granted,")).count();
    assert_eq!(granted, 9, "{csv}");
    let json_rows: Value = serde_json::from_str(
        &env.run_tenure(&["audit", "hr:E950", "--format", "json"])
            .await?,
    )?;
    assert!(json_rows.as_array().is_some_and(|r| r.len() >= 10));
    let table = env.run_tenure(&["audit", "hr:E950"]).await?;
    assert!(table.contains("github:acme/payments:write"));
    let missing = env.run_tenure(&["audit", "hr:NOBODY"]).await;
    assert!(missing.unwrap_err().to_string().contains("not known"));

    // report: the governance picture.
    let report: Value =
        serde_json::from_str(&env.run_tenure(&["report", "hr:E950", "--json"]).await?)?;
    assert_eq!(report["status"], "active");
    assert_eq!(report["active_grants"], 9, "{report}");
    assert_eq!(report["grants_past_expiry"], 0);
    let report: Value =
        serde_json::from_str(&env.run_tenure(&["report", "hr:E001", "--json"]).await?)?;
    assert_eq!(report["role"], "manager");
    tenure.assert_running()?;
    Ok(())
}
