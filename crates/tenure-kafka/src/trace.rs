//! W3C trace context (`traceparent`, https://www.w3.org/TR/trace-context/) carried in
//! Kafka headers from the ingest request through the lifecycle log, the reactor and
//! the outbox to the connector command, so that one leaver is one trace: its trace id
//! is on the HTTP request's log line, on the event, on the reactor's decision and on
//! the command a connector receives (and can pass on to the target system).

/// The header (HTTP and Kafka alike) that carries the trace context.
pub const TRACEPARENT: &str = "traceparent";

/// One position in a trace: the trace it belongs to and the span that caused what
/// carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    sampled: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(16) {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}

impl TraceContext {
    /// Reads a `traceparent` value; `None` for anything that is not a valid version-00
    /// context (all-zero ids included), which the W3C says to ignore and restart.
    pub fn parse(header: &str) -> Option<TraceContext> {
        let mut parts = header.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00" || parts.next().is_some() {
            return None;
        }
        let trace_id: [u8; 16] = unhex(trace)?;
        let parent_id: [u8; 8] = unhex(parent)?;
        let [flags] = unhex::<1>(flags)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            parent_id,
            sampled: flags & 1 == 1,
        })
    }

    /// A new trace, for a request that arrives without one.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: random(),
            parent_id: random(),
            sampled: true,
        }
    }

    /// The context for work caused by this one: the same trace, a new span.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            parent_id: random(),
            ..*self
        }
    }

    /// The `traceparent` header value.
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            u8::from(self.sampled)
        )
    }

    /// The trace id, as logs and tracing backends show it (32 hex digits).
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// The context among message headers, if one is there and valid.
    pub fn of_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<TraceContext> {
        headers
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(TRACEPARENT))
            .and_then(|(_, value)| TraceContext::parse(value))
    }
}

impl TraceContext {
    /// This context as OpenTelemetry's remote parent, so that a span started for the
    /// work it caused (exported over OTLP when configured) joins the same trace.
    pub fn as_parent(&self) -> opentelemetry::Context {
        use opentelemetry::trace::{
            SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
        };
        let flags = if self.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let remote = SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.parent_id),
            flags,
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(remote)
    }

    /// The context of the current tracing span, when spans are exported (its own span
    /// id, so that what it causes hangs under it); `None` otherwise.
    pub fn of_current_span() -> Option<TraceContext> {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let context = tracing::Span::current().context();
        let span = context.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| TraceContext {
            trace_id: span_context.trace_id().to_bytes(),
            parent_id: span_context.span_id().to_bytes(),
            sampled: span_context.is_sampled(),
        })
    }

    /// Starts `span` under this context (a no-op when spans are not exported).
    pub fn adopt(&self, span: &tracing::Span) {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let _ = span.set_parent(self.as_parent());
    }
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// Runs `work` with `trace` as the current trace context (what [`current`] answers
/// within it): an HTTP request's handlers, for the events they publish.
pub async fn scope<F: std::future::Future>(trace: TraceContext, work: F) -> F::Output {
    CURRENT.scope(trace, work).await
}

/// The trace context of the work in hand, if it runs inside [`scope`].
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|t| *t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_round_trips_and_a_child_keeps_the_trace() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceContext::parse(header).unwrap();
        assert_eq!(parsed.header(), header);
        assert_eq!(parsed.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = parsed.child();
        assert_eq!(child.trace_id(), parsed.trace_id());
        assert_ne!(child.header(), parsed.header());
        let root = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&root.header()), Some(root));
    }

    #[test]
    fn invalid_contexts_are_ignored() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4BF92F3577B34DA6A3CE929D0E0E47ZZ-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_current_context_is_the_scope_s() {
        assert_eq!(current(), None);
        let trace = TraceContext::new_root();
        assert_eq!(scope(trace, async { current() }).await, Some(trace));
    }
}
