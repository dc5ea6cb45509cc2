//! A third-party SCIM 2.0 compliance checker (python-scim's scim2-tester, from PyPI:
//! tests/scim-compliance) run against a real Tenure (`tenure run`, a real broker and
//! PostgreSQL), discovering it as an identity provider would, through a credential
//! of scope `hr`. Every check it runs must pass.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tenure_tests::{TestEnv, log_dir, start_tenure_run};

const TOKEN: &str = "scim-hr-token-0123456789abcdef";

/// The checker invents role names, so unknown roles are accepted here (with the
/// default policy they are refused with invalidValue, by design).
const POLICY: &str = r#"
[intake]
unknown_roles = "accept"

[roles.engineer]
owner = "head-of-engineering"
birthright = ["github:acme:member"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes_every_check_it_runs() -> anyhow::Result<()> {
    let env = TestEnv::start("scim_compliance").await?;
    let credentials = log_dir().join("scim_compliance-credentials.toml");
    std::fs::write(
        &credentials,
        format!(
            "[[credential]]\nname = \"idp\"\ntoken = \"{TOKEN}\"\nscopes = [\"hr\"]\n\n\
             [[credential]]\nname = \"dashboard\"\ntoken = \"reader-token-0123456789abcdef\"\nscopes = [\"reader\"]\n"
        ),
    )?;
    let policy = log_dir().join("scim_compliance-policy.toml");
    std::fs::write(&policy, POLICY)?;
    let (tenure, base) = start_tenure_run(
        &env,
        "scim_compliance-tenure",
        &[
            "--credentials",
            &credentials.display().to_string(),
            "--policy",
            &policy.display().to_string(),
        ],
    )
    .await?;

    // SCIM is the hr scope's: another scope, or none, is refused.
    let http = reqwest::Client::new();
    for token in [None, Some("reader-token-0123456789abcdef")] {
        let mut request = http.get(format!("{base}/scim/v2/Users"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let status = request.send().await?.status().as_u16();
        assert!(status == 401 || status == 403, "{token:?}: {status}");
    }

    let python = std::env::var("TENURE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scim-compliance/check.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(format!("{base}/scim/v2"))
        .arg(TOKEN)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the checker failed to run: {stderr}"
    );
    let results: Vec<Value> = String::from_utf8(output.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    std::fs::write(
        log_dir().join("scim_compliance-results.jsonl"),
        results
            .iter()
            .map(|r| r.to_string() + "\n")
            .collect::<String>(),
    )?;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        *by_status
            .entry(r["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r["status"] != "SUCCESS")
        .map(|r| format!("{} {}: {}", r["status"], r["title"], r["reason"]))
        .collect();
    assert!(failed.is_empty(), "{by_status:?}\n{}", failed.join("\n"));
    // Discovery, CRUD, queries with attributes, and PATCH add/replace/remove of every
    // attribute of the published schema: the checker ran them all, not a handful.
    let titles: std::collections::BTreeSet<&str> =
        results.iter().filter_map(|r| r["title"].as_str()).collect();
    for title in [
        "service_provider_config_endpoint",
        "query_all_schemas",
        "query_all_resource_types",
        "object_creation",
        "object_query_without_id",
        "search_with_attributes",
        "object_replacement",
        "object_deletion",
        "check_add_attribute",
        "check_remove_attribute",
        "check_replace_attribute",
        "random_url",
    ] {
        assert!(titles.contains(title), "{title} did not run: {titles:?}");
    }
    assert!(
        by_status.get("SUCCESS").copied().unwrap_or(0) >= 90,
        "{by_status:?}"
    );
    tenure.assert_running()?;
    Ok(())
}
