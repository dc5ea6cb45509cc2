//! The dashboard: one HTML page (no build step; it draws its own SVG charts) and the
//! daily series it charts, read from the projection at request time.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use tenure_store::Database;

use crate::api::QueryError;

/// The page, served as is.
pub const PAGE: &str = include_str!("../../../deploy/dashboard.html");

/// `GET /dashboard`.
pub(crate) async fn page() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}

/// The daily series over the last `days` days (1 to 3660) ending today.
pub async fn series(db: &Database, days: i64, now: DateTime<Utc>) -> Result<Value, QueryError> {
    let today = now
        .duration_trunc(Duration::days(1))
        .map_err(|e| QueryError::bad(format!("cannot truncate {now} to a day: {e}")))?;
    let first = today - Duration::days(days - 1);
    let buckets: Vec<DateTime<Utc>> = (0..days).map(|d| first + Duration::days(d)).collect();
    let index = |t: DateTime<Utc>| -> Option<usize> {
        let i = (t - first).num_days();
        (0..days).contains(&i).then_some(i as usize)
    };
    let client = db.client().await?;
    let n = buckets.len();

    let mut events = vec![0i64; n];
    for r in client
        .query(
            "SELECT date_trunc('day', recorded_time, 'UTC'), count(*) FROM projection_events
              WHERE recorded_time >= $1 AND source_system NOT IN ('tenure-reactor', 'tenure-scheduler')
              GROUP BY 1",
            &[&first],
        )
        .await?
    {
        if let Some(i) = index(r.get(0)) {
            events[i] = r.get(1);
        }
    }

    let mut by_cause: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT date_trunc('day', effective_time, 'UTC'), payload->>'cause', count(*)
               FROM projection_events
              WHERE event_type = 'revocation_issued' AND effective_time >= $1 GROUP BY 1, 2",
            &[&first],
        )
        .await?
    {
        if let Some(i) = index(r.get(0)) {
            let cause: Option<String> = r.get(1);
            by_cause
                .entry(cause.unwrap_or_else(|| "unknown".into()))
                .or_insert_with(|| vec![0; n])[i] = r.get(2);
        }
    }

    let ends: Vec<DateTime<Utc>> = buckets.iter().map(|b| *b + Duration::days(1)).collect();
    let active: Vec<i64> = client
        .query(
            "SELECT (SELECT count(*) FROM grant_history h
                      WHERE h.recorded_to IS NULL AND h.valid_from < e
                        AND (h.valid_to IS NULL OR h.valid_to >= e))
               FROM unnest($1::timestamptz[]) WITH ORDINALITY AS t(e, n) ORDER BY n",
            &[&ends],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();

    let mut ttr: Vec<Option<f64>> = vec![None; n];
    let medians: HashMap<usize, f64> = client
        .query(
            "SELECT date_trunc('day', acknowledged_at, 'UTC'),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)
               FROM revocation_times WHERE acknowledged_at >= $1 GROUP BY 1",
            &[&first],
        )
        .await?
        .iter()
        .filter_map(|r| Some((index(r.get(0))?, r.get(1))))
        .collect();
    for (i, m) in medians {
        ttr[i] = Some(m);
    }
    Ok(json!({
        "buckets": buckets,
        "events": events,
        "revocations_by_cause": by_cause,
        "active_grants": active,
        "time_to_revoke_median_s": ttr,
    }))
}

/// `GET /v1/dashboard/series?days=N` (default 30).
pub(crate) async fn series_handler(
    State(db): State<Database>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, QueryError> {
    let days = match params.get("days") {
        None => 30,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or_else(|| {
                QueryError::bad(format!("days: {d:?} is not a number from 1 to 3660"))
            })?,
    };
    Ok(Json(series(&db, days, Utc::now()).await?))
}
