//! What the connector did, counted, in Prometheus' text format: operators alert on
//! failures and on a connector that stopped acknowledging.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tenure_core::{CommandStatus, CommandType};

const TYPES: [CommandType; 5] = [
    CommandType::Revoke,
    CommandType::Grant,
    CommandType::Suspend,
    CommandType::Restore,
    CommandType::Rotate,
];
const STATUSES: [CommandStatus; 4] = [
    CommandStatus::Done,
    CommandStatus::AlreadyAbsent,
    CommandStatus::FailedRetryable,
    CommandStatus::FailedPermanent,
];

/// The connector's counters; cheap to clone and share with an HTTP handler.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    /// Acknowledged commands by type and status.
    outcomes: [[AtomicU64; 4]; 5],
    /// Deliveries of commands already finished (acknowledged again, not executed).
    duplicates: AtomicU64,
    /// Commands that ran past the time limit.
    timeouts: AtomicU64,
    /// Messages for other systems, skipped.
    skipped: AtomicU64,
    /// Messages that could not be read as commands, acknowledged nowhere and logged.
    undecodable: AtomicU64,
    /// Reconciliation passes that listed the target, and the access they found.
    reconciliations: AtomicU64,
    observed: AtomicU64,
    /// Reconciliation passes whose listing failed.
    reconciliation_failures: AtomicU64,
}

fn index<T: PartialEq>(all: &[T], item: &T) -> usize {
    all.iter().position(|x| x == item).unwrap_or(0)
}

impl Metrics {
    pub(crate) fn outcome(&self, command_type: CommandType, status: CommandStatus) {
        self.inner.outcomes[index(&TYPES, &command_type)][index(&STATUSES, &status)]
            .fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn duplicate(&self) {
        self.inner.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn timeout(&self) {
        self.inner.timeouts.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn skipped(&self) {
        self.inner.skipped.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn undecodable(&self) {
        self.inner.undecodable.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn reconciled(&self, held: usize) {
        self.inner.reconciliations.fetch_add(1, Ordering::Relaxed);
        self.inner
            .observed
            .fetch_add(held as u64, Ordering::Relaxed);
    }
    pub(crate) fn reconciliation_failed(&self) {
        self.inner
            .reconciliation_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Reconciliation passes that listed the target so far.
    pub fn reconciliations(&self) -> u64 {
        self.inner.reconciliations.load(Ordering::Relaxed)
    }

    /// Acknowledged commands of `command_type` with `status` so far.
    pub fn outcomes(&self, command_type: CommandType, status: CommandStatus) -> u64 {
        self.inner.outcomes[index(&TYPES, &command_type)][index(&STATUSES, &status)]
            .load(Ordering::Relaxed)
    }

    /// Redelivered commands answered from the ledger so far.
    pub fn duplicates(&self) -> u64 {
        self.inner.duplicates.load(Ordering::Relaxed)
    }

    /// The counters in Prometheus' text exposition format.
    pub fn render(&self, system: &str) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP tenure_connector_commands_total Commands acknowledged, by type and status.\n\
             # TYPE tenure_connector_commands_total counter\n",
        );
        for t in TYPES {
            for s in STATUSES {
                let _ = writeln!(
                    out,
                    "tenure_connector_commands_total{{system=\"{system}\",type=\"{}\",status=\"{}\"}} {}",
                    t.as_str(),
                    s.as_str(),
                    self.outcomes(t, s)
                );
            }
        }
        let c = &self.inner;
        for (name, help, value) in [
            (
                "duplicates",
                "Redelivered commands acknowledged again from the ledger.",
                &c.duplicates,
            ),
            (
                "timeouts",
                "Commands that ran past the time limit (reported retryable).",
                &c.timeouts,
            ),
            (
                "skipped",
                "Messages for other systems, skipped.",
                &c.skipped,
            ),
            (
                "undecodable",
                "Messages that could not be read as commands.",
                &c.undecodable,
            ),
            (
                "reconciliations",
                "Reconciliation passes that listed the target.",
                &c.reconciliations,
            ),
            (
                "observed_access",
                "Access found in the target by reconciliation passes.",
                &c.observed,
            ),
            (
                "reconciliation_failures",
                "Reconciliation passes whose listing failed.",
                &c.reconciliation_failures,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP tenure_connector_{name}_total {help}\n# TYPE tenure_connector_{name}_total counter\n\
                 tenure_connector_{name}_total{{system=\"{system}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }

    /// Serves `GET /metrics` on `listen` until `shutdown` turns true.
    pub async fn serve(
        self,
        listen: SocketAddr,
        system: String,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let body = self.render(&system);
                async move { body }
            }),
        );
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
    }
}
