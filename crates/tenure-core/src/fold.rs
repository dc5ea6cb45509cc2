//! Folding a whole log: the reference the projector's tables are checked against.

use std::collections::{BTreeMap, HashSet};

use crate::ids::{EventId, IdentityId};

use crate::event::LifecycleEvent;
use crate::state::{IdentityState, apply};

/// Folds events in log order into per-identity state, counting a duplicated event id
/// once (deploy/architecture.md), exactly as the projector must.
pub fn fold_log<'a>(
    events: impl IntoIterator<Item = &'a LifecycleEvent>,
) -> BTreeMap<IdentityId, IdentityState> {
    let mut seen: HashSet<EventId> = HashSet::new();
    let mut states: BTreeMap<IdentityId, IdentityState> = BTreeMap::new();
    for event in events {
        if !seen.insert(event.event_id) {
            continue;
        }
        let state = states
            .remove(&event.identity_id)
            .unwrap_or_else(|| IdentityState::new(event.identity_id));
        states.insert(event.identity_id, apply(state, event));
    }
    states
}
