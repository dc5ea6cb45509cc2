//! The reactor's leave-of-absence and non-human identity rules end to end, through
//! HTTP ingest to `tenure.commands.v1`: suspension and restoration around a leave of
//! absence, credential rotation, a non-human identity's own expiry, the orphaned
//! identities a leaver leaves behind, and a rehire that resurrects nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use prost::Message;
use serde_json::{Value, json};
use tenure_core::{EventPayload, ids};
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, read_topic, start_tenure_run, wait_caught_up};

/// Every command on the topic as (CloudEvents type, identity, detail).
async fn commands(env: &TestEnv) -> anyhow::Result<BTreeSet<(String, String, String)>> {
    let mut out = BTreeSet::new();
    for record in read_topic(env.bootstrap(), topics::COMMANDS).await? {
        let kind = record.header("ce_type").unwrap_or_default().to_owned();
        let (identity, detail) = match kind.as_str() {
            "tenure.commands.v1.revoke" => {
                let c = v1::RevocationCommand::decode(record.payload.as_slice())?;
                let e = c.entitlement.unwrap_or_default();
                let cause = v1::RevocationCause::try_from(c.cause)?
                    .as_str_name()
                    .to_owned();
                (
                    c.identity_id,
                    format!("{}:{} {cause}", e.system, e.resource),
                )
            }
            "tenure.commands.v1.suspend" | "tenure.commands.v1.restore" => {
                let c = v1::SuspensionCommand::decode(record.payload.as_slice())?;
                let e = c.entitlement.unwrap_or_default();
                (c.identity_id, format!("{}:{}", e.system, e.resource))
            }
            "tenure.commands.v1.grant" => {
                let c = v1::GrantCommand::decode(record.payload.as_slice())?;
                (c.identity_id, c.grant_id)
            }
            "tenure.commands.v1.rotate" => {
                let c = v1::RotationCommand::decode(record.payload.as_slice())?;
                (c.identity_id, format!("{} {}", c.system, c.account))
            }
            _ => continue,
        };
        out.insert((kind, identity, detail));
    }
    Ok(out)
}

fn who(person: &str) -> String {
    ids::identity(ids::PEOPLE, person).to_string()
}

fn of<'a>(
    all: &'a BTreeSet<(String, String, String)>,
    kind: &str,
    person: &str,
) -> BTreeSet<&'a str> {
    all.iter()
        .filter(|(k, i, _)| k == &format!("tenure.commands.v1.{kind}") && *i == who(person))
        .map(|(_, _, d)| d.as_str())
        .collect()
}

const POLICY: &str = r#"
[roles.engineer]
owner = "head-of-engineering"
birthright = ["slack:acme:member", "github:acme:member", "aws:dev-account:developer"]

[roles.automation]
owner = "head-of-platform"

[leave_of_absence]
suspend_systems = ["github", "aws"]

