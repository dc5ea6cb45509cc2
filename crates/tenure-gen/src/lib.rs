//! A seeded synthetic history of lifecycle events, for tests that need volume and
//! variety: joiners, requested grants, movers, revocations with acknowledgements,
//! leavers, and redelivered duplicates.

pub mod org;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tenure_core::*;
use tenure_core::{CommandId, GrantId, IdentityId};
use uuid::Uuid;

/// A small, fast, seeded pseudo-random generator (xorshift64*), so runs repeat.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value but zero works; zero is replaced).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const ROLES: [&str; 3] = ["engineer", "sales", "finance"];
const SYSTEMS: [&str; 5] = ["aws", "github", "salesforce", "jira", "netsuite"];

fn event(
    source_event: String,
    identity: IdentityId,
    at: DateTime<Utc>,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::event("synthetic", &source_event),
        identity_id: identity,
        effective_time: at,
        recorded_time: at,
        source_system: "synthetic".into(),
        source_event_id: source_event,
        causation_id: None,
        payload,
    }
}

/// An ITSM-fulfilled grant of a random entitlement; returns its id and its event.
fn requested_grant(
    rng: &mut Rng,
    request: String,
    identity: IdentityId,
    at: DateTime<Utc>,
    owner: String,
    revocation: RevocationCondition,
) -> (GrantId, LifecycleEvent) {
    let grant_id = ids::request_grant("synthetic", &request);
    let entitlement = Entitlement::new(
        SYSTEMS[rng.below(5) as usize],
        &format!("res-{}", rng.below(50)),
        "user",
    );
    let granted = event(
        format!("{request}-granted"),
        identity,
        at,
        EventPayload::AccessGranted {
            grant_id,
            entitlement,
            owner,
            business_reason: "project work".into(),
            revocation,
            origin: GrantOrigin::Request {
                request_id: request,
            },
        },
    );
    (grant_id, granted)
}

/// About ten events per person for `people` people, interleaved across people, with
/// roughly one in fifty events delivered twice.
pub fn synthetic_history(people: usize, seed: u64) -> Vec<LifecycleEvent> {
    let mut rng = Rng::new(seed);
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut per_person: Vec<Vec<LifecycleEvent>> = Vec::with_capacity(people);
    for p in 0..people {
        let person = format!("P{p:06}");
        let identity = ids::identity("hr", &person);
        let mut at = base + Duration::minutes(p as i64);
        let mut tick = |rng: &mut Rng| {
            at += Duration::hours(1 + rng.below(500) as i64);
            at
        };
        let mut events = vec![event(
            format!("{person}-join"),
            identity,
            tick(&mut rng),
            EventPayload::IdentityJoined {
                kind: if rng.below(5) == 0 {
                    IdentityKind::Contractor
                } else {
                    IdentityKind::Employee
                },
                role: ROLES[rng.below(3) as usize].into(),
                attributes: Attributes {
                    display_name: Some(format!("Person {p}")),
                    department: Some(format!("dept-{}", rng.below(20))),
                    ..Default::default()
                },
                source_person_id: person.clone(),
            },
        )];
        let mut grants = Vec::new();
        for r in 0..(1 + rng.below(4)) {
            let request = format!("{person}-R{r}");
            let at = tick(&mut rng);
            let owner = format!("P{:06}", rng.below(people as u64));
            let revocation = RevocationCondition {
                expires_at: (rng.below(2) == 0)
                    .then(|| at + Duration::days(30 + rng.below(300) as i64)),
                ends_on_role_change: true,
            };
            let (grant_id, granted) =
                requested_grant(&mut rng, request, identity, at, owner, revocation);
            events.push(granted);
            grants.push(grant_id);
        }
        if rng.below(3) == 0 {
            events.push(event(
                format!("{person}-move"),
                identity,
                tick(&mut rng),
                EventPayload::IdentityMoved {
                    role: ROLES[rng.below(3) as usize].into(),
                    attributes: Attributes {
                        title: Some("senior".into()),
                        ..Default::default()
                    },
                    kind: None,
                },
            ));
        }
        let revoked: Vec<GrantId> = grants
            .iter()
            .copied()
            .filter(|_| rng.below(2) == 0)
            .collect();
        for grant_id in &revoked {
            let command_id =
                CommandId::from_uuid(Uuid::from_u64_pair(rng.next_u64(), rng.next_u64()));
            let cause = [RevocationCause::Mover, RevocationCause::Expiry][rng.below(2) as usize];
            events.push(event(
                format!("{grant_id}-issued"),
                identity,
                tick(&mut rng),
                EventPayload::RevocationIssued {
                    grant_id: *grant_id,
                    command_id,
                    cause,
                },
            ));
            if rng.below(4) != 0 {
                events.push(event(
                    format!("{grant_id}-revoked"),
                    identity,
                    tick(&mut rng),
                    EventPayload::AccessRevoked {
                        grant_id: *grant_id,
                        command_id,
                        status: CommandStatus::Done,
                        connector: "synthetic".into(),
                        detail: String::new(),
                    },
                ));
            } else {
                events.push(event(
                    format!("{grant_id}-failed"),
                    identity,
                    tick(&mut rng),
                    EventPayload::CommandFailed {
                        grant_id: *grant_id,
                        command_id,
                        status: CommandStatus::FailedRetryable,
                        command_type: CommandType::Revoke,
                        connector: "synthetic".into(),
                        detail: "timeout".into(),
                    },
                ));
            }
        }
        if rng.below(3) == 0 {
            events.push(event(
                format!("{person}-leave"),
                identity,
                tick(&mut rng),
                EventPayload::IdentityLeft {
                    reason: "resignation".into(),
                },
            ));
        }
        per_person.push(events);
    }
    interleave(per_person, &mut rng)
}

