//! librdkafka's own log lines, passed on without flooding: while a broker is down,
//! librdkafka reports every reconnect attempt; one line per kind of message per
//! half minute is enough for an operator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

/// How long the same kind of line stays quiet after it was logged.
const QUIET_FOR: Duration = Duration::from_secs(30);

/// A client context that rate-limits librdkafka's log and error callbacks.
#[derive(Default)]
pub struct QuietContext {
    last: Mutex<HashMap<String, (Instant, u64)>>,
    /// Set when librdkafka reports every broker connection down; the owner clears it
    /// when the broker answers again.
    pub all_brokers_down: Arc<AtomicBool>,
}

impl QuietContext {
    /// Whether a line of kind `key` may be logged now, and how many were suppressed.
    pub(crate) fn admit(&self, key: &str) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match last.get_mut(key) {
            Some((at, suppressed)) if now.duration_since(*at) < QUIET_FOR => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                let n = *suppressed;
                *at = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                last.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let Some(suppressed) = self.admit(fac) else {
            return;
        };
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", fac, suppressed, "{log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", fac, suppressed, "{log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, suppressed, "{log_message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", fac, suppressed, "{log_message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) {
            self.all_brokers_down.store(true, Ordering::SeqCst);
        }
        let key = format!("error:{:?}", error.rdkafka_error_code());
        if let Some(suppressed) = self.admit(&key) {
            tracing::warn!(target: "librdkafka", %error, suppressed, "{reason}");
        }
    }
}
