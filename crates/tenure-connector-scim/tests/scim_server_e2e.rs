//! The SCIM connector against a real, independent SCIM 2.0 service provider:
//! python-scim's `scim2-server` (from PyPI), run as a process on a free port with a
//! bearer token. The test calls the connector's methods directly and checks every
//! effect by reading the server over HTTP itself, not through the connector.
//!
//! Needs Python 3 with `tests/requirements.txt` of this crate installed
//! (`python3 -m pip install -r crates/tenure-connector-scim/tests/requirements.txt`);
//! `TENURE_TEST_PYTHON` names another interpreter (a virtualenv's).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};
use tenure_connector::{Applied, Connector, ConnectorError, HeldAccess};
use tenure_connector_scim::{ScimConnector, ScimSettings};
use tenure_core::ids::{CommandId, EventId, GrantId, IdentityId};
use tenure_core::{
    Entitlement, GrantCommand, GrantTerms, RevocationCause, RevocationCommand, SuspensionCommand,
    TargetAccount,
};
use tokio::process::{Child, Command};

const TOKEN: &str = "tenure-scim-test-token";
const REQUIREMENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/requirements.txt");

/// The SCIM server process (killed when dropped) and where it serves.
struct ScimServer {
    child: Child,
    /// `http://127.0.0.1:PORT/v2`.
    base: String,
    log: PathBuf,
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `scim2-server` on `port` and waits until it answers.
async fn start_server(port: u16) -> anyhow::Result<ScimServer> {
    let python = std::env::var("TENURE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import scim2_server.testserver.cli"])
        .output()
        .await
        .with_context(|| {
            format!("cannot run {python:?}; set TENURE_TEST_PYTHON to a Python 3 interpreter")
        })?;
    ensure!(
        probe.status.success(),
        "{python} cannot import the SCIM test server; install it with \
         `{python} -m pip install -r {REQUIREMENTS}` (or set TENURE_TEST_PYTHON):\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scim-server-{port}.log"));
    let output = std::fs::File::create(&log)?;
    let port_arg = port.to_string();
    let mut child = Command::new(&python)
        .args([
            "-m",
            "scim2_server.testserver.cli",
            "--hostname",
            "127.0.0.1",
        ])
        .args(["--port", port_arg.as_str(), "--bearer-token", TOKEN])
        .env("PYTHONUNBUFFERED", "1")
        .stdout(output.try_clone()?)
        .stderr(output)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {python} -m scim2_server.testserver.cli"))?;
    let base = format!("http://127.0.0.1:{port}/v2");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the SCIM server exited ({status}) before answering:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let answer = http
            .get(format!("{base}/ServiceProviderConfig"))
            .bearer_auth(TOKEN)
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return Ok(ScimServer { child, base, log });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "the SCIM server did not answer within 30 s; its log {}:\n{}",
        log.display(),
        std::fs::read_to_string(&log).unwrap_or_default()
    )
}

/// Reads and writes the server directly, to set it up and to check the connector.
struct Scim {
    http: reqwest::Client,
    base: String,
}

impl Scim {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{path} answered {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn create_group(&self, name: &str) -> anyhow::Result<String> {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                          "displayName": name});
        let group = self
            .call(reqwest::Method::POST, "/Groups", Some(body))
            .await?;
        Ok(group["id"]
            .as_str()
            .context("a created group has an id")?
            .to_owned())
    }

    /// The users named `user_name`, by a filter written here (not the connector's).
    async fn users_named(&self, user_name: &str) -> anyhow::Result<Vec<Value>> {
        let filter = format!("userName eq {}", Value::from(user_name));
        let response = self
            .http
            .get(format!("{}/Users", self.base))
            .query(&[("filter", filter.as_str())])
            .bearer_auth(TOKEN)
            .send()
            .await?;
        let page: Value = response.error_for_status()?.json().await?;
        Ok(page["Resources"].as_array().cloned().unwrap_or_default())
    }

    async fn user(&self, user_name: &str) -> anyhow::Result<Value> {
        let mut found = self.users_named(user_name).await?;
        ensure!(
            found.len() == 1,
            "expected one user {user_name:?}, found {found:?}"
        );
        Ok(found.remove(0))
    }

    /// The ids of the group's members, read by id.
    async fn member_ids(&self, group_id: &str) -> anyhow::Result<Vec<String>> {
        let group = self
            .call(reqwest::Method::GET, &format!("/Groups/{group_id}"), None)
            .await?;
        Ok(group["members"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default())
    }
}

fn entitlement(group: &str) -> Entitlement {
    Entitlement::new("scim", group, "member")
}

