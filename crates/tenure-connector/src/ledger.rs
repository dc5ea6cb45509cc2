//! The connector's own durable memory of commands: how often each was delivered and
//! the acknowledgement of each it finished, so a redelivered command is answered
//! again instead of executed again, across restarts.
//!
//! A file of SQLite beside the connector: a connector needs no server of its own,
//! and the ledger is only ever read by the one process that writes it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

/// Why the ledger could not be read or written; the runner stops, because a
/// connector that cannot remember what it did must not go on executing commands.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("connector ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("connector ledger: its worker stopped: {0}")]
    Worker(String),
}

/// What the ledger knew of a command when it was delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// The encoded acknowledgement, when an earlier delivery finished the command.
    pub finished: Option<Vec<u8>>,
}

/// A handle to the ledger file; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    connection: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS commands (
    command_id  TEXT PRIMARY KEY,
    deliveries  INTEGER NOT NULL,
    status      TEXT,
    outcome     BLOB,
    finished_at TEXT
)";
const RECORD_DELIVERY: &str = "INSERT INTO commands (command_id, deliveries) VALUES (?1, 1)
    ON CONFLICT (command_id) DO UPDATE SET deliveries = deliveries + 1
    RETURNING deliveries, outcome";
const RECORD_FINISH: &str =
    "UPDATE commands SET status = ?2, outcome = ?3, finished_at = ?4 WHERE command_id = ?1";
const COUNT_FINISHED: &str = "SELECT count(*) FROM commands WHERE outcome IS NOT NULL";
const STATUS_OF: &str = "SELECT status FROM commands WHERE command_id = ?1";

impl Ledger {
    /// Opens (or creates) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let connection = Connection::open(path)?;
        // Every finish is on disk before the acknowledgement leaves.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.execute(SCHEMA, [])?;
        Ok(Ledger {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` on the connection away from the async runtime's threads.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let guard = connection
                .lock()
                .map_err(|e| LedgerError::Worker(e.to_string()))?;
            work(&guard).map_err(LedgerError::from)
        })
        .await
        .map_err(|e| LedgerError::Worker(e.to_string()))?
    }

    /// Counts one more delivery of `command_id` and says whether it was finished.
    pub async fn delivered(&self, command_id: &str) -> Result<Delivery, LedgerError> {
        let id = command_id.to_owned();
        self.with(move |c| {
            c.query_row(RECORD_DELIVERY, params![id], |row| {
                Ok(Delivery {
                    attempt: u32::try_from(row.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                    finished: row.get(1)?,
                })
            })
        })
        .await
    }

    /// Records that `command_id` is finished with `status`, and the acknowledgement
    /// sent for it (sent again on every later delivery).
    pub async fn finish(
        &self,
        command_id: &str,
        status: &str,
        outcome: Vec<u8>,
    ) -> Result<(), LedgerError> {
        let (id, status) = (command_id.to_owned(), status.to_owned());
        let now = chrono::Utc::now().to_rfc3339();
        self.with(move |c| c.execute(RECORD_FINISH, params![id, status, outcome, now]))
            .await?;
        Ok(())
    }

    /// How many commands the ledger holds as finished.
    pub async fn finished(&self) -> Result<u64, LedgerError> {
        self.with(|c| c.query_row(COUNT_FINISHED, [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// The status a finished command was acknowledged with, if it is finished.
    pub async fn status_of(&self, command_id: &str) -> Result<Option<String>, LedgerError> {
        let id = command_id.to_owned();
        self.with(move |c| {
            c.query_row(STATUS_OF, params![id], |r| r.get::<_, Option<String>>(0))
                .optional()
                .map(Option::flatten)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deliveries_are_counted_and_a_finished_command_is_remembered_across_opens() {
        let dir = std::env::temp_dir().join(format!("tenure-ledger-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.sqlite");
        let ledger = Ledger::open(&path).unwrap();
        let first = ledger.delivered("c1").await.unwrap();
        assert_eq!(
            first,
            Delivery {
                attempt: 1,
                finished: None
            }
        );
        ledger.finish("c1", "done", vec![1, 2, 3]).await.unwrap();
        drop(ledger);
        let reopened = Ledger::open(&path).unwrap();
        let again = reopened.delivered("c1").await.unwrap();
        assert_eq!(again.attempt, 2);
        assert_eq!(again.finished, Some(vec![1, 2, 3]));
        assert_eq!(
            reopened.status_of("c1").await.unwrap().as_deref(),
            Some("done")
        );
        assert_eq!(reopened.status_of("c2").await.unwrap(), None);
        assert_eq!(reopened.finished().await.unwrap(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
