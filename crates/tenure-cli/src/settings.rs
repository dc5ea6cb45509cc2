//! The settings a subcommand takes, in small groups that each subcommand flattens in
//! as it needs them, so that its `--help` lists only its own options; and the whole
//! they add up to ([`Settings`]), with the defaults of the groups it does not take.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use tenure_kafka::topics::CommandTopics;

/// The PostgreSQL URL every command that reads or writes state uses by default.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tenure";

/// Where Tenure's state and log live, and the services' own settings: what the
/// commands read, assembled from the groups a subcommand takes.
#[derive(Clone, Debug)]
pub struct ConnectArgs {
    pub database_url: String,
    pub bootstrap: Option<String>,
    pub topic_replication_factor: i32,
    pub policy: Option<PathBuf>,
    pub credentials: Option<PathBuf>,
    pub admin_listen: Option<SocketAddr>,
    pub broker_kind: Option<tenure_kafka::BrokerKind>,
    pub ingest_timeout_secs: u64,
    pub command_topics: CommandTopics,
}

impl Default for ConnectArgs {
    fn default() -> Self {
        ConnectArgs {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            bootstrap: None,
            topic_replication_factor: 1,
            policy: None,
            credentials: None,
            admin_listen: None,
            broker_kind: None,
            ingest_timeout_secs: 5,
            command_topics: CommandTopics::Shared,
        }
    }
}

/// Everything a command runs with.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub connect: ConnectArgs,
    pub retry: RetryArgs,
    pub brake: BrakeArgs,
}

/// A group of options that adds its part to the [`Settings`].
pub trait Configure {
    /// Writes this group's values into `settings`.
    fn configure(&self, settings: &mut Settings);
}

/// The PostgreSQL database.
#[derive(Clone, Debug, Args)]
pub struct DatabaseArg {
    /// PostgreSQL URL. The services and `migrate` create and migrate the database if
    /// needed; read-only commands never do.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

impl Configure for DatabaseArg {
    fn configure(&self, s: &mut Settings) {
        s.connect.database_url.clone_from(&self.database_url);
    }
}

/// The Kafka-protocol broker.
#[derive(Clone, Debug, Args)]
pub struct BrokerArg {
    /// Kafka bootstrap servers (host:port,...). `run` and `demo` start an embedded
    /// tansu broker when this is not given.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap: Option<String>,
    /// The broker behind --bootstrap: `kafka` (no workarounds) or `tansu` (its
    /// workarounds on: see crates/tenure-kafka/src/flavour.rs). The embedded broker is tansu.
    #[arg(long, env = "TENURE_BROKER_KIND")]
    pub broker_kind: Option<tenure_kafka::BrokerKind>,
}

impl Configure for BrokerArg {
    fn configure(&self, s: &mut Settings) {
        s.connect.bootstrap.clone_from(&self.bootstrap);
        s.connect.broker_kind = self.broker_kind;
    }
}

/// The governance policy.
#[derive(Clone, Debug, Args)]
pub struct PolicyArg {
    /// Governance policy file (TOML: roles and their birthright access). Defaults to
    /// the built-in copy of deploy/policy.toml.
    #[arg(long, env = "TENURE_POLICY")]
    pub policy: Option<PathBuf>,
}

impl Configure for PolicyArg {
    fn configure(&self, s: &mut Settings) {
        s.connect.policy.clone_from(&self.policy);
    }
}

/// Who may call the HTTP API, and the open admin listener.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Credentials file (TOML `[[credential]]` entries: name, token or hmac_secret,
    /// scopes from hr / itsm / connector / reader / operator). Without it the API
    /// accepts unauthenticated requests.
    #[arg(long, env = "TENURE_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// Serve /metrics, /healthz and /readyz on this address too, without credentials,
    /// for a Prometheus on an internal network; /metrics then leaves the main listener.
    /// Without it /metrics is on the main listener behind the reader scope.
    #[arg(long, env = "TENURE_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
}

impl Configure for ServeArgs {
    fn configure(&self, s: &mut Settings) {
        s.connect.credentials.clone_from(&self.credentials);
        s.connect.admin_listen = self.admin_listen;
    }
}

/// How long ingest waits on the broker.
#[derive(Clone, Debug, Args)]
pub struct IngestTimeoutArg {
    /// Seconds ingest waits for the broker to acknowledge a request's events before
    /// answering 503 (the request may be resent).
    #[arg(long, env = "TENURE_INGEST_TIMEOUT_SECS", default_value_t = 5)]
    pub ingest_timeout_secs: u64,
}

impl Configure for IngestTimeoutArg {
    fn configure(&self, s: &mut Settings) {
        s.connect.ingest_timeout_secs = self.ingest_timeout_secs;
    }
}

/// Where connector commands go.
#[derive(Clone, Debug, Args)]
pub struct CommandTopicsArg {
    /// Where the reactor publishes connector commands: "shared" (every system on
    /// tenure.commands.v1) or "per-system" (tenure.commands.v1.<system>, answered on
    /// tenure.outcomes.v1.<system>, so Kafka ACLs can keep each connector to its own).
    #[arg(long, env = "TENURE_COMMAND_TOPICS", default_value = "shared")]
    pub command_topics: CommandTopics,
}

impl Configure for CommandTopicsArg {
    fn configure(&self, s: &mut Settings) {
        s.connect.command_topics = self.command_topics;
    }
}

