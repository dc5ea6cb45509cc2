//! Batch statistics of this process's consumers (batches, records, time per batch),
//! kept in memory for `/metrics`: they describe this process, not the whole system.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the batch-duration histogram.
pub const DURATION_BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// One consumer group's committed batches since this process started.
#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    pub batches: u64,
    pub records: u64,
    pub seconds: f64,
    /// Batches at or under each bound of [`DURATION_BUCKETS`].
    pub duration_buckets: [u64; DURATION_BUCKETS.len()],
    pub largest_batch: u64,
}

static STATS: Mutex<BTreeMap<String, GroupStats>> = Mutex::new(BTreeMap::new());

/// Records one committed partition batch of `records` records that took `took`.
pub fn record_batch(group: &str, records: usize, took: Duration) {
    let mut stats = STATS.lock().unwrap_or_else(|p| p.into_inner());
    let entry = stats.entry(group.to_owned()).or_default();
    let seconds = took.as_secs_f64();
    entry.batches += 1;
    entry.records += records as u64;
    entry.seconds += seconds;
    entry.largest_batch = entry.largest_batch.max(records as u64);
    for (bound, count) in DURATION_BUCKETS
        .iter()
        .zip(entry.duration_buckets.iter_mut())
    {
        if seconds <= *bound {
            *count += 1;
        }
    }
}

/// A copy of every group's statistics.
pub fn snapshot() -> BTreeMap<String, GroupStats> {
    STATS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
