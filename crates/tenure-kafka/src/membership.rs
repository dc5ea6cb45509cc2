//! Which consumer groups of this process have joined their group, and how many
//! partitions each holds: what readiness (`/readyz`) and an operator need to tell a
//! consumer still waiting for its first assignment from one that works, or from a
//! spare replica that holds nothing because the others own every partition.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// One consumer group's standing in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupMembership {
    /// The group has answered with an assignment at least once (possibly empty).
    pub joined: bool,
    /// Partitions this process holds now.
    pub partitions: usize,
}

static GROUPS: Mutex<BTreeMap<String, GroupMembership>> = Mutex::new(BTreeMap::new());

fn update(group: &str, change: impl FnOnce(&mut GroupMembership)) {
    let mut groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
    change(groups.entry(group.to_owned()).or_default());
}

/// A consumer of `group` starts: not joined until its first assignment.
pub(crate) fn starting(group: &str) {
    update(group, |m| *m = GroupMembership::default());
}

/// The group assigned `partitions` partitions to this process.
pub(crate) fn assigned(group: &str, partitions: usize) {
    update(group, |m| {
        m.joined = true;
        m.partitions = partitions;
    });
}

/// The group took this process's partitions back (a rebalance is under way).
pub(crate) fn revoked(group: &str) {
    update(group, |m| m.partitions = 0);
}

/// The consumer of `group` stopped.
pub(crate) fn stopped(group: &str) {
    GROUPS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(group);
}

/// Every consumer group running in this process and its standing.
pub fn snapshot() -> BTreeMap<String, GroupMembership> {
    GROUPS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_joined_from_its_first_assignment_until_it_stops() {
        starting("g-test");
        assert_eq!(snapshot()["g-test"], GroupMembership::default());
        assigned("g-test", 0);
        assert_eq!(
            snapshot()["g-test"],
            GroupMembership {
                joined: true,
                partitions: 0
            }
        );
        assigned("g-test", 3);
        revoked("g-test");
        assert_eq!(snapshot()["g-test"].partitions, 0);
        assert!(snapshot()["g-test"].joined);
        stopped("g-test");
        assert!(!snapshot().contains_key("g-test"));
    }
}
