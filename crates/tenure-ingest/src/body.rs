//! Reading a request body as one JSON object or as NDJSON (one object per line).

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldProblem};

fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/x-ndjson")
                || v.starts_with("application/jsonl")
                || v.starts_with("application/ndjson")
        })
        .unwrap_or(false)
}

/// Parses the body into items with their 1-based line numbers. Every unreadable line
/// is reported, not just the first, so a bulk load can be fixed in one go.
pub(crate) fn parse<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    max_items: usize,
) -> Result<Vec<(usize, T)>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::malformed(format!("body is not UTF-8: {e}"), vec![]))?;
    if !is_ndjson(headers) {
        return serde_json::from_str::<T>(text)
            .map(|item| vec![(1, item)])
            .map_err(|e| ApiError::malformed(format!("body is not a valid event: {e}"), vec![]));
    }
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if items.len() + problems.len() >= max_items {
            return Err(ApiError::malformed(
                format!("batch holds more than {max_items} events; split it"),
                vec![],
            ));
        }
        match serde_json::from_str::<T>(line) {
            Ok(item) => items.push((index + 1, item)),
            Err(e) => problems.push(FieldProblem::new(index + 1, "", e.to_string())),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::malformed(
            format!(
                "{} line(s) are not valid events; nothing was accepted",
                problems.len()
            ),
            problems,
        ));
    }
    if items.is_empty() {
        return Err(ApiError::malformed("the batch holds no events", vec![]));
    }
    Ok(items)
}
