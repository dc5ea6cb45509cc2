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
use crate::sql;

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
    for (day, count) in daily_external_events(&client, first).await? {
        if let Some(i) = index(day) {
            events[i] = count;
        }
    }

    let mut by_cause: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (day, cause, count) in daily_revocations_by_cause(&client, first).await? {
        if let Some(i) = index(day) {
            by_cause
                .entry(cause.unwrap_or_else(|| "unknown".into()))
                .or_insert_with(|| vec![0; n])[i] = count;
        }
    }

    let ends: Vec<DateTime<Utc>> = buckets.iter().map(|b| *b + Duration::days(1)).collect();
    let active = active_grants_at(&client, &ends).await?;

    let mut ttr: Vec<Option<f64>> = vec![None; n];
    let medians: HashMap<usize, f64> = daily_median_time_to_revoke(&client, first)
        .await?
        .into_iter()
        .filter_map(|(day, median)| Some((index(day)?, median)))
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

// The reads behind the series (the repository): one typed function per statement of
// `sql/dashboard/`. Days are UTC midnights.

/// Events from outside Tenure recorded per day since `first`: (day, count).
async fn daily_external_events(
    client: &tokio_postgres::Client,
    first: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, i64)>, QueryError> {
    let rows = client.query(sql::DAILY_EXTERNAL_EVENTS, &[&first]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Revocations issued per day since `first` and cause: (day, cause if recorded, count).
async fn daily_revocations_by_cause(
    client: &tokio_postgres::Client,
    first: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, Option<String>, i64)>, QueryError> {
    let rows = client
        .query(sql::DAILY_REVOCATIONS_BY_CAUSE, &[&first])
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// How many grants were in force at each of `times`, as currently believed, in order.
async fn active_grants_at(
    client: &tokio_postgres::Client,
    times: &[DateTime<Utc>],
) -> Result<Vec<i64>, QueryError> {
    let rows = client.query(sql::ACTIVE_GRANTS_AT, &[&times]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The median seconds to revoke of revocations acknowledged per day since `first`:
/// (day, median).
async fn daily_median_time_to_revoke(
    client: &tokio_postgres::Client,
    first: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, f64)>, QueryError> {
    let rows = client
        .query(sql::DAILY_MEDIAN_TIME_TO_REVOKE, &[&first])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
