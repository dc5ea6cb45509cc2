//! Connecting to PostgreSQL: create the database if needed, migrate, pool.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::info;

use crate::error::StoreError;
use crate::sql;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Advisory lock key held while migrating, so concurrent starts do not race.
const MIGRATION_LOCK: i64 = 0x7465_6e75_7265;

/// A pool of connections to Tenure's database, migrated to the latest schema.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    config: tokio_postgres::Config,
    /// The TLS connector of the pool, for the connections opened outside it (a
    /// listener's, see [`crate::wakeup`]).
    tls: Option<MakeRustlsConnect>,
}

/// A parsed `DATABASE_URL`: what tokio-postgres connects with and the TLS it asks for
/// (see [`crate::tls`]).
#[derive(Clone)]
struct Target {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

impl Target {
    fn parse(url: &str) -> Result<Target, StoreError> {
        let bad = |reason: String| StoreError::BadUrl {
            url: redact(url),
            reason,
        };
        let (rest, settings) = crate::tls::split_url(url).map_err(bad)?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| bad(e.to_string()))?;
        config.ssl_mode(match settings.mode {
            crate::tls::TlsMode::Disable => SslMode::Disable,
            crate::tls::TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Ok(Target {
            config,
            tls: crate::tls::connector(&settings)?,
        })
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Database {
    /// Connects to `url`, creating the database if it does not exist yet and running
    /// pending migrations, so that every binary starts against the schema it expects.
    pub async fn connect(url: &str) -> Result<Database, StoreError> {
        let target = Target::parse(url)?;
        ensure_database(&target).await?;
        migrate(&target).await?;
        pooled(target)
    }

    /// Connects to `url` as it is, creating and migrating nothing: for the read-only
    /// commands (`audit`, `report`, `brake status`, ...), so that a mistyped URL is an
    /// error naming the database instead of a new, empty, migrated one.
    pub async fn open_existing(url: &str) -> Result<Database, StoreError> {
        let target = Target::parse(url)?;
        let database = target.config.get_dbname().unwrap_or("postgres").to_owned();
        let not_ready = |reason: String| StoreError::NotReady {
            database: database.clone(),
            reason,
        };
        let client = match connect_with(&target).await {
            Err(StoreError::Postgres(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME) =>
            {
                return Err(not_ready("does not exist".into()));
            }
            other => other?,
        };
        let latest = embedded::migrations::runner()
            .get_migrations()
            .iter()
            .map(|m| m.version())
            .max()
            .unwrap_or_default();
        let applied: Option<i32> = match client.query_one(sql::APPLIED_SCHEMA_VERSION, &[]).await {
            Ok(row) => row.get(0),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                return Err(not_ready("holds no Tenure schema".into()));
            }
            Err(e) => return Err(e.into()),
        };
        match applied {
            Some(v) if v as i64 >= latest as i64 => pooled(target),
            Some(v) => Err(not_ready(format!(
                "is at schema version {v}, this build needs {latest}"
            ))),
            None => Err(not_ready("holds no Tenure schema".into())),
        }
    }

    /// Connects to `url` with every table in `schema` (created and migrated if new),
    /// so a replay can rebuild the projection beside the live one and be compared.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Database, StoreError> {
        if !is_replay_schema(schema) {
            return Err(StoreError::BadUrl {
                url: url.to_owned(),
                reason: format!(
                    "schema {schema:?} must be lowercase letters, digits and _, start with a letter, and not be public or pg_*"
                ),
            });
        }
        let mut target = Target::parse(url)?;
        ensure_database(&target).await?;
        // Built at run time: the schema is the caller's (checked above); DDL takes no parameters.
        connect_with(&target)
            .await?
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await?;
        target.config.options(format!("-c search_path={schema}"));
        migrate(&target).await?;
        pooled(target)
    }

    /// One plain connection to `url`, with the same TLS settings, to a database
    /// Tenure does not own (a connector's target system): nothing is created or
    /// migrated there.
    pub async fn connect_unmanaged(url: &str) -> Result<tokio_postgres::Client, StoreError> {
        connect_with(&Target::parse(url)?).await
    }

    /// A connection of its own (outside the pool) and the task that drives it, which
    /// hands every asynchronous message (a notification) to `on_message`; the task
    /// ends when the connection closes.
    pub(crate) async fn dedicated_connection(
        &self,
        on_message: impl FnMut(tokio_postgres::AsyncMessage) + Send + 'static,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), StoreError> {
        match &self.tls {
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                Ok((client, tokio::spawn(drive(connection, on_message))))
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                Ok((client, tokio::spawn(drive(connection, on_message))))
            }
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The name of the database this pool talks to.
    pub fn name(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Drops a database (used by tests and the demo to start from a clean slate).
    pub async fn drop_database(url: &str) -> Result<(), StoreError> {
        let target = Target::parse(url)?;
        let name = target.config.get_dbname().unwrap_or("postgres").to_owned();
        let admin = connect_admin(&target).await?;
        // Built at run time: the database is the URL's; DDL takes no parameters.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&name)
            ))
            .await?;
        Ok(())
    }
}

/// Whether `name` may be used as a schema of its own (a replay's): a plain lowercase
/// identifier, safe to put into SQL as is, and not `public` or a system schema.
pub fn is_replay_schema(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 50
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name != "public"
        && !name.starts_with("pg_")
        && name != "information_schema"
}

/// How long getting a connection may take before the caller is told PostgreSQL is
/// unavailable: a service answers within a bound instead of hanging while it is down.
pub const CONNECT_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// A pool of up to 16 connections for an already created and migrated database.
fn pooled(target: Target) -> Result<Database, StoreError> {
    let Target { mut config, tls } = target;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_BOUND);
    }
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls.clone() {
        Some(tls) => Manager::from_config(config.clone(), tls, manager_config),
        None => Manager::from_config(config.clone(), NoTls, manager_config),
    };
    let pool = Pool::builder(manager)
        .max_size(16)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_BOUND))
        .create_timeout(Some(CONNECT_BOUND))
        .recycle_timeout(Some(CONNECT_BOUND))
        .build()
        .map_err(|e| StoreError::PoolConfig(e.to_string()))?;
    Ok(Database { pool, config, tls })
}

