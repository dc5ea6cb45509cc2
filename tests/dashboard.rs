//! The dashboard served by Tenure, rendered by a real headless browser (Debian's
//! `chromium`) over a year of generated history: the screenshot must show the charts.

use std::time::Duration;

use serde_json::Value;
use tenure_tests::{TestEnv, log_dir, start_tenure_run, wait_caught_up};

/// Pixels of exactly this colour in an RGB(A) PNG.
fn count_colour(png_path: &std::path::Path, rgb: [u8; 3]) -> anyhow::Result<usize> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path)?));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    anyhow::ensure!(
        channels >= 3,
        "unexpected PNG colour type {:?}",
        info.color_type
    );
    Ok(buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p[..3] == rgb)
        .count())
}

fn chromium() -> anyhow::Result<String> {
    for candidate in ["chromium", "chromium-browser", "/usr/bin/chromium"] {
        if std::process::Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Ok(candidate.to_owned());
        }
    }
    anyhow::bail!(
        "the dashboard test needs Debian's chromium: apt-get install chromium (.ci/run does)"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_its_charts_in_a_headless_browser() -> anyhow::Result<()> {
    let browser = chromium()?;
    let env = TestEnv::start("dashboard").await?;
    // A year of a small organisation's history, decisions and acknowledgements included.
    env.run_tenure(&[
        "gen",
        "--people",
        "150",
        "--years",
        "1",
        "--format",
        "log",
        "--produce",
    ])
    .await?;
    let (tenure, base) =
        start_tenure_run(&env, "dashboard-tenure", &["--brake-minimum", "1000000000"]).await?;
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(120)).await?;

    let series: Value = reqwest::get(format!("{base}/v1/dashboard/series?days=400"))
        .await?
        .json()
        .await?;
    let total = |key: &str| -> i64 {
        series[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).sum())
            .unwrap_or(0)
    };
    assert!(total("events") > 500, "{series}");
    assert!(total("active_grants") > 0, "{series}");
    assert!(
        series["revocations_by_cause"]
            .as_object()
            .is_some_and(|c| !c.is_empty()),
        "{series}"
    );
    let response = reqwest::get(format!("{base}/v1/dashboard/series?days=0")).await?;
    assert_eq!(response.status(), 400);

    let shot = log_dir().join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("{base}/dashboard?days=400");
    let output = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1100",
            "--virtual-time-budget=15000",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .await?;
    anyhow::ensure!(
        shot.exists(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = count_colour(&shot, [31, 119, 180])?;
    let bars = count_colour(&shot, [214, 39, 40])?;
    assert!(lines > 300, "the line charts are drawn ({lines} pixels)");
    assert!(bars > 300, "the bar charts are drawn ({bars} pixels)");
    let dom = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=15000",
            "--dump-dom",
            &url,
        ])
        .output()
        .await?;
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-rendered=\"yes\""),
        "the page finished drawing"
    );
    assert!(dom.contains("<polyline"), "line charts are SVG polylines");
    tenure.assert_running()?;
    Ok(())
}