fn grant(holder: &TargetAccount, group: &str) -> GrantCommand {
    GrantCommand {
        command_id: CommandId::from_u128(1),
        grant_id: GrantId::from_u128(2),
        identity_id: IdentityId::from_u128(3),
        entitlement: entitlement(group),
        trigger_event_id: EventId::from_u128(4),
        holder: holder.clone(),
        terms: GrantTerms::default(),
    }
}

fn revoke(holder: &TargetAccount, group: &str) -> RevocationCommand {
    RevocationCommand {
        command_id: CommandId::from_u128(5),
        grant_id: GrantId::from_u128(2),
        identity_id: IdentityId::from_u128(3),
        entitlement: entitlement(group),
        cause: RevocationCause::Leaver,
        trigger_event_id: EventId::from_u128(6),
        holder: holder.clone(),
        terms: GrantTerms::default(),
    }
}

fn suspension(holder: &TargetAccount, group: &str) -> SuspensionCommand {
    SuspensionCommand {
        command_id: CommandId::from_u128(7),
        grant_id: GrantId::from_u128(2),
        identity_id: IdentityId::from_u128(3),
        entitlement: entitlement(group),
        trigger_event_id: EventId::from_u128(8),
        holder: holder.clone(),
    }
}

fn held(account: &str, group: &str) -> HeldAccess {
    HeldAccess {
        account: account.to_owned(),
        entitlement: entitlement(group),
    }
}

fn scim_connector(base: &str, token: &str) -> anyhow::Result<ScimConnector> {
    let mut settings = ScimSettings::new(base);
    settings.token = Some(token.to_owned());
    settings.request_timeout = Duration::from_secs(5);
    // Pages of one, so that listing really pages.
    settings.page_size = 1;
    Ok(ScimConnector::new(settings)?)
}