/// How many replicas the topics Tenure creates get.
#[derive(Clone, Debug, Args)]
pub struct ReplicationArg {
    /// Replicas of each topic Tenure creates (`topics`, and the per-system command
    /// topics the relay creates): 1 suits a single broker such as the embedded one; a
    /// production Kafka cluster wants 3.
    #[arg(long, env = "TENURE_TOPIC_REPLICATION_FACTOR", default_value_t = 1)]
    pub topic_replication_factor: i32,
}

impl Configure for ReplicationArg {
    fn configure(&self, s: &mut Settings) {
        s.connect.topic_replication_factor = self.topic_replication_factor;
    }
}

/// When the reactor's safety brake holds revocations back.
#[derive(Clone, Debug, Args)]
pub struct BrakeArgs {
    /// Share of all active grants that may be revoked within the window before further
    /// revocations are held for an operator (`tenure brake release`).
    #[arg(long, env = "TENURE_BRAKE_SHARE", default_value_t = 0.2)]
    pub brake_share: f64,
    /// The brake's counting window, in seconds of trigger time.
    #[arg(long, env = "TENURE_BRAKE_WINDOW_SECS", default_value_t = 3600)]
    pub brake_window_secs: u64,
    /// Revocations always allowed per window, however small the organisation.
    #[arg(long, env = "TENURE_BRAKE_MINIMUM", default_value_t = 100)]
    pub brake_minimum: i64,
    /// Hold leavers' revocations too (by default they are never held).
    #[arg(long, env = "TENURE_BRAKE_HOLDS_LEAVERS")]
    pub brake_holds_leavers: bool,
}

impl Default for BrakeArgs {
    fn default() -> Self {
        BrakeArgs {
            brake_share: 0.2,
            brake_window_secs: 3600,
            brake_minimum: 100,
            brake_holds_leavers: false,
        }
    }
}

impl Configure for BrakeArgs {
    fn configure(&self, s: &mut Settings) {
        s.brake = self.clone();
    }
}

impl BrakeArgs {
    /// The reactor's brake policy.
    pub fn policy(&self) -> tenure_reactor::BrakePolicy {
        tenure_reactor::BrakePolicy {
            share: self.brake_share.clamp(0.0, 1.0),
            window: std::time::Duration::from_secs(self.brake_window_secs.max(1)),
            minimum: self.brake_minimum.max(0),
            hold_leavers: self.brake_holds_leavers,
        }
    }
}

/// How the reactor chases unacknowledged revocation commands.
#[derive(Clone, Debug, Args)]
pub struct RetryArgs {
    /// Seconds a connector has to acknowledge a revocation before it is published
    /// again with the same id (doubling each time, at most an hour).
    #[arg(long, env = "TENURE_ACK_TIMEOUT_SECS", default_value_t = 300)]
    pub ack_timeout_secs: u64,
    /// Publications of an unacknowledged revocation before it is escalated.
    #[arg(long, env = "TENURE_MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: u32,
}

impl Default for RetryArgs {
    fn default() -> Self {
        RetryArgs {
            ack_timeout_secs: 300,
            max_attempts: 5,
        }
    }
}

impl Configure for RetryArgs {
    fn configure(&self, s: &mut Settings) {
        s.retry = self.clone();
    }
}

impl RetryArgs {
    /// The reactor's retry policy.
    pub fn policy(&self) -> tenure_reactor::RetryPolicy {
        tenure_reactor::RetryPolicy {
            ack_timeout: std::time::Duration::from_secs(self.ack_timeout_secs.max(1)),
            max_attempts: self.max_attempts.max(1),
        }
    }
}

/// Declares a subcommand's options: the setting groups it takes (flattened into its
/// `--help`) and its own arguments, and how they add up to [`Settings`].
macro_rules! subcommand_options {
    ($(#[$doc:meta])* $name:ident { $($group:ident : $ty:ty),* $(,)? } $(own: $args:ty)?) => {
        $(#[$doc])*
        #[derive(Debug, clap::Args)]
        pub struct $name {
            $(
                #[command(flatten)]
                pub $group: $ty,
            )*
            $(
                #[command(flatten)]
                pub args: $args,
            )?
        }

        impl $crate::settings::Configure for $name {
            #[allow(unused_variables)]
            fn configure(&self, settings: &mut $crate::settings::Settings) {
                $( self.$group.configure(settings); )*
            }
        }
    };
}
pub(crate) use subcommand_options;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Probe {
        #[command(flatten)]
        retry: RetryArgs,
        #[command(flatten)]
        brake: BrakeArgs,
        #[command(flatten)]
        timeout: IngestTimeoutArg,
        #[command(flatten)]
        replication: ReplicationArg,
        #[command(flatten)]
        topics: CommandTopicsArg,
    }

    #[test]
    fn the_defaults_of_a_group_not_taken_are_the_group_s_own() {
        // Run without the environment, so only the declared defaults count.
        let parsed = Probe::try_parse_from(["probe"]).unwrap();
        let mut from_flags = Settings::default();
        for group in [
            &parsed.retry as &dyn Configure,
            &parsed.brake,
            &parsed.timeout,
            &parsed.replication,
            &parsed.topics,
        ] {
            group.configure(&mut from_flags);
        }
        let defaults = Settings::default();
        assert_eq!(
            format!("{:?}", (&from_flags.retry, &from_flags.brake)),
            format!("{:?}", (&defaults.retry, &defaults.brake))
        );
        assert_eq!(
            format!("{:?}", from_flags.connect),
            format!("{:?}", defaults.connect)
        );
    }
}
