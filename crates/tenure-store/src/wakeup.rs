//! Wakes a waiting worker the moment another transaction commits work for it, through
//! PostgreSQL's LISTEN/NOTIFY: the outbox relay and the deadline scheduler sleep until
//! told, instead of polling on a fixed tick that every command and every expiry would
//! wait out.
//!
//! A notice is only a hint. Workers always read the tables themselves and still wake
//! after a fallback interval, so a notice lost while a listener reconnects costs that
//! interval, never a message; and a notice is delivered only when the announcing
//! transaction commits, so a woken worker finds the work it was told about.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, GenericClient};
use tracing::{debug, warn};

use crate::{Database, StoreError, sql};

/// Announced when messages are written to the outbox or made publishable again.
pub const OUTBOX: &str = "tenure_outbox";
/// Announced when deadlines are written, so a scheduler asleep until a later one
/// looks again.
pub const DEADLINES: &str = "tenure_deadlines";

/// Wakes the listeners of `channel` when the caller's transaction commits (at once,
/// outside a transaction).
pub async fn announce(client: &impl GenericClient, channel: &str) -> Result<(), StoreError> {
    client.execute(sql::ANNOUNCE_WORK, &[&channel]).await?;
    Ok(())
}

/// A listener on one channel: [`Wakeup::wait`] returns when a notice arrives. It
/// keeps a connection of its own and reconnects after a failure; dropping it closes
/// the connection.
pub struct Wakeup {
    signal: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Wakeup {
    /// Listens on `channel` of `db` from now on.
    pub fn listen(db: &Database, channel: &'static str) -> Wakeup {
        let signal = Arc::new(Notify::new());
        let task = tokio::spawn(keep_listening(db.clone(), channel, signal.clone()));
        Wakeup { signal, task }
    }

    /// Returns when a notice arrives, or after `at_most`. A notice that arrived since
    /// the last wait returns at once, so none is missed between two waits.
    pub async fn wait(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.signal.notified()).await;
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Holds a `LISTEN` connection open for as long as the listener lives.
async fn keep_listening(db: Database, channel: &'static str, signal: Arc<Notify>) {
    let mut failures: u32 = 0;
    loop {
        let on_notice = {
            let signal = signal.clone();
            move |message| {
                if let AsyncMessage::Notification(_) = message {
                    signal.notify_one();
                }
            }
        };
        let problem = match db.dedicated_connection(on_notice).await {
            Ok((client, driver)) => {
                // The channel is one of this module's constants: a plain identifier.
                match client.batch_execute(&format!("LISTEN {channel}")).await {
                    Ok(()) => {
                        if failures > 0 {
                            debug!(channel, "listening again");
                        }
                        failures = 0;
                        // Work committed while nobody listened: look once.
                        signal.notify_one();
                        let _ = driver.await;
                        drop(client);
                        "the connection closed".to_owned()
                    }
                    Err(e) => {
                        driver.abort();
                        e.to_string()
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        failures = failures.saturating_add(1);
        if failures == 1 {
            warn!(
                channel,
                problem, "listener lost; falling back to polling until it is back"
            );
        }
        // The waiting worker polls in the meantime; wake it so it does not wait long.
        signal.notify_one();
        tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(20)))).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    async fn database() -> Database {
        let url = std::env::var("TENURE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        Database::connect(&format!("{url}/tenure_test_wakeup"))
            .await
            .expect("PostgreSQL")
    }

    /// Waits for the listener's first look (it wakes once when it starts listening).
    async fn settled(wakeup: &Wakeup) {
        wakeup.wait(Duration::from_secs(10)).await;
    }

    #[tokio::test]
    async fn a_committed_announcement_wakes_the_listener_and_a_rolled_back_one_does_not() {
        let db = database().await;
        let wakeup = Wakeup::listen(&db, OUTBOX);
        settled(&wakeup).await;
        let mut client = db.client().await.unwrap();

        let txn = client.transaction().await.unwrap();
        announce(&*txn, OUTBOX).await.unwrap();
        txn.rollback().await.unwrap();
        let started = Instant::now();
        wakeup.wait(Duration::from_millis(400)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "a rolled-back transaction woke the listener"
        );

        let txn = client.transaction().await.unwrap();
        announce(&*txn, OUTBOX).await.unwrap();
        announce(&*txn, DEADLINES).await.unwrap();
        txn.commit().await.unwrap();
        let started = Instant::now();
        wakeup.wait(Duration::from_secs(30)).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the committed announcement did not wake the listener"
        );
    }
}