#[tokio::test]
async fn users_and_memberships_are_provisioned_on_a_real_scim_server() -> anyhow::Result<()> {
    let port = free_port()?;

    // Nothing listens yet: a passing problem, retried later.
    let early = scim_connector(&format!("http://127.0.0.1:{port}/v2"), TOKEN)?;
    assert!(
        matches!(early.list().await, Err(ConnectorError::Retryable(_))),
        "an unreachable service provider is a retryable failure"
    );

    let mut server = start_server(port).await?;
    let scim = Scim {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let engineering = scim.create_group("engineering").await?;
    let sales = scim.create_group("sales").await?;
    let connector = scim_connector(&server.base, TOKEN)?;
    connector.probe().await?;

    let grace = TargetAccount {
        name: "grace".into(),
        login: "grace".into(),
        email: "grace@example.com".into(),
        source_person_id: "E700".into(),
        display_name: "Grace Hopper".into(),
    };

    // A grant creates the missing user and adds the membership.
    assert_eq!(
        connector.grant(&grant(&grace, "engineering")).await,
        Ok(Applied::Done)
    );
    let user = scim.user("grace").await?;
    let grace_id = user["id"].as_str().context("a user has an id")?.to_owned();
    assert_eq!(user["active"], json!(true));
    assert_eq!(user["externalId"], "E700");
    assert_eq!(user["displayName"], "Grace Hopper");
    assert_eq!(user["emails"][0]["value"], "grace@example.com");
    assert_eq!(scim.member_ids(&engineering).await?, vec![grace_id.clone()]);

    // Again: nothing to do, and no second user or member.
    assert_eq!(
        connector.grant(&grant(&grace, "engineering")).await,
        Ok(Applied::AlreadyPresent)
    );
    assert_eq!(scim.users_named("grace").await?.len(), 1);
    assert_eq!(scim.member_ids(&engineering).await?, vec![grace_id.clone()]);

    // A name with a quote and a backslash stays one filter value.
    let odd = TargetAccount {
        name: r#"o"brien\x"#.into(),
        ..Default::default()
    };
    assert_eq!(
        connector.grant(&grant(&odd, "sales")).await,
        Ok(Applied::Done)
    );
    assert_eq!(
        connector.grant(&grant(&grace, "sales")).await,
        Ok(Applied::Done)
    );
    assert_eq!(
        connector.grant(&grant(&odd, "sales")).await,
        Ok(Applied::AlreadyPresent)
    );
    assert_eq!(scim.member_ids(&sales).await?.len(), 2);

    // A group the application does not have needs a person, and creates no user.
    let ada = TargetAccount {
        name: "ada".into(),
        ..Default::default()
    };
    assert!(matches!(
        connector.grant(&grant(&ada, "no-such-group")).await,
        Err(ConnectorError::Permanent(m)) if m.contains("no-such-group")
    ));
    assert!(scim.users_named("ada").await?.is_empty());

    // Reconciliation sees every membership, by userName, over several pages.
    let mut expected = vec![
        held("grace", "engineering"),
        held("grace", "sales"),
        held(r#"o"brien\x"#, "sales"),
    ];
    expected.sort();
    assert_eq!(connector.list().await?, expected);

    // A revocation removes the membership, and it is really gone.
    assert_eq!(
        connector.revoke(&revoke(&grace, "engineering")).await,
        Ok(Applied::Done)
    );
    assert!(scim.member_ids(&engineering).await?.is_empty());
    assert_eq!(
        connector.revoke(&revoke(&grace, "engineering")).await,
        Ok(Applied::AlreadyAbsent)
    );
    assert_eq!(
        connector.revoke(&revoke(&ada, "sales")).await,
        Ok(Applied::AlreadyAbsent),
        "no such user: nothing to take away"
    );
    assert_eq!(
        connector.revoke(&revoke(&grace, "no-such-group")).await,
        Ok(Applied::AlreadyAbsent),
        "no such group: nothing to take away"
    );
    // The other members stay.
    assert_eq!(scim.member_ids(&sales).await?.len(), 2);
    let mut expected = vec![held("grace", "sales"), held(r#"o"brien\x"#, "sales")];
    expected.sort();
    assert_eq!(connector.list().await?, expected);

    // Reconciliation: someone puts grace back into engineering by hand (a revocation
    // that did not stick), and o"brien was never granted sales by Tenure. The core's
    // rule, given what Tenure granted, finds both in what the connector lists.
    let text = scim
        .http
        .patch(format!("{}/Groups/{engineering}", scim.base))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "add", "path": "members", "value": [{"value": grace_id}]}]})
            .to_string(),
        )
        .send()
        .await?;
    ensure!(text.status().is_success(), "the out-of-band PATCH failed");
    let expected_grants = [
        tenure_core::reconcile::ExpectedGrant {
            identity_id: IdentityId::from_u128(3),
            grant_id: GrantId::from_u128(2),
            account: "grace".into(),
            entitlement: entitlement("engineering"),
            standing: tenure_core::reconcile::Standing::Revoked,
        },
        tenure_core::reconcile::ExpectedGrant {
            identity_id: IdentityId::from_u128(3),
            grant_id: GrantId::from_u128(7),
            account: "grace".into(),
            entitlement: entitlement("sales"),
            standing: tenure_core::reconcile::Standing::Held,
        },
    ];
    let observation = tenure_core::reconcile::Observation {
        observation_id: uuid::Uuid::from_u128(1),
        system: "scim".into(),
        connector: "scim-e2e".into(),
        observed_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).context("a time")?,
        held: connector.list().await?,
    };
    let found: Vec<(tenure_core::DiscrepancyKind, String)> = tenure_core::reconcile::discrepancies(
        &observation,
        &expected_grants,
        observation.observed_at,
    )
    .into_iter()
    .filter_map(|f| match f.payload {
        tenure_core::EventPayload::AccessDiscrepancyFound { kind, account, .. } => {
            Some((kind, account))
        }
        _ => None,
    })
    .collect();
    assert_eq!(
        found,
        vec![
            (tenure_core::DiscrepancyKind::NotRemoved, "grace".to_owned()),
            (
                tenure_core::DiscrepancyKind::OutOfBand,
                r#"o"brien\x"#.to_owned()
            ),
        ]
    );

    // Suspend disables the user, restore enables it again; each once.
    assert_eq!(
        connector.suspend(&suspension(&grace, "sales")).await,
        Ok(Applied::Done)
    );
    assert_eq!(scim.user("grace").await?["active"], json!(false));
    assert_eq!(
        connector.suspend(&suspension(&grace, "sales")).await,
        Ok(Applied::AlreadyAbsent)
    );
    assert_eq!(
        connector.restore(&suspension(&grace, "sales")).await,
        Ok(Applied::Done)
    );
    assert_eq!(scim.user("grace").await?["active"], json!(true));
    assert_eq!(
        connector.restore(&suspension(&grace, "sales")).await,
        Ok(Applied::AlreadyPresent)
    );
    // Entitlements that are not a membership of this system are refused.
    let mut other = grant(&grace, "sales");
    other.entitlement = Entitlement::new("scim", "sales", "admin");
    assert!(matches!(
        connector.grant(&other).await,
        Err(ConnectorError::Permanent(_))
    ));

    // A wrong token is refused by the server: a person must fix the configuration.
    let refused = scim_connector(&server.base, "wrong-token")?;
    assert!(matches!(
        refused.grant(&grant(&grace, "sales")).await,
        Err(ConnectorError::Permanent(m)) if m.contains("401")
    ));

    server.child.kill().await?;
    let _ = std::fs::remove_file(&server.log);
    Ok(())
}