[non_human]
orphan_grace_days = 14
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_of_absence_and_non_human_identities_follow_policy() -> anyhow::Result<()> {
    let env = TestEnv::start("reactor_lifecycle").await?;
    let policy = tenure_tests::log_dir().join("reactor_lifecycle-policy.toml");
    std::fs::write(&policy, POLICY)?;
    let policy = policy.display().to_string();
    let (tenure, base) =
        start_tenure_run(&env, "reactor_lifecycle-tenure", &["--policy", &policy]).await?;
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
    let in_secs = |s: i64| (now + chrono::Duration::seconds(s)).to_rfc3339();
    for person in ["E601", "E602", "E603", "E604"] {
        post(
            "/v1/hr/events",
            json!({"event_id": format!("hire-{person}"), "type": "joiner",
            "employee_id": person, "role": "engineer", "effective_time": days_ago(90)}),
        )
        .await?;
    }
    // Ingest accepts only owners the projection knows.
    wait_caught_up(&env, "tenure-projector", Duration::from_secs(60)).await?;
    // Service accounts: one owned by E602 (who will leave), one due for rotation, one
    // that expires in 15 seconds.
    for (account, owner, registered, expires, rotation) in [
        ("svc-orphan", "E602", days_ago(30), days_ago(-365), 365),
        ("svc-rotate", "E601", days_ago(40), days_ago(-365), 30),
        ("svc-expire", "E601", days_ago(5), in_secs(15), 365),
    ] {
        post(
            "/v1/hr/events",
            json!({"event_id": format!("register-{account}"), "type": "joiner",
            "employee_id": account, "kind": "service_account", "role": "automation", "owner": owner,
            "credential_system": "vault", "expires_at": expires, "rotation_period_days": rotation,
            "effective_time": registered}),
        )
        .await?;
        post(
            "/v1/itsm/events",
            json!({"event_id": format!("sn-{account}"), "type": "access_fulfilled",
            "request_id": format!("R-{account}"), "employee_id": account,
            "entitlement": format!("postgres:{account}-db:write"), "owner": owner,
            "business_reason": "deployment pipeline", "effective_time": registered,
            "revocation": {"ends_on_role_change": true}}),
        )
        .await?;
    }
    wait_caught_up(&env, "tenure-reactor", Duration::from_secs(60)).await?;

    // E601 goes on parental leave; E602 left 20 days ago (HR reports it late), so the
    // 14-day grace for svc-orphan is already over.
    post(
        "/v1/hr/events",
        json!({"event_id": "loa-E601", "type": "leave_of_absence_start",
        "employee_id": "E601", "reason": "parental leave", "effective_time": now.to_rfc3339()}),
    )
    .await?;
    post(
        "/v1/hr/events",
        json!({"event_id": "leave-E602", "type": "leaver",
        "employee_id": "E602", "effective_time": days_ago(20)}),
    )
    .await?;
    // E604's leave is announced in advance: away in 8 seconds, back in 16.
    post(
        "/v1/hr/events",
        json!({"event_id": "loa-E604", "type": "leave_of_absence_start", "employee_id": "E604",
               "reason": "sabbatical", "effective_time": in_secs(8)}),
    )
    .await?;
    post(
        "/v1/hr/events",
        json!({"event_id": "loa-E604-end", "type": "leave_of_absence_end", "employee_id": "E604",
               "effective_time": in_secs(16)}),
    )
    .await?;
    let early = commands(&env).await?;
    assert!(
        of(&early, "suspend", "E604").is_empty() || Utc::now() > now + chrono::Duration::seconds(8),
        "nothing is suspended before the leave begins"
    );
    // E603 left a month ago and is rehired today: new birthright, nothing resurrected.
    post(
        "/v1/hr/events",
        json!({"event_id": "leave-E603", "type": "leaver",
        "employee_id": "E603", "effective_time": days_ago(30)}),
    )
    .await?;
    wait_caught_up(&env, "tenure-reactor", Duration::from_secs(60)).await?;
    post(
        "/v1/hr/events",
        json!({"event_id": "rehire-E603", "type": "rehire",
        "employee_id": "E603", "role": "engineer", "effective_time": now.to_rfc3339()}),
    )
    .await?;

    let all = eventually(
        "the lifecycle commands",
        Duration::from_secs(60),
        || async {
            tenure.assert_running()?;
            let all = commands(&env).await?;
            let done = of(&all, "suspend", "E601").len() == 2
                && !of(&all, "revoke", "svc-orphan").is_empty()
                && !of(&all, "rotate", "svc-rotate").is_empty()
                && !of(&all, "revoke", "svc-expire").is_empty()
                && of(&all, "grant", "E603").len() == 6;
            Ok(done.then_some(all))
        },
    )
    .await?;
    assert_eq!(
        of(&all, "suspend", "E601"),
        BTreeSet::from(["github:acme", "aws:dev-account"]),
        "only the policy's systems are suspended"
    );
    assert!(
        of(&all, "revoke", "E601").is_empty(),
        "a leave of absence revokes nothing"
    );
    assert_eq!(
        of(&all, "revoke", "svc-orphan"),
        BTreeSet::from(["postgres:svc-orphan-db REVOCATION_CAUSE_ORPHANED_OWNER"])
    );
    assert_eq!(
        of(&all, "rotate", "svc-rotate"),
        BTreeSet::from(["vault svc-rotate"]),
        "a backlog of missed rotations asks for one rotation"
    );
    assert_eq!(
        of(&all, "revoke", "svc-expire"),
        BTreeSet::from(["postgres:svc-expire-db REVOCATION_CAUSE_EXPIRY"])
    );
    assert_eq!(
        of(&all, "revoke", "E603"),
        BTreeSet::from([
            "slack:acme REVOCATION_CAUSE_LEAVER",
            "github:acme REVOCATION_CAUSE_LEAVER",
            "aws:dev-account REVOCATION_CAUSE_LEAVER"
        ]),
        "the rehire revoked nothing new"
    );
    for fresh in ["svc-orphan", "svc-expire", "E601"] {
        assert!(
            of(&all, "rotate", fresh).is_empty(),
            "{fresh} is not due for rotation"
        );
    }

    // E601 comes back: exactly what was suspended is restored.
    post(
        "/v1/hr/events",
        json!({"event_id": "loa-E601-end", "type": "leave_of_absence_end",
        "employee_id": "E601", "effective_time": Utc::now().to_rfc3339()}),
    )
    .await?;
    let all = eventually("the restorations", Duration::from_secs(60), || async {
        let all = commands(&env).await?;
        let e604 = of(&all, "suspend", "E604").len() == 2 && of(&all, "restore", "E604").len() == 2;
        Ok((of(&all, "restore", "E601").len() == 2 && e604).then_some(all))
    })
    .await?;
    assert_eq!(
        of(&all, "restore", "E604"),
        BTreeSet::from(["github:acme", "aws:dev-account"]),
        "the announced leave suspended and restored at its dates"
    );
    assert_eq!(
        of(&all, "restore", "E601"),
        BTreeSet::from(["github:acme", "aws:dev-account"])
    );

    // Suspensions and rotations are tracked until their connector answers: a done
    // suspension is acknowledged, a permanently failed rotation is escalated.
    let tracked: Value = http
        .get(format!("{base}/v1/commands?state=unacknowledged"))
        .send()
        .await?
        .json()
        .await?;
    let find = |kind: &str, who_: &str| {
        tracked["commands"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["command_type"] == kind && c["identity_id"] == who(who_).as_str())
            .cloned()
    };
    let suspension = find("suspend", "E601").expect("E601's suspensions are tracked");
    let rotation = find("rotate", "svc-rotate").expect("svc-rotate's rotation is tracked");
    for (command, status) in [(&suspension, "done"), (&rotation, "failed_permanent")] {
        post(
            "/v1/connectors/outcomes",
            json!({"command_id": command["command_id"], "grant_id": command["grant_id"],
                   "identity_id": command["identity_id"], "command_type": command["command_type"],
                   "status": status, "connector": command["target_system"], "detail": "vault sealed"}),
        )
        .await?;
    }
    eventually(
        "the outcomes to be tracked",
        Duration::from_secs(60),
        || async {
            let escalated: Value = http
                .get(format!("{base}/v1/commands?state=escalated"))
                .send()
                .await?
                .json()
                .await?;
            let acknowledged: Value = http
                .get(format!("{base}/v1/commands?state=acknowledged"))
                .send()
                .await?
                .json()
                .await?;
            let has = |list: &Value, id: &Value| {
                list["commands"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["command_id"] == *id))
            };
            Ok((has(&escalated, &rotation["command_id"])
                && has(&acknowledged, &suspension["command_id"]))
            .then_some(()))
        },
    )
    .await?;
    let governance: Value = http
        .get(format!("{base}/v1/governance"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        governance["counters"]["escalated_other_commands"], 1,
        "{governance}"
    );

    // No new identity may name E602, who has left, as its owner.
    wait_caught_up(&env, "tenure-projector", Duration::from_secs(60)).await?;
    let refused = http
        .post(format!("{base}/v1/hr/events"))
        .json(&json!({"event_id": "register-svc-late", "type": "joiner",
            "employee_id": "svc-late", "kind": "api_key", "role": "automation", "owner": "E602", "credential_system": "vault",
            "expires_at": days_ago(-365), "rotation_period_days": 90, "effective_time": now.to_rfc3339()}))
        .send()
        .await?;
    assert_eq!(refused.status(), 422);
    // The orphaned account's notice is on the log, dated from E602's leave.
    let orphan = ids::identity(ids::PEOPLE, "svc-orphan");
    let notice = read_topic(env.bootstrap(), topics::LIFECYCLE)
        .await?
        .iter()
        .filter_map(|r| tenure_proto::decode_event(&r.payload).ok())
        .find(|e| e.identity_id == orphan && matches!(e.payload, EventPayload::OwnerLeft { .. }))
        .expect("the orphan notice is on the log");
    let EventPayload::OwnerLeft { owner, grace_until } = &notice.payload else {
        unreachable!()
    };
    assert_eq!(owner, "E602");
    let expected = now - chrono::Duration::days(20) + chrono::Duration::days(14);
    assert!(
        (*grace_until - expected).num_seconds().abs() < 5,
        "{grace_until}"
    );
    tenure.assert_running()?;
    Ok(())
}
