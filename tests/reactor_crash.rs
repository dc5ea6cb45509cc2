//! The reactor (with its outbox relay) is killed (SIGKILL) again and again while
//! lifecycle events stream in; afterwards the set of command ids on
//! `tenure.commands.v1` equals the set `tenure simulate`'s engine decides from the
//! log under today's policy: none missing, none extra (a republished duplicate of the
//! same id is counted, not failed).

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::try_join_all;
use prost::Message;
use tenure_core::simulate::Simulation;
use tenure_core::{LifecycleEvent, Policy};
use tenure_gen::{Rng, hr_history};
use tenure_kafka::{Publisher, topics};
use tenure_proto::v1;
use tenure_tests::{TestEnv, eventually, read_topic, wait_caught_up};

const POLICY: &str = include_str!("../deploy/policy.toml");
const PEOPLE: usize = 3_000;
const KILLS: usize = 10;
const SESSION_TIMEOUT: Duration = Duration::from_secs(7);
/// The reactor, with the safety brake out of the way: this test is about exactly-once
/// decisions, and a synthetic history revokes far more per hour than a real one.
const REACTOR_ARGS: [&str; 3] = ["reactor", "--brake-minimum", "1000000000"];
/// The reactor's consumer group (`tenure_reactor::GROUP`).
const REACTOR_GROUP: &str = "tenure-reactor";

/// Commands `tenure simulate`'s engine decides over the log under today's policy: it
/// skips the reactor's own facts and decides each distinct event once, with the same
/// process step the reactor runs. The generated history sets no deadline that falls
/// due, so nothing is left for a scheduler to fire.
fn simulated_from(log: &[LifecycleEvent]) -> BTreeSet<String> {
    let policy = Policy::from_toml(POLICY).expect("the built-in policy parses");
    let mut simulation = Simulation::new(&policy);
    log.iter()
        .flat_map(|event| simulation.feed(event))
        .flat_map(|decision| decision.reaction.commands)
        .map(|command| command.command_id().to_string())
        .collect()
}

fn command_id(record: &tenure_tests::ReadRecord) -> anyhow::Result<String> {
    Ok(match record.header("ce_type") {
        Some("tenure.commands.v1.revoke") => {
            v1::RevocationCommand::decode(record.payload.as_slice())?.command_id
        }
        Some("tenure.commands.v1.grant") => {
            v1::GrantCommand::decode(record.payload.as_slice())?.command_id
        }
        Some("tenure.commands.v1.suspend" | "tenure.commands.v1.restore") => {
            v1::SuspensionCommand::decode(record.payload.as_slice())?.command_id
        }
        Some("tenure.commands.v1.rotate") => {
            v1::RotationCommand::decode(record.payload.as_slice())?.command_id
        }
        other => anyhow::bail!("unexpected command type {other:?}"),
    })
}

async fn reactor_progress(env: &TestEnv) -> anyhow::Result<i64> {
    let client = env.db.client().await?;
    Ok(client
        .query_one(
            "SELECT coalesce(sum(messages_processed), 0)::bigint FROM consumer_offsets WHERE consumer_group = $1",
            &[&REACTOR_GROUP],
        )
        .await?
        .get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactor_killed_mid_stream_publishes_exactly_the_decided_commands() -> anyhow::Result<()> {
    let env = TestEnv::start("reactor_crash").await?;
    let start = chrono::Utc::now() - chrono::Duration::days(400);
    let history = hr_history(PEOPLE, 5, start);
    let publisher = Publisher::new(env.bootstrap())?;
    let stream = history.clone();
    let producer = tokio::spawn(async move {
        for chunk in stream.chunks(200) {
            try_join_all(chunk.iter().map(|e| publisher.send_event(e))).await?;
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        anyhow::Ok(())
    });

    let mut rng = Rng::new(17);
    let mut before = 0;
    let mut kills_with_work_left = 0;
    for _ in 0..KILLS {
        let reactor = env.spawn_tenure(&REACTOR_ARGS, "reactor_crash-reactor")?;
        eventually(
            "the reactor to make progress",
            Duration::from_secs(90),
            || async {
                reactor.assert_running()?;
                Ok((reactor_progress(&env).await? > before).then_some(()))
            },
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(rng.below(700))).await;
        reactor.kill();
        let outbox_left = tenure_store::outbox::depth(&**env.db.client().await?).await?;
        let ends = topics::end_offsets(env.bootstrap(), topics::LIFECYCLE).await?;
        let log_left = tenure_store::offsets::lag(
            &**env.db.client().await?,
            REACTOR_GROUP,
            topics::LIFECYCLE,
            &ends,
        )
        .await?;
        if !producer.is_finished() || outbox_left > 0 || log_left > 0 {
            kills_with_work_left += 1;
        }
        before = reactor_progress(&env).await?;
        tokio::time::sleep(SESSION_TIMEOUT).await;
    }
    producer.await??;
    let reactor = env.spawn_tenure(&REACTOR_ARGS, "reactor_crash-reactor")?;
    // The reactor's own facts land on the log too, so wait until it has consumed
    // everything, including them, and the outbox is empty.
    eventually(
        "the reactor and its relay to finish",
        Duration::from_secs(300),
        || async {
            reactor.assert_running()?;
            wait_caught_up(&env, REACTOR_GROUP, Duration::from_secs(300)).await?;
            let depth = tenure_store::outbox::depth(&**env.db.client().await?).await?;
            Ok((depth == 0).then_some(()))
        },
    )
    .await?;
    wait_caught_up(&env, REACTOR_GROUP, Duration::from_secs(60)).await?;
    assert!(
        kills_with_work_left >= KILLS / 2,
        "only {kills_with_work_left} kills interrupted work"
    );

    let log: Vec<LifecycleEvent> = read_topic(env.bootstrap(), topics::LIFECYCLE)
        .await?
        .iter()
        .map(|r| tenure_proto::decode_event(&r.payload))
        .collect::<Result<_, _>>()?;
    let decided = simulated_from(&log);
    let records = read_topic(env.bootstrap(), topics::COMMANDS).await?;
    let ids: Vec<String> = records
        .iter()
        .map(command_id)
        .collect::<anyhow::Result<_>>()?;
    let published: BTreeSet<String> = ids.iter().cloned().collect();
    eprintln!(
        "{} events, {} commands decided, {} published records ({} republished duplicates)",
        history.len(),
        decided.len(),
        ids.len(),
        ids.len() - published.len()
    );
    assert!(!decided.is_empty());
    let held = tenure_store::outbox::held(&**env.db.client().await?).await?;
    assert_eq!(held, 0, "nothing is held by the brake");
    let missing: Vec<_> = decided.difference(&published).take(5).collect();
    let extra: Vec<_> = published.difference(&decided).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    Ok(())
}
