//! `tenure gen`: writes the synthetic organisation's history as NDJSON for the HTTP
//! API, publishes it to the raw topics, or appends it straight onto the log.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures::StreamExt;
use tenure_gen::org::{Channel, Generated, OrgConfig, generate};
use tenure_kafka::{Publisher, headers, topics};

/// What `tenure gen` produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GenFormat {
    /// What sources send: HR, ITSM and connector-outcome JSON.
    Http,
    /// The lifecycle log Tenure would write from them, decisions and outcomes included.
    Log,
}

/// Options of `tenure gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// People in the organisation (plus one service account or API key per twenty).
    #[arg(long, default_value_t = 500)]
    pub people: usize,
    /// Years of history, ending now.
    #[arg(long, default_value_t = 3)]
    pub years: u32,
    /// The same seed gives the same organisation and history.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = GenFormat::Http)]
    pub format: GenFormat,
    /// Write NDJSON files here: hr.ndjson, itsm.ndjson and outcomes.ndjson (http), or
    /// log.ndjson (log).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Publish to the broker of --bootstrap instead: http to tenure.hr.raw,
    /// tenure.itsm.raw and tenure.outcomes.v1; log to tenure.lifecycle.v1. Outcomes
    /// are accepted only for commands the reactor has issued: those that arrive first
    /// are dead-lettered, and `tenure dead-letters retry --all` replays them later.
    #[arg(long)]
    pub produce: bool,
}

/// NDJSON files, one per channel.
struct Files {
    hr: std::io::BufWriter<std::fs::File>,
    itsm: std::io::BufWriter<std::fs::File>,
    outcomes: std::io::BufWriter<std::fs::File>,
    log: std::io::BufWriter<std::fs::File>,
}

impl Files {
    fn create(dir: &std::path::Path, format: GenFormat) -> anyhow::Result<Files> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let open = |name: &str| -> anyhow::Result<_> {
            let path = if (format == GenFormat::Log) == (name == "log.ndjson") {
                dir.join(name)
            } else {
                PathBuf::from("/dev/null")
            };
            Ok(std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            ))
        };
        Ok(Files {
            hr: open("hr.ndjson")?,
            itsm: open("itsm.ndjson")?,
            outcomes: open("outcomes.ndjson")?,
            log: open("log.ndjson")?,
        })
    }
}

/// Runs `tenure gen`.
pub async fn run(bootstrap: Option<String>, args: GenArgs) -> anyhow::Result<()> {
    let policy = crate::services::load_policy(None)?;
    let cfg = OrgConfig::new(args.people, args.years, args.seed, chrono::Utc::now());
    let mut counts = [0usize; 4];
    match (args.produce, &args.out) {
        (false, Some(dir)) => {
            let mut files = Files::create(dir, args.format)?;
            generate(&cfg, &policy, args.format == GenFormat::Log, |batch| {
                for item in batch {
                    match item {
                        Generated::Source(r) => {
                            let (file, i) = match r.channel {
                                Channel::Hr => (&mut files.hr, 0),
                                Channel::Itsm => (&mut files.itsm, 1),
                                Channel::Outcome => (&mut files.outcomes, 2),
                            };
                            counts[i] += 1;
                            writeln!(file, "{}", r.json)?;
                        }
                        Generated::Log(e) => {
                            counts[3] += 1;
                            writeln!(files.log, "{}", serde_json::to_string(&e)?)?;
                        }
                    }
                }
                anyhow::Ok(())
            })?;
            for f in [
                &mut files.hr,
                &mut files.itsm,
                &mut files.outcomes,
                &mut files.log,
            ] {
                f.flush()?;
            }
            eprintln!("written to {}", dir.display());
        }
        (true, None) => {
            let bootstrap =
                bootstrap.context("--produce needs --bootstrap (or KAFKA_BOOTSTRAP_SERVERS)")?;
            topics::ensure_topics(&bootstrap, topics::DEFAULT_PARTITIONS).await?;
            let publisher = Publisher::new(&bootstrap)?;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Generated>>(2);
            let log = args.format == GenFormat::Log;
            let generator = tokio::task::spawn_blocking(move || {
                generate(&cfg, &policy, log, |batch| tx.blocking_send(batch))
            });
            while let Some(batch) = rx.recv().await {
                let sends = futures::stream::iter(batch.into_iter().map(|item| {
                    let publisher = &publisher;
                    async move {
                        match item {
                            Generated::Log(e) => publisher.send_event(&e).await.map(|_| 3),
                            Generated::Source(r) => {
                                let key = r.json["employee_id"]
                                    .as_str()
                                    .or(r.json["identity_id"].as_str())
                                    .unwrap_or_default()
                                    .to_owned();
                                let (topic, payload, i) = match r.channel {
                                    Channel::Hr => {
                                        (topics::HR_RAW, r.json.to_string().into_bytes(), 0)
                                    }
                                    Channel::Itsm => {
                                        (topics::ITSM_RAW, r.json.to_string().into_bytes(), 1)
                                    }
                                    Channel::Outcome => {
                                        (topics::OUTCOMES, outcome_protobuf(&r.json), 2)
                                    }
                                };
                                let hs = [(
                                    headers::CONTENT_TYPE.to_owned(),
                                    "application/json".to_owned(),
                                )];
                                publisher.send(topic, &key, &payload, &hs).await.map(|_| i)
                            }
                        }
                    }
                }))
                .buffer_unordered(5_000);
                futures::pin_mut!(sends);
                while let Some(sent) = sends.next().await {
                    counts[sent?] += 1;
                }
            }
            generator
                .await?
                .map_err(|e| anyhow::anyhow!("generator stopped: {e}"))?;
            eprintln!("published to {bootstrap}");
        }
        _ => anyhow::bail!("give exactly one of --out DIR and --produce"),
    }
    if args.format == GenFormat::Log {
        eprintln!("{} lifecycle events for {} people", counts[3], args.people);
    } else {
        eprintln!(
            "{} HR, {} ITSM and {} connector-outcome records for {} people",
            counts[0], counts[1], counts[2], args.people
        );
    }
    Ok(())
}

/// A connector outcome as `tenure.outcomes.v1` carries it (protobuf).
fn outcome_protobuf(json: &serde_json::Value) -> Vec<u8> {
    use prost::Message;
    use tenure_proto::v1;
    let text = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
    let command_type = match json["command_type"].as_str() {
        Some("revoke") => v1::CommandType::Revoke,
        Some("grant") => v1::CommandType::Grant,
        Some("suspend") => v1::CommandType::Suspend,
        Some("restore") => v1::CommandType::Restore,
        Some("rotate") => v1::CommandType::Rotate,
        _ => v1::CommandType::Unspecified,
    };
    let status = match json["status"].as_str() {
        Some("done") => v1::CommandStatus::Done,
        Some("already_absent") => v1::CommandStatus::AlreadyAbsent,
        Some("failed_retryable") => v1::CommandStatus::FailedRetryable,
        Some("failed_permanent") => v1::CommandStatus::FailedPermanent,
        _ => v1::CommandStatus::Unspecified,
    };
    v1::CommandOutcome {
        command_id: text("command_id"),
        status: status as i32,
        detail: text("detail"),
        grant_id: text("grant_id"),
        identity_id: text("identity_id"),
        command_type: command_type as i32,
        connector: text("connector"),
        attempt: json["attempt"]
            .as_u64()
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0),
        completed_time: None,
        system: text("system"),
    }
    .encode_to_vec()
}
