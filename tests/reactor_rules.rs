//! The reactor's time-driven and out-of-order rules end to end, through HTTP ingest to
//! `tenure.commands.v1`: a future-dated leaver, an expiry, a future-dated joiner, and a
//! mover that arrives after the leaver dated later than it.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use prost::Message;
use serde_json::{Value, json};
use tenure_core::ids;
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, read_topic, start_tenure_run};

/// (identity, cause) → entitlements revoked, and identity → entitlements granted.
async fn commands(
    env: &TestEnv,
) -> anyhow::Result<(BTreeSet<(String, i32, String)>, BTreeSet<(String, String)>)> {
    let (mut revoked, mut granted) = (BTreeSet::new(), BTreeSet::new());
    for record in read_topic(env.bootstrap(), topics::COMMANDS).await? {
        match record.header("ce_type") {
            Some("tenure.commands.v1.revoke") => {
                let c = v1::RevocationCommand::decode(record.payload.as_slice())?;
                let e = c.entitlement.unwrap_or_default();
                revoked.insert((
                    c.identity_id,
                    c.cause,
                    format!("{}:{}", e.system, e.resource),
                ));
            }
            Some("tenure.commands.v1.grant") => {
                let c = v1::GrantCommand::decode(record.payload.as_slice())?;
                let e = c.entitlement.unwrap_or_default();
                granted.insert((c.identity_id, format!("{}:{}", e.system, e.resource)));
            }
            _ => {}
        }
    }
    Ok((revoked, granted))
}

fn who(person: &str) -> String {
    ids::identity("hr", person).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_and_out_of_order_events_decide_by_effective_time() -> anyhow::Result<()> {
    let env = TestEnv::start("reactor_rules").await?;
    let (tenure, base) = start_tenure_run(&env, "reactor_rules-tenure", &[]).await?;
    let http = reqwest::Client::new();
    let post = |path: &'static str, body: Value| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let response = http.post(url).json(&body).send().await?;
            anyhow::ensure!(response.status() == 202, "{}", response.text().await?);
            anyhow::Ok(())
        }
    };
    tenure_tests::hire_owner(&base, "E001").await?;
    let now = Utc::now();
    let past = (now - chrono::Duration::days(60)).to_rfc3339();
    let soon = |secs: i64| (now + chrono::Duration::seconds(secs)).to_rfc3339();
    for (person, role) in [
        ("E501", "sales"),
        ("E502", "engineer"),
        ("E503", "finance"),
        ("E505", "engineer"),
    ] {
        post(
            "/v1/hr/events",
            json!({"event_id": format!("hire-{person}"), "type": "joiner", "employee_id": person,
                                      "role": role, "effective_time": past}),
        )
        .await?;
    }
    // E501 leaves in 25 seconds; E502's admin access expires in 20; E504 starts in 20.
    post(
        "/v1/hr/events",
        json!({"event_id": "leave-E501", "type": "leaver", "employee_id": "E501",
                                  "effective_time": soon(25)}),
    )
    .await?;
    post("/v1/itsm/events", json!({"event_id": "sn-502", "type": "access_fulfilled", "request_id": "R-502",
        "employee_id": "E502", "entitlement": "aws:prod-account:admin", "owner": "E001",
        "business_reason": "incident", "effective_time": now.to_rfc3339(), "revocation": {"expires_at": soon(20)}}))
    .await?;
    post(
        "/v1/hr/events",
        json!({"event_id": "hire-E504", "type": "joiner", "employee_id": "E504",
                                  "role": "finance", "effective_time": soon(20)}),
    )
    .await?;
    // E505 moves to sales in 20 seconds.
    post(
        "/v1/hr/events",
        json!({"event_id": "move-E505", "type": "mover", "employee_id": "E505", "role": "sales",
                                  "effective_time": soon(20)}),
    )
    .await?;
    // E503 leaves (effective now); then HR delivers a mover dated yesterday, late.
    post(
        "/v1/hr/events",
        json!({"event_id": "leave-E503", "type": "leaver", "employee_id": "E503",
                                  "effective_time": now.to_rfc3339()}),
    )
    .await?;
    post("/v1/hr/events", json!({"event_id": "move-E503", "type": "mover", "employee_id": "E503", "role": "engineer",
                                  "effective_time": (now - chrono::Duration::days(1)).to_rfc3339()}))
    .await?;

    let leaver = v1::RevocationCause::Leaver as i32;
    let (revoked, granted) = eventually(
        "the leaver's revocations",
        Duration::from_secs(60),
        || async {
            let (revoked, granted) = commands(&env).await?;
            let done = revoked
                .iter()
                .filter(|(i, c, _)| *i == who("E503") && *c == leaver)
                .count()
                == 3;
            Ok(done.then_some((revoked, granted)))
        },
    )
    .await?;
    // Before the deadlines: nothing for E501, E502 or E504 yet.
    if Utc::now() < now + chrono::Duration::seconds(19) {
        assert!(
            !revoked
                .iter()
                .any(|(i, _, _)| ["E501", "E502", "E505"].map(who).contains(i)),
            "{revoked:?}"
        );
        assert!(
            !granted.iter().any(|(i, _)| *i == who("E504")),
            "no access before the start date"
        );
    }
    let (revoked, granted) =
        eventually("the deadlines to fire", Duration::from_secs(60), || async {
            tenure.assert_running()?;
            let (revoked, granted) = commands(&env).await?;
            let e501 = revoked
                .iter()
                .filter(|(i, c, _)| *i == who("E501") && *c == leaver)
                .count();
            let expired = revoked.contains(&(
                who("E502"),
                v1::RevocationCause::Expiry as i32,
                "aws:prod-account".into(),
            ));
            let started = granted.iter().filter(|(i, _)| *i == who("E504")).count();
            let mover = v1::RevocationCause::Mover as i32;
            let moved = revoked
                .iter()
                .filter(|(i, c, _)| *i == who("E505") && *c == mover)
                .count();
            Ok((e501 == 3 && expired && started == 3 && moved == 2).then_some((revoked, granted)))
        })
        .await?;
    // The future-dated mover lost the engineer-only access and got sales' birthright.
    let e505: BTreeSet<&str> = revoked
        .iter()
        .filter(|(i, _, _)| *i == who("E505"))
        .map(|(_, _, e)| e.as_str())
        .collect();
    assert_eq!(e505, BTreeSet::from(["github:acme", "aws:dev-account"]));
    assert!(granted.contains(&(who("E505"), "salesforce:acme".into())));
    // The expiry took only the expired grant.
    assert_eq!(
        revoked.iter().filter(|(i, _, _)| *i == who("E502")).count(),
        1
    );
    // The late mover left no new access behind for the leaver.
    assert!(
        !granted
            .iter()
            .any(|(i, e)| *i == who("E503") && e.starts_with("github")),
        "{granted:?}"
    );
    assert_eq!(
        revoked.iter().filter(|(i, _, _)| *i == who("E503")).count(),
        3
    );
    let body: Value = http
        .get(format!("{base}/v1/identities/hr:E504"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(body["status"], "active");
    tenure.assert_running()?;
    Ok(())
}
