//! The built-in organisation and what happens to it during the demo.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tenure_store::Database;

/// A person of the demo organisation.
pub struct Person {
    pub employee_id: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    /// The sign-in name target systems know them by.
    pub login: &'static str,
}

/// The demo's organisation.
pub const PEOPLE: [Person; 5] = [
    Person {
        employee_id: "E001",
        name: "Margaret Hamilton",
        role: "engineer",
        login: "margaret.hamilton",
    },
    Person {
        employee_id: "E002",
        name: "Ada Lovelace",
        role: "engineer",
        login: "ada.lovelace",
    },
    Person {
        employee_id: "E003",
        name: "Grace Hopper",
        role: "engineer",
        login: "grace.hopper",
    },
    Person {
        employee_id: "E004",
        name: "Linus Pauling",
        role: "sales",
        login: "linus.pauling",
    },
    Person {
        employee_id: "E005",
        name: "Katherine Johnson",
        role: "finance",
        login: "katherine.johnson",
    },
];

/// What the scenario did that the tables will not show: refusals and duplicates.
#[derive(Default, serde::Serialize)]
pub struct PlayLog {
    pub steps: Vec<String>,
    pub refused: Vec<Value>,
    /// The target database's memberships once the joiners were provisioned.
    pub postgres_before: Vec<(String, String)>,
}

/// The demo's timeline, anchored at the moment it starts.
pub struct Scenario {
    start: DateTime<Utc>,
    expiry: Duration,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Scenario {
    /// A scenario whose time-limited access expires `expiry` after `start`.
    pub fn new(start: DateTime<Utc>, expiry: Duration) -> Self {
        Scenario { start, expiry }
    }

    fn expires_at(&self) -> DateTime<Utc> {
        self.start + self.expiry
    }

    fn future_leave(&self) -> DateTime<Utc> {
        self.expires_at() + chrono::Duration::seconds(2)
    }

    /// The last moment at which something is scheduled to happen.
    pub fn last_deadline(&self) -> DateTime<Utc> {
        self.future_leave()
    }

    /// Feeds the organisation through the ingest API, step by step, letting the
    /// pipeline settle between steps so the report reads as a story.
    pub async fn play(
        &self,
        base: &str,
        db: &Database,
        bootstrap: &str,
        target_url: &str,
    ) -> anyhow::Result<PlayLog> {
        let http = reqwest::Client::new();
        let mut log = PlayLog::default();
        let now = || rfc3339(Utc::now());
        let hired = rfc3339(self.start - chrono::Duration::days(30));

        let joiners: Vec<Value> = PEOPLE
            .iter()
            .map(|p| {
                json!({"source_system": "workday", "event_id": format!("hire-{}", p.employee_id), "type": "joiner",
                       "employee_id": p.employee_id, "display_name": p.name, "role": p.role,
                       "login": p.login, "department": p.role, "effective_time": hired})
            })
            .collect();
        post_ndjson(&http, &format!("{base}/v1/hr/events"), &joiners).await?;
        log.steps.push(format!(
            "{} joiners posted as one NDJSON batch",
            joiners.len()
        ));
        super::settle(db, bootstrap, Utc::now(), Duration::from_secs(60)).await?;
        log.postgres_before = super::target::memberships(target_url).await?;

        let itsm = format!("{base}/v1/itsm/events");
        post_json(&http, &itsm, &json!({"source_system": "servicenow", "event_id": "sn-9001", "type": "access_fulfilled",
            "request_id": "RITM-1001", "employee_id": "E002", "entitlement": "aws:prod-account:admin", "owner": "E001",
            "business_reason": "INC-4711: production incident response", "effective_time": now(),
            "revocation": {"expires_at": rfc3339(self.expires_at())}})).await?;
        post_json(&http, &itsm, &json!({"source_system": "servicenow", "event_id": "sn-9002", "type": "access_fulfilled",
            "request_id": "RITM-1002", "employee_id": "E003", "entitlement": "github:acme/payments:maintain", "owner": "E001",
            "business_reason": "payments platform project", "effective_time": now(),
            "revocation": {"ends_on_role_change": true}})).await?;
        log.steps.push(format!(
            "2 access requests fulfilled: one expiring at {}, one ending on a role change",
            self.expires_at().format("%H:%M:%S")
        ));
        let refused = http
            .post(&itsm)
            .json(&json!({"source_system": "servicenow", "event_id": "sn-9003", "type": "access_fulfilled",
                "request_id": "RITM-1003", "employee_id": "E004", "entitlement": "salesforce:acme:admin",
                "effective_time": now()}))
            .send()
            .await?;
        let status = refused.status();
        let body: Value = refused.json().await?;
        anyhow::ensure!(
            status == 422,
            "an ungoverned request was not refused: {status} {body}"
        );
        log.refused.push(json!({"request": "RITM-1003 (salesforce:acme:admin for E004)", "status": status.as_u16(), "answer": body}));
        super::settle(db, bootstrap, Utc::now(), Duration::from_secs(60)).await?;

        let hr = format!("{base}/v1/hr/events");
        post_json(&http, &hr, &json!({"source_system": "workday", "event_id": "move-E003", "type": "mover",
            "employee_id": "E003", "role": "sales", "department": "sales", "effective_time": now()})).await?;
        log.steps
            .push("Grace Hopper moves from engineer to sales".into());
        let leaver = json!({"source_system": "workday", "event_id": "leave-E004", "type": "leaver",
            "employee_id": "E004", "reason": "resignation", "effective_time": now()});
        post_json(&http, &hr, &leaver).await?;
        log.steps.push("Linus Pauling leaves today".into());
        post_json(&http, &hr, &leaver).await?;
        log.steps
            .push("HR redelivers Linus Pauling's leaver: same event id, no second effect".into());
        post_json(&http, &hr, &json!({"source_system": "workday", "event_id": "leave-E005", "type": "leaver",
            "employee_id": "E005", "reason": "retirement", "effective_time": rfc3339(self.future_leave())})).await?;
        log.steps.push(format!(
            "Katherine Johnson's leave is announced for {} (future-dated)",
            self.future_leave().format("%H:%M:%S")
        ));
        Ok(log)
    }
}

async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<()> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    anyhow::ensure!(
        status == 202,
        "POST {url} answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

async fn post_ndjson(http: &reqwest::Client, url: &str, lines: &[Value]) -> anyhow::Result<()> {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let response = http
        .post(url)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    anyhow::ensure!(
        status == 202,
        "POST {url} answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}
