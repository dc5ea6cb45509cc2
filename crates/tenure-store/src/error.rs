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
    /// TLS to PostgreSQL cannot be set up as `DATABASE_URL` asks (`sslmode`,
    /// `sslrootcert`); fix the URL or the certificate file.
    #[error("PostgreSQL TLS: {0}")]
    Tls(String),
    /// `DATABASE_URL` is not a PostgreSQL connection string.
    #[error("DATABASE_URL {url:?} is not a valid PostgreSQL URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// A read-only command found no database of this build's schema at the URL: it
    /// creates and migrates nothing. Fix the URL, or run `tenure migrate` first.
    #[error(
        "database {database:?} {reason}; read-only commands create and migrate nothing (check DATABASE_URL, or run `tenure migrate`)"
    )]
    NotReady { database: String, reason: String },
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
    /// Whether retrying the same work later can succeed. Only failures about the data
    /// itself are not: a data exception (SQLSTATE class 22: NUL bytes, a value out of
    /// range), a broken constraint (23), a limit such as the index row size (54), or a
    /// value the client cannot encode. The consumer parks the record that causes one of
    /// those. Everything else (the connection, a lock, a missing table or privilege
    /// during a deploy, a stored state this version cannot read) would fail for every
    /// record alike: it is retried with backoff, loudly, rather than parking the whole
    /// partition.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Postgres(e) => !postgres_error_is_about_data(e),
            StoreError::Pool(_) | StoreError::Fenced { .. } | StoreError::Corrupt(_) => true,
            StoreError::PoolConfig(_)
            | StoreError::Migration(_)
            | StoreError::BadUrl { .. }
            | StoreError::NotReady { .. }
            | StoreError::Tls(_) => false,
        }
    }
}

/// SQLSTATE classes that describe the data rather than the server, the schema or the
/// connection: 22 data exception, 23 integrity constraint violation, 54 program limit
/// exceeded; and client-side failures to encode a value.
fn postgres_error_is_about_data(e: &tokio_postgres::Error) -> bool {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return ["22", "23", "54"]
            .iter()
            .any(|class| code.starts_with(class));
    }
    let text = e.to_string();
    text.starts_with("error serializing") || text.starts_with("error deserializing")
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
