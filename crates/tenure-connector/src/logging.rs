//! The one logging setup of every Tenure binary (`tenure` and the connectors): text
//! for a person at a terminal, JSON lines for a log collector, colour only where a
//! terminal shows it.

use std::io::IsTerminal;

/// How log lines are written (`TENURE_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, with the span's fields (for Loki, Elasticsearch, ...).
    Json,
}

impl LogFormat {
    /// The format `TENURE_LOG_FORMAT` asks for (`json` or `text`; text otherwise).
    pub fn from_env() -> LogFormat {
        match std::env::var("TENURE_LOG_FORMAT") {
            Ok(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Logs to standard error, filtered by the environment variable `filter_var`
/// (tracing's `EnvFilter` syntax) or else `default_filter`, in the format
/// `TENURE_LOG_FORMAT` names.
pub fn init(filter_var: &str, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(filter_var)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match LogFormat::from_env() {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
