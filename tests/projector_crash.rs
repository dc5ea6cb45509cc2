//! The projector is killed (SIGKILL) again and again while events stream in; after a
//! final restart its PostgreSQL state equals the pure core's fold of the log: nothing
//! lost, nothing applied twice.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::try_join_all;
use tenure_core::{LifecycleEvent, fold_log};
use tenure_gen::{Rng, synthetic_history};
use tenure_kafka::{Publisher, topics};
use tenure_tests::{TestEnv, read_topic, wait_caught_up};

/// People in the synthetic history (about seven events each).
const PEOPLE: usize = 14_500;
/// How many times the projector is killed.
const KILLS: usize = 10;
/// A little more than the consumer's session timeout.
const SESSION_TIMEOUT: Duration = Duration::from_secs(7);

/// Records the projector group has committed, and records on the log.
async fn progress(env: &TestEnv) -> anyhow::Result<(i64, i64)> {
    let ends = tenure_kafka::topics::end_offsets(env.bootstrap(), topics::LIFECYCLE).await?;
    let client = env.db.client().await?;
    let done: i64 = client
        .query_one(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM consumer_offsets WHERE consumer_group = $1",
            &[&tenure_projector::GROUP],
        )
        .await?
        .get(0);
    Ok((done, ends.iter().map(|(_, e)| e).sum()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projector_killed_mid_stream_ends_equal_to_the_fold_of_the_log() -> anyhow::Result<()> {
    let env = TestEnv::start("projector_crash").await?;
    let history = synthetic_history(PEOPLE, 7);
    let total = history.len();
    let publisher = Publisher::new(env.bootstrap())?;
    let stream = history.clone();
    let producer = tokio::spawn(async move {
        // Paced so the log keeps growing through most of the kills: a kill after the
        // projector has caught up with a finished log interrupts nothing.
        for chunk in stream.chunks(500) {
            try_join_all(chunk.iter().map(|e| publisher.send_event(e))).await?;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::Ok(())
    });

    let mut rng = Rng::new(99);
    let mut kills_mid_stream = 0;
    let mut positions = Vec::new();
    let mut before = 0;
    for _ in 0..KILLS {
        let projector = env.spawn_tenure(&["projector"], "projector_crash-projector")?;
        // Let the new instance join the group and commit something, then kill it at a
        // random moment of its work.
        tenure_tests::eventually(
            "the projector to make progress",
            Duration::from_secs(60),
            || async {
                projector.assert_running()?;
                let (done, written) = progress(&env).await?;
                Ok((done > before || done == written).then_some(()))
            },
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(rng.below(800))).await;
        projector.kill();
        // A killed member stays in the group until its session times out; the next
        // instance joins after that, as a restarted pod would.
        tokio::time::sleep(SESSION_TIMEOUT).await;
        let (done, written) = progress(&env).await?;
        positions.push(done);
        before = done;
        if done < written || written < total as i64 {
            kills_mid_stream += 1;
        }
    }
    producer.await??;
    let last = env.spawn_tenure(&["projector"], "projector_crash-projector")?;
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(300)).await?;
    last.assert_running()?;

    // The kills really happened mid-stream, after real progress.
    assert!(
        kills_mid_stream >= KILLS / 2,
        "only {kills_mid_stream} kills happened mid-stream"
    );
    assert!(
        positions.iter().any(|p| *p > 0),
        "the projector never committed before being killed"
    );

    assert_projection_equals_fold(&env, total).await
}

/// The projector's tables equal the pure fold of the log, and every record was
/// processed exactly once in effect.
async fn assert_projection_equals_fold(env: &TestEnv, total: usize) -> anyhow::Result<()> {
    let records = read_topic(env.bootstrap(), topics::LIFECYCLE).await?;
    let client = env.db.client().await?;
    let client: &tokio_postgres::Client = &client;
    let stored =
        tenure_store::offsets::positions(client, tenure_projector::GROUP, topics::LIFECYCLE)
            .await?;
    for (partition, next) in &stored {
        let on_log: Vec<i64> = records
            .iter()
            .filter(|r| r.partition == *partition)
            .map(|r| r.offset)
            .collect();
        eprintln!(
            "partition {partition}: {} records, last offset {:?}, projector next offset {next}",
            on_log.len(),
            on_log.last()
        );
    }
    assert_eq!(records.len(), total, "every produced event is on the log");
    let log: Vec<LifecycleEvent> = records
        .iter()
        .map(|r| tenure_proto::decode_event(&r.payload))
        .collect::<Result<_, _>>()?;
    let folded = fold_log(&log);
    let projected = tenure_projector::queries::all_states(client).await?;
    assert_eq!(
        projected.len(),
        folded.len(),
        "one projected identity per identity in the log"
    );
    let differing: Vec<_> = folded
        .iter()
        .filter(|(id, state)| projected.get(id) != Some(state))
        .map(|(id, _)| *id)
        .collect();
    if let Some(first) = differing.first() {
        let show = |s| serde_json::to_string_pretty(&s).unwrap_or_default();
        panic!(
            "{} identities differ from the fold; first {first}\nprojected: {}\nfolded: {}",
            differing.len(),
            show(projected.get(first)),
            show(folded.get(first))
        );
    }

    // Exactly once: every record was counted once, every distinct event journaled once.
    let processed: i64 = client
        .query_one(
            "SELECT sum(messages_processed)::bigint FROM consumer_offsets WHERE consumer_group = $1",
            &[&tenure_projector::GROUP],
        )
        .await?
        .get(0);
    assert_eq!(
        processed, total as i64,
        "records processed exactly once in effect"
    );
    let distinct: HashSet<_> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(
        tenure_projector::queries::event_count(client).await?,
        distinct.len() as i64
    );
    assert!(
        distinct.len() < total,
        "the history holds redelivered duplicates"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projector_instances_share_the_partitions() -> anyhow::Result<()> {
    let env = TestEnv::start("projector_pair").await?;
    let logs = ["projector_pair-a", "projector_pair-b"];
    for log in logs {
        let _ = std::fs::remove_file(tenure_tests::log_dir().join(format!("{log}.log")));
    }
    let a = env.spawn_tenure(&["projector"], logs[0])?;
    let b = env.spawn_tenure(&["projector"], logs[1])?;
    // Both members hold some of the four partitions.
    tenure_tests::eventually(
        "both instances to own partitions",
        Duration::from_secs(90),
        || async {
            a.assert_running()?;
            b.assert_running()?;
            let owning = logs
                .iter()
                .filter(|log| {
                    let text =
                        std::fs::read_to_string(tenure_tests::log_dir().join(format!("{log}.log")))
                            .unwrap_or_default();
                    text.lines()
                        .rfind(|l| l.contains("partitions assigned"))
                        .is_some_and(|l| l.contains("PartitionKey"))
                })
                .count();
            Ok((owning == 2).then_some(()))
        },
    )
    .await?;
    let history = synthetic_history(1_500, 11);
    let publisher = Publisher::new(env.bootstrap())?;
    for chunk in history.chunks(500) {
        try_join_all(chunk.iter().map(|e| publisher.send_event(e))).await?;
    }
    wait_caught_up(&env, tenure_projector::GROUP, Duration::from_secs(120)).await?;
    a.assert_running()?;
    b.assert_running()?;
    assert_projection_equals_fold(&env, history.len()).await
}