/// `name` quoted as a PostgreSQL identifier, for DDL, which takes no parameters.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Polls `connection` until it closes, handing each asynchronous message on.
async fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    mut on_message: impl FnMut(tokio_postgres::AsyncMessage),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(message)) => on_message(message),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "PostgreSQL listener connection closed");
                return;
            }
            None => return,
        }
    }
}

async fn connect_with(target: &Target) -> Result<tokio_postgres::Client, StoreError> {
    let closed = |e: tokio_postgres::Error| {
        tracing::debug!(error = %e, "PostgreSQL connection closed");
    };
    let client = match &target.tls {
        Some(tls) => {
            let (client, connection) = target.config.connect(tls.clone()).await?;
            tokio::spawn(async move { connection.await.map_err(closed) });
            client
        }
        None => {
            let (client, connection) = target.config.connect(NoTls).await?;
            tokio::spawn(async move { connection.await.map_err(closed) });
            client
        }
    };
    Ok(client)
}

async fn connect_admin(target: &Target) -> Result<tokio_postgres::Client, StoreError> {
    let mut admin = target.clone();
    admin.config.dbname("postgres");
    connect_with(&admin).await
}

async fn ensure_database(target: &Target) -> Result<(), StoreError> {
    let name = target.config.get_dbname().unwrap_or("postgres").to_owned();
    let admin = connect_admin(target).await?;
    let exists = admin
        .query_opt(sql::DATABASE_EXISTS, &[&name])
        .await?
        .is_some();
    if !exists {
        // Built at run time: the database is the URL's; DDL takes no parameters.
        match admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await
        {
            Ok(()) => info!(database = %name, "created database"),
            // Another process created it between our check and our create.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn migrate(target: &Target) -> Result<(), StoreError> {
    let mut client = connect_with(target).await?;
    client
        .execute(sql::LOCK_MIGRATIONS, &[&MIGRATION_LOCK])
        .await?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    client
        .execute(sql::UNLOCK_MIGRATIONS, &[&MIGRATION_LOCK])
        .await?;
    let report = report?;
    for m in report.applied_migrations() {
        info!(migration = %m, "applied schema migration");
    }
    Ok(())
}
