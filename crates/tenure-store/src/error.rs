//! Errors of the PostgreSQL adapter.

/// What went wrong talking to PostgreSQL, and what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A query failed; the transaction was rolled back. Retrying the whole batch is safe.
    #[error("PostgreSQL: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool; PostgreSQL is down or overloaded. Retry later.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The pool could not be built from the configuration; fix `DATABASE_URL`.
    #[error("PostgreSQL pool configuration: {0}")]
    PoolConfig(String),
    /// Migrating the schema failed; the binary must not run against an unknown schema.
    #[error("schema migration failed: {0}")]
    Migration(#[from] refinery::Error),
    /// `DATABASE_URL` is not a PostgreSQL connection string.
    #[error("DATABASE_URL {url:?} is not a valid PostgreSQL URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// A stored row cannot be read by this version; rebuild it from the log (`tenure replay`).
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
    /// Another consumer instance committed these offsets first: this instance lost the
    /// partition. Drop the batch (the transaction was rolled back), re-read the stored
    /// offsets and go on from there.
    #[error(
        "fenced: offsets for {topic}[{partition}] moved on from {expected:?} (another instance owns them)"
    )]
    Fenced {
        topic: String,
        partition: i32,
        expected: Option<i64>,
    },
}

impl StoreError {
    /// Whether retrying the same work later can succeed: the connection, the pool, a
    /// serialization conflict, a lock or the server's resources failed, not the data.
    /// Anything else (a data exception, a limit such as the index row size, a broken
    /// constraint, an unreadable row) fails again on every retry: the consumer parks
    /// the record that causes it instead of retrying forever.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Postgres(e) => postgres_error_is_transient(e),
            StoreError::Pool(_) | StoreError::Fenced { .. } => true,
            StoreError::PoolConfig(_)
            | StoreError::Migration(_)
            | StoreError::BadUrl { .. }
            | StoreError::Corrupt(_) => false,
        }
    }
}

/// SQLSTATE classes that describe the server or the connection rather than the data:
/// 08 connection, 40 transaction rollback (serialization, deadlock), 53 insufficient
/// resources, 55P03 lock not available, 57 operator intervention, 58 system error.
fn postgres_error_is_transient(e: &tokio_postgres::Error) -> bool {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return ["08", "40", "53", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class))
            || code == "55P03";
    }
    if e.is_closed() {
        return true;
    }
    // Client-side failures to encode a value are about the data; everything else
    // without a server error (I/O, timeouts, a dropped connection) is the connection.
    let text = e.to_string();
    !(text.starts_with("error serializing") || text.starts_with("error deserializing"))
}

/// The server's own message (with detail and hint) rather than just "db error".
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}
