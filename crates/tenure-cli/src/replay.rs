//! `tenure replay`: rebuild the projection from the log into a fresh schema, with a
//! progress bar, then verify it against the live projection and, on request, switch.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tenure_kafka::topics;
use tenure_projector::replay;
use tenure_store::Database;

/// Options of `tenure replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Rebuild the projection as Tenure knew it at this recorded time (RFC 3339);
    /// by default the whole log.
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
    /// Schema to replay into; created if missing. Default: replay_<unix seconds>.
    #[arg(long)]
    pub schema: Option<String>,
    /// After the replay, swap it in for the live projection in one transaction (the
    /// live tables are kept in <schema>_retired).
    #[arg(long)]
    pub switch: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a replay did and found.
#[derive(Debug, Serialize)]
pub struct ReplayReport {
    pub schema: String,
    pub records: i64,
    pub seconds: f64,
    pub records_per_second: f64,
    pub live_checksum: String,
    pub replay_checksum: String,
    pub rows_compared: i64,
    pub equal: bool,
    /// Records of the log the live projector had not processed when compared.
    pub live_lag: i64,
    pub differences: Vec<String>,
    pub switched: bool,
}

/// Replays into `schema` and compares; the reusable core of the command (the bench
/// measures replay throughput with it).
pub async fn replay_and_verify(
    database_url: &str,
    bootstrap: &str,
    schema: &str,
    until: Option<DateTime<Utc>>,
    show_progress: bool,
) -> anyhow::Result<ReplayReport> {
    let live = Database::connect(database_url).await?;
    let replayed = Database::connect_in_schema(database_url, schema).await?;
    let ends = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
    let group = replay::replay_group(schema);
    let bar = if show_progress {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "replay {bar:40.cyan/blue} {pos}/{len} records  {per_sec}  eta {eta}",
        )?
        .progress_chars("=> "),
    );
    let started = Instant::now();
    replay::replay(bootstrap, &replayed, &group, until, &ends, |done, total| {
        bar.set_length(total.max(0) as u64);
        bar.set_position(done.max(0) as u64);
    })
    .await?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let records: i64 = ends.iter().map(|(_, e)| e).sum();
    let client = live.client().await?;
    let client: &tokio_postgres::Client = &client;
    let live_lag =
        tenure_store::offsets::lag(client, tenure_projector::GROUP, topics::LIFECYCLE, &ends)
            .await?;
    let live_sum = replay::checksum(client, "public").await?;
    let replay_sum = replay::checksum(client, schema).await?;
    let equal = live_sum == replay_sum;
    let differences = if equal {
        Vec::new()
    } else {
        replay::differences(client, "public", schema, 50).await?
    };
    Ok(ReplayReport {
        schema: schema.to_owned(),
        records,
        seconds: elapsed.as_secs_f64(),
        records_per_second: records as f64 / elapsed.as_secs_f64().max(1e-9),
        live_checksum: live_sum.digest(),
        replay_checksum: replay_sum.digest(),
        rows_compared: live_sum.rows() + replay_sum.rows(),
        equal,
        live_lag,
        differences,
        switched: false,
    })
}

/// Runs `tenure replay`.
pub async fn run(database_url: &str, bootstrap: &str, args: ReplayArgs) -> anyhow::Result<()> {
    if args.switch && args.until.is_some() {
        anyhow::bail!(
            "--switch cannot be combined with --until: a projection of the past cannot replace the live one"
        );
    }
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| format!("replay_{}", Utc::now().timestamp()));
    let mut report =
        replay_and_verify(database_url, bootstrap, &schema, args.until, !args.json).await?;
    if args.switch {
        let db = Database::connect(database_url).await?;
        let mut client = db.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let group = replay::replay_group(&schema);
        // The live projector may move on while we compare: catch up once more and retry.
        let mut attempts = 0;
        loop {
            match replay::switch(
                client,
                "public",
                &schema,
                &group,
                &format!("{schema}_retired"),
            )
            .await
            {
                Ok(()) => break,
                Err(replay::ReplayError::LiveAhead(_)) if attempts < 3 => {
                    attempts += 1;
                    let replayed = Database::connect_in_schema(database_url, &schema).await?;
                    let ends = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
                    replay::replay(bootstrap, &replayed, &group, None, &ends, |_, _| {}).await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        report.switched = true;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "replayed {} records into schema {} in {:.1} s ({:.0} records/s)",
        report.records, report.schema, report.seconds, report.records_per_second
    );
    println!("  live projection checksum:   {}", report.live_checksum);
    println!("  replayed projection checksum: {}", report.replay_checksum);
    if report.equal {
        println!("  equal: {} rows compared", report.rows_compared);
    } else {
        println!(
            "  DIFFERENT (the live projector lags {} records); first differences:",
            report.live_lag
        );
        for d in &report.differences {
            println!("    {d}");
        }
    }
    if report.switched {
        println!(
            "  switched: the live API now serves the replayed projection; the old tables are in {}_retired",
            report.schema
        );
    }
    Ok(())
}