/// What HR and ITSM announce about `people` people, and nothing Tenure decides: joiners
/// into roles of the built-in policy, requested grants, movers, leaves of absence and
/// leavers (all effective when recorded), interleaved across people, with roughly one
/// in fifty events delivered twice. The reactor's input, for tests and benchmarks.
pub fn hr_history(people: usize, seed: u64, start: DateTime<Utc>) -> Vec<LifecycleEvent> {
    let mut rng = Rng::new(seed);
    let mut per_person: Vec<Vec<LifecycleEvent>> = Vec::with_capacity(people);
    for p in 0..people {
        let person = format!("H{p:06}");
        let identity = ids::identity("hr", &person);
        let mut at = start + Duration::seconds(p as i64);
        let mut tick = |rng: &mut Rng| {
            at += Duration::minutes(1 + rng.below(600) as i64);
            at
        };
        let mut events = vec![event(
            format!("{person}-join"),
            identity,
            tick(&mut rng),
            EventPayload::IdentityJoined {
                kind: IdentityKind::Employee,
                role: ROLES[rng.below(3) as usize].into(),
                attributes: Attributes::default(),
                source_person_id: person.clone(),
            },
        )];
        for r in 0..rng.below(3) {
            let request = format!("{person}-R{r}");
            let at = tick(&mut rng);
            let revocation = RevocationCondition {
                expires_at: Some(at + Duration::days(3650)),
                ends_on_role_change: rng.below(2) == 0,
            };
            events.push(
                requested_grant(&mut rng, request, identity, at, "E001".into(), revocation).1,
            );
        }
        if rng.below(2) == 0 {
            events.push(event(
                format!("{person}-move"),
                identity,
                tick(&mut rng),
                EventPayload::IdentityMoved {
                    role: ROLES[rng.below(3) as usize].into(),
                    attributes: Attributes::default(),
                    kind: None,
                },
            ));
        }
        if rng.below(6) == 0 {
            events.push(event(
                format!("{person}-loa"),
                identity,
                tick(&mut rng),
                EventPayload::LeaveOfAbsenceStarted {
                    reason: "sabbatical".into(),
                },
            ));
            events.push(event(
                format!("{person}-back"),
                identity,
                tick(&mut rng),
                EventPayload::LeaveOfAbsenceEnded,
            ));
        }
        if rng.below(3) == 0 {
            events.push(event(
                format!("{person}-leave"),
                identity,
                tick(&mut rng),
                EventPayload::IdentityLeft {
                    reason: "resignation".into(),
                },
            ));
        }
        per_person.push(events);
    }
    interleave(per_person, &mut rng)
}

/// Interleaves people's event sequences (each person's order kept), with redeliveries.
fn interleave(per_person: Vec<Vec<LifecycleEvent>>, rng: &mut Rng) -> Vec<LifecycleEvent> {
    let mut cursors = vec![0usize; per_person.len()];
    let mut out = Vec::new();
    let mut live: Vec<usize> = (0..per_person.len())
        .filter(|p| !per_person[*p].is_empty())
        .collect();
    while !live.is_empty() {
        let i = rng.below(live.len() as u64) as usize;
        let p = live[i];
        let e = per_person[p][cursors[p]].clone();
        if rng.below(50) == 0 {
            out.push(e.clone());
        }
        out.push(e);
        cursors[p] += 1;
        if cursors[p] == per_person[p].len() {
            live.swap_remove(i);
        }
    }
    out
}
