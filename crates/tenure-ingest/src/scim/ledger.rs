//! Read-your-writes for SCIM. SCIM clients send a user's changes one after the other
//! and expect each to see the last (a PATCH right after a POST, a DELETE right after a
//! PATCH); the projection that SCIM reads lags the log by a batch. So this ingest
//! process remembers, per user, the state its own last accepted change produced and
//! where on the log that change landed, and uses it until the projector has passed
//! that position. Changes to one user are also serialised here, so two concurrent
//! requests for the same user are decided one after the other.
//!
//! The memory is this process's: run SCIM against one ingest instance (or route each
//! user to the same instance). Entries older than [`REMEMBER_FOR`] are dropped, so a
//! projector stopped for longer than that makes SCIM read the projection as it is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tenure_core::{IdentityId, IdentityState};
use tenure_kafka::publisher::Delivered;

/// How long a written state stands in for the projection at most.
pub const REMEMBER_FOR: Duration = Duration::from_secs(600);
const STRIPES: usize = 64;

/// A user's state as this process last wrote it, and where that write landed.
#[derive(Clone, Debug)]
pub struct Written {
    pub state: IdentityState,
    pub partition: i32,
    pub offset: i64,
    at: Instant,
}

/// The per-user write memory and locks of one ingest process.
pub struct ScimLedger {
    stripes: Vec<tokio::sync::Mutex<()>>,
    written: Mutex<Remembered>,
}

/// The written states, and the size at which old ones are next swept out: doubling
/// after each sweep, so a bulk load costs a sweep per doubling, not per write.
struct Remembered {
    by_user: HashMap<IdentityId, Written>,
    sweep_at: usize,
}

/// Entries kept before the first sweep.
const FIRST_SWEEP: usize = 10_000;

impl Default for ScimLedger {
    fn default() -> Self {
        ScimLedger {
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            written: Mutex::new(Remembered {
                by_user: HashMap::new(),
                sweep_at: FIRST_SWEEP,
            }),
        }
    }
}

impl ScimLedger {
    /// Serialises changes to `user` (and, rarely, to users sharing its stripe).
    pub async fn lock(&self, user: IdentityId) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (user.as_uuid().as_u128() % STRIPES as u128) as usize;
        self.stripes[stripe].lock().await
    }

    /// Remembers `state` as `user`'s state once the write at `delivered` is folded in.
    pub fn remember(&self, state: IdentityState, delivered: Delivered) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.by_user.len() >= written.sweep_at {
            written.by_user.retain(|_, w| w.at.elapsed() < REMEMBER_FOR);
            written.sweep_at = (written.by_user.len() * 2).max(FIRST_SWEEP);
        }
        written.by_user.insert(
            state.identity_id,
            Written {
                state,
                partition: delivered.partition,
                offset: delivered.offset,
                at: Instant::now(),
            },
        );
    }

    /// What this process last wrote for `user`, if recent.
    pub fn written(&self, user: IdentityId) -> Option<Written> {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written
            .by_user
            .get(&user)
            .filter(|w| w.at.elapsed() < REMEMBER_FOR)
            .cloned()
    }

    /// The users this process wrote recently, whom a query must consider even where
    /// the projection does not hold them yet.
    pub fn recent(&self) -> Vec<IdentityId> {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written
            .by_user
            .iter()
            .filter(|(_, w)| w.at.elapsed() < REMEMBER_FOR)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets `user`'s write once the projection holds it.
    pub fn forget(&self, user: IdentityId, offset: i64) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written
            .by_user
            .get(&user)
            .is_some_and(|w| w.offset == offset)
        {
            written.by_user.remove(&user);
        }
    }
}
