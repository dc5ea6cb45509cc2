//! The one logging and tracing setup of every Tenure binary (`tenure` and the
//! connectors): text for a person at a terminal, JSON lines for a log collector,
//! colour only where a terminal shows it, and, when an OTLP endpoint is configured
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), the spans
//! exported as OpenTelemetry traces over OTLP/HTTP.

use std::io::IsTerminal;
use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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

/// The tracer provider exporting spans, kept to flush them at exit.
static EXPORTER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether the environment names an OTLP endpoint to export traces to.
fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|e| !e.trim().is_empty()))
}

/// A provider exporting spans over OTLP/HTTP (protobuf) to the configured endpoint,
/// in batches; the service is `OTEL_SERVICE_NAME`, else `service`.
fn otlp_provider(service: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Logs to standard error, filtered by the environment variable `filter_var`
/// (tracing's `EnvFilter` syntax) or else `default_filter`, in the format
/// `TENURE_LOG_FORMAT` names; exports spans over OTLP as `service` when an endpoint
/// is configured.
pub fn init(filter_var: &str, default_filter: &str) {
    init_for(filter_var, default_filter, "tenure");
}

/// [`init`] for a binary with its own service name (a connector).
pub fn init_for(filter_var: &str, default_filter: &str, service: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(filter_var)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let lines: Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync> =
        match LogFormat::from_env() {
            LogFormat::Json => Box::new(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            ),
            LogFormat::Text => Box::new(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            ),
        };
    let mut problem = None;
    let traces = if otlp_configured() {
        match otlp_provider(service) {
            Ok(provider) => {
                let tracer = provider.tracer("tenure");
                let _ = EXPORTER.set(provider);
                Some(tracing_opentelemetry::layer().with_tracer(tracer))
            }
            Err(e) => {
                problem = Some(e);
                None
            }
        }
    } else {
        None
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(traces)
        .with(filter)
        .init();
    if let Some(e) = problem {
        tracing::warn!(error = %e, "traces are not exported: the OTLP exporter cannot be built");
    }
}

/// Exports the spans still buffered; call before the process exits.
pub fn flush() {
    if let Some(provider) = EXPORTER.get() {
        let _ = provider.force_flush();
        let _ = provider.shutdown();
    }
}
