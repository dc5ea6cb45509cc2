//! Given/when/then tests of the lifecycle rules.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::state::{GrantStatus, apply};

const PERSON: &str = "E100";

fn policy() -> Policy {
    Policy::from_toml(
        r#"
        [roles.engineer]
        owner = "head-of-engineering"
        birthright = ["github:acme:member", "slack:acme:member", "aws:dev:developer"]

        [roles.sales]
        owner = "head-of-sales"
        birthright = ["slack:acme:member", "salesforce:acme:user"]

        [leave_of_absence]
        suspend_systems = ["aws", "github"]

        [non_human]
        orphan_grace_days = 7
        "#,
    )
    .unwrap()
}

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap()
}

fn identity() -> IdentityId {
    ids::identity("hr", PERSON)
}

/// An HR or ITSM event, recorded at `recorded`, taking effect at `effective`.
fn event(
    id: &str,
    effective: DateTime<Utc>,
    recorded: DateTime<Utc>,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::event("workday", id),
        identity_id: identity(),
        effective_time: effective,
        recorded_time: recorded,
        source_system: "workday".into(),
        source_event_id: id.into(),
        causation_id: None,
        payload,
    }
}

fn joined(id: &str, role: &str, at: DateTime<Utc>) -> LifecycleEvent {
    event(
        id,
        at,
        at,
        EventPayload::IdentityJoined {
            kind: IdentityKind::Employee,
            role: role.into(),
            attributes: Attributes::default(),
            source_person_id: PERSON.into(),
        },
    )
}

fn moved(id: &str, role: &str, at: DateTime<Utc>, recorded: DateTime<Utc>) -> LifecycleEvent {
    event(
        id,
        at,
        recorded,
        EventPayload::IdentityMoved {
            role: role.into(),
            attributes: Attributes::default(),
            kind: None,
        },
    )
}

fn left(id: &str, at: DateTime<Utc>, recorded: DateTime<Utc>) -> LifecycleEvent {
    event(
        id,
        at,
        recorded,
        EventPayload::IdentityLeft {
            reason: "resignation".into(),
        },
    )
}

fn requested(
    request: &str,
    entitlement: &str,
    revocation: RevocationCondition,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    event(
        &format!("req-{request}"),
        at,
        at,
        EventPayload::AccessGranted {
            grant_id: ids::request_grant("servicenow", request),
            entitlement: entitlement.parse().unwrap(),
            owner: "E001".into(),
            business_reason: "incident response".into(),
            revocation,
            origin: GrantOrigin::Request {
                request_id: request.into(),
            },
        },
    )
}

fn deadline(kind: DeadlineKind, grant_id: Option<GrantId>, due: DateTime<Utc>) -> LifecycleEvent {
    let id = ids::deadline(kind, identity(), grant_id, due);
    LifecycleEvent {
        event_id: ids::deadline_event(id),
        identity_id: identity(),
        effective_time: due,
        recorded_time: due,
        source_system: "tenure-scheduler".into(),
        source_event_id: id.to_string(),
        causation_id: None,
        payload: EventPayload::DeadlineReached {
            kind,
            grant_id,
            due_time: due,
        },
    }
}

/// Given: these events happened and the reactor handled each (its facts are folded in,
/// as the live reactor does).
fn given(events: &[LifecycleEvent]) -> IdentityState {
    events
        .iter()
        .fold(IdentityState::new(identity()), |state, e| {
            crate::process::step(state, e, &policy()).state
        })
}

fn revocations(reaction: &Reaction) -> Vec<&RevocationCommand> {
    reaction
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Revoke(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn granted_entitlements(reaction: &Reaction) -> BTreeSet<String> {
    reaction
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Grant(g) => Some(g.entitlement.to_string()),
            _ => None,
        })
        .collect()
}

fn revoked_entitlements(reaction: &Reaction) -> BTreeSet<String> {
    revocations(reaction)
        .iter()
        .map(|r| r.entitlement.to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn joiner_gets_the_birthright_of_their_role_with_owner_reason_and_end_condition() {
    let state = given(&[]);
    let reaction = react(&state, &joined("j1", "engineer", t(1)), &policy());
    assert_eq!(
        granted_entitlements(&reaction),
        set(&[
            "github:acme:member",
            "slack:acme:member",
            "aws:dev:developer"
        ])
    );
    for fact in &reaction.facts {
        let EventPayload::AccessGranted {
            owner,
            business_reason,
            revocation,
            ..
        } = &fact.payload
        else {
            panic!("expected AccessGranted, got {:?}", fact.payload);
        };
        assert_eq!(owner, "head-of-engineering");
        assert!(business_reason.contains("engineer"));
        assert!(revocation.is_governed());
        assert_eq!(fact.causation_id, Some(ids::event("workday", "j1").into()));
    }
}

#[test]
fn leaver_revokes_every_active_grant_with_deterministic_command_ids() {
    let state = given(&[
        joined("j1", "engineer", t(1)),
        requested(
            "R1",
            "aws:prod:admin",
            RevocationCondition {
                expires_at: Some(t(20)),
                ends_on_role_change: false,
            },
            t(2),
        ),
    ]);
    let leaver = left("l1", t(5), t(5));
    let reaction = react(&state, &leaver, &policy());
    let commands = revocations(&reaction);
    assert_eq!(commands.len(), 4);
    for c in &commands {
        assert_eq!(c.cause, RevocationCause::Leaver);
        assert_eq!(c.trigger_event_id, leaver.event_id);
        assert_eq!(
            c.command_id,
            ids::revocation_command(c.grant_id, RevocationCause::Leaver, leaver.event_id)
        );
    }
    // Deciding again from the same inputs (a replay) yields the same commands.
    assert_eq!(react(&state, &leaver, &policy()), reaction);
}

#[test]
fn redelivered_leaver_issues_nothing_new() {
    let leaver = left("l1", t(5), t(5));
    let state = given(&[joined("j1", "engineer", t(1)), leaver.clone()]);
    assert!(
        state
            .grants
            .values()
            .all(|g| matches!(g.status, GrantStatus::RevocationPending { .. }))
    );
    assert_eq!(react(&state, &leaver, &policy()), Reaction::default());
}

#[test]
fn future_dated_leaver_waits_for_its_deadline() {
    let state = given(&[joined("j1", "engineer", t(1))]);
    let leaver = left("l1", t(20), t(5));
    assert!(revocations(&react(&state, &leaver, &policy())).is_empty());

    let state = given(&[joined("j1", "engineer", t(1)), leaver]);
    assert_eq!(state.status, IdentityStatus::Active);
    let deadlines = state.pending_deadlines();
    assert_eq!(deadlines.len(), 1);
    assert_eq!(deadlines[0].due_time, t(20));

    let reaction = react(
        &state,
        &deadline(DeadlineKind::LeaveEffective, None, t(20)),
        &policy(),
    );
    assert_eq!(revocations(&reaction).len(), 3);
}

#[test]
fn mover_loses_old_role_access_and_keeps_the_rest() {
    let state = given(&[
        joined("j1", "engineer", t(1)),
        requested(
            "R1",
            "aws:prod:admin",
            RevocationCondition {
                expires_at: None,
                ends_on_role_change: true,
            },
            t(2),
        ),
        requested(
            "R2",
            "jira:acme:user",
            RevocationCondition {
                expires_at: Some(t(28)),
                ends_on_role_change: false,
            },
            t(2),
        ),
    ]);
    let reaction = react(&state, &moved("m1", "sales", t(10), t(10)), &policy());
    // Old birthright the new role does not grant, and access marked to end on a move.
    assert_eq!(
        revoked_entitlements(&reaction),
        set(&["github:acme:member", "aws:dev:developer", "aws:prod:admin"])
    );
    assert!(
        revocations(&reaction)
            .iter()
            .all(|c| c.cause == RevocationCause::Mover)
    );
    // slack is shared by both roles and kept; jira was requested without a role condition.
    assert_eq!(
        granted_entitlements(&reaction),
        set(&["salesforce:acme:user"])
    );
}

#[test]
fn mover_within_the_same_role_changes_no_access() {
    let state = given(&[joined("j1", "engineer", t(1))]);
    assert_eq!(
        react(&state, &moved("m1", "engineer", t(3), t(3)), &policy()),
        Reaction::default()
    );
}

#[test]
fn late_mover_dated_before_an_applied_leaver_leaves_no_new_access_behind() {
    let state = given(&[joined("j1", "engineer", t(1)), left("l1", t(10), t(10))]);
    // The mover happened on day 8 but arrives on day 11, after the leave.
    let reaction = react(&state, &moved("m1", "sales", t(8), t(11)), &policy());
    assert_eq!(reaction, Reaction::default());
}

#[test]
fn expiry_deadline_revokes_only_the_expired_grant() {
    let grant_id = ids::request_grant("servicenow", "R1");
    let state = given(&[
        joined("j1", "engineer", t(1)),
        requested(
            "R1",
            "aws:prod:admin",
            RevocationCondition {
                expires_at: Some(t(9)),
                ends_on_role_change: false,
            },
            t(2),
        ),
    ]);
    let reaction = react(
        &state,
        &deadline(DeadlineKind::GrantExpiry, Some(grant_id), t(9)),
        &policy(),
    );
    let commands = revocations(&reaction);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].grant_id, grant_id);
    assert_eq!(commands[0].cause, RevocationCause::Expiry);
}

#[test]
fn rehire_never_resurrects_access_held_before_the_leave() {
    let before_leave = given(&[joined("j1", "engineer", t(1))]);
    let old_grants: BTreeSet<GrantId> = before_leave.grants.keys().copied().collect();
    let state = given(&[joined("j1", "engineer", t(1)), left("l1", t(5), t(5))]);
    let rehire = joined("j2", "engineer", t(15));
    let reaction = react(&state, &rehire, &policy());
    let new_grants: BTreeSet<GrantId> = reaction
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Grant(g) => Some(g.grant_id),
            Command::Revoke(r) => Some(r.grant_id),
            _ => None,
        })
        .collect();
    assert_eq!(new_grants.len(), 3);
    assert!(new_grants.is_disjoint(&old_grants));
    assert!(revocations(&reaction).is_empty());
}

#[test]
fn connector_confirmation_marks_the_grant_revoked() {
    let leaver = left("l1", t(5), t(5));
    let state = given(&[joined("j1", "engineer", t(1)), leaver.clone()]);
    let grant = state.grants.values().next().unwrap().clone();
    let GrantStatus::RevocationPending { command_id, .. } = grant.status else {
        panic!("grant should be pending revocation");
    };
    let ack = event(
        "ack1",
        t(5) + Duration::seconds(3),
        t(5) + Duration::seconds(3),
        EventPayload::AccessRevoked {
            grant_id: grant.grant_id,
            command_id,
            status: CommandStatus::Done,
            connector: "github".into(),
            detail: String::new(),
        },
    );
    let state = apply(state, &ack);
    assert!(matches!(
        state.grants[&grant.grant_id].status,
        GrantStatus::Revoked { .. }
    ));
}

#[test]
fn access_reported_after_the_leave_is_revoked_at_once() {
    let state = given(&[joined("j1", "engineer", t(1)), left("l1", t(5), t(5))]);
    // Fulfilled on day 4 (before the leave) but delivered on day 6.
    let mut late = requested(
        "R9",
        "aws:prod:admin",
        RevocationCondition {
            expires_at: None,
            ends_on_role_change: true,
        },
        t(4),
    );
    late.recorded_time = t(6);
    let reaction = react(&state, &late, &policy());
    let commands = revocations(&reaction);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].grant_id, ids::request_grant("servicenow", "R9"));
    assert_eq!(commands[0].cause, RevocationCause::Leaver);
}

#[test]
fn future_dated_joiner_gets_birthright_only_at_the_start_date() {
    let mut hire = joined("j1", "engineer", t(20));
    hire.recorded_time = t(5);
    let reaction = react(&given(&[]), &hire, &policy());
    assert_eq!(
        reaction,
        Reaction::default(),
        "no access before the start date"
    );
    let state = given(&[hire]);
    assert_eq!(state.status, IdentityStatus::PreHire);
    let deadlines = state.pending_deadlines();
    assert_eq!(deadlines.len(), 1);
    assert_eq!(
        (deadlines[0].kind, deadlines[0].due_time),
        (DeadlineKind::JoinEffective, t(20))
    );

    let start = deadline(DeadlineKind::JoinEffective, None, t(20));
    assert_eq!(
        granted_entitlements(&react(&state, &start, &policy())).len(),
        3
    );
    assert_eq!(apply(state, &start).status, IdentityStatus::Active);
}

#[test]
fn offer_withdrawn_before_the_start_leaves_nothing_to_revoke() {
    let mut hire = joined("j1", "engineer", t(20));
    hire.recorded_time = t(5);
    let state = given(&[hire, left("l1", t(6), t(6))]);
    assert_eq!(state.status, IdentityStatus::Left);
    assert!(state.pending_deadlines().is_empty());
    let start = deadline(DeadlineKind::JoinEffective, None, t(20));
    assert_eq!(react(&state, &start, &policy()), Reaction::default());
}

#[test]
fn leave_of_absence_keeps_the_identity_employed_and_a_leaver_on_leave_loses_everything() {
    let away = event(
        "loa1",
        t(3),
        t(3),
        EventPayload::LeaveOfAbsenceStarted {
            reason: "parental leave".into(),
        },
    );
    let state = given(&[joined("j1", "engineer", t(1)), away]);
    assert_eq!(state.status, IdentityStatus::OnLeave);
    assert_eq!(state.active_grants().count(), 3);
    assert_eq!(
        revocations(&react(&state, &left("l1", t(6), t(6)), &policy())).len(),
        3
    );

    let back = event("loa2", t(9), t(9), EventPayload::LeaveOfAbsenceEnded);
    assert_eq!(apply(state, &back).status, IdentityStatus::Active);
}

#[test]
fn withdrawn_pre_hire_loses_access_requested_before_the_start() {
    let mut hire = joined("j1", "engineer", t(20));
    hire.recorded_time = t(5);
    let early_access = requested(
        "R1",
        "jira:acme:user",
        RevocationCondition {
            expires_at: None,
            ends_on_role_change: true,
        },
        t(6),
    );
    let state = given(&[hire, early_access]);
    assert_eq!(state.status, IdentityStatus::PreHire);
    let reaction = react(&state, &left("l1", t(7), t(7)), &policy());
    assert_eq!(revoked_entitlements(&reaction), set(&["jira:acme:user"]));
}

#[test]
fn late_leave_of_an_earlier_employment_does_not_end_the_rehire() {
    let state = given(&[
        joined("j1", "engineer", t(1)),
        left("l1", t(5), t(5)),
        joined("j2", "engineer", t(10)),
    ]);
    // The first employment's leaver is redelivered (a new HR id) after the rehire.
    let stale = left("l1-resent", t(5), t(12));
    assert_eq!(react(&state, &stale, &policy()), Reaction::default());
    assert_eq!(apply(state, &stale).status, IdentityStatus::Active);
}

#[test]
fn mover_keeps_getting_an_entitlement_the_new_role_grants_when_a_request_for_it_ends() {
    let state = given(&[
        joined("j1", "engineer", t(1)),
        requested(
            "R1",
            "salesforce:acme:user",
            RevocationCondition {
                expires_at: None,
                ends_on_role_change: true,
            },
            t(2),
        ),
    ]);
    let reaction = react(&state, &moved("m1", "sales", t(10), t(10)), &policy());
    assert!(revoked_entitlements(&reaction).contains("salesforce:acme:user"));
    assert!(
        granted_entitlements(&reaction).contains("salesforce:acme:user"),
        "the new role's birthright is granted anew"
    );
}

#[test]
fn deadlines_match_at_database_precision() {
    // HR sends nanoseconds; the deadline comes back from PostgreSQL in microseconds.
    let precise = t(20) + Duration::nanoseconds(123_456_789);
    let state = given(&[joined("j1", "engineer", t(1)), left("l1", precise, t(5))]);
    let truncated = t(20) + Duration::microseconds(123_456);
    let reaction = react(
        &state,
        &deadline(DeadlineKind::LeaveEffective, None, truncated),
        &policy(),
    );
    assert_eq!(revocations(&reaction).len(), 3);
}

#[test]
fn future_dated_mover_keeps_the_old_role_until_the_date() {
    let state = given(&[joined("j1", "engineer", t(1))]);
    let mover = moved("m1", "sales", t(20), t(5));
    assert_eq!(
        react(&state, &mover, &policy()),
        Reaction::default(),
        "nothing changes before the date"
    );
    let state = given(&[joined("j1", "engineer", t(1)), mover]);
    assert_eq!(state.role.as_deref(), Some("engineer"));
    assert!(
        state
            .pending_deadlines()
            .iter()
            .any(|d| d.kind == DeadlineKind::MoveEffective && d.due_time == t(20))
    );

    let due = deadline(DeadlineKind::MoveEffective, None, t(20));
    let reaction = react(&state, &due, &policy());
    assert_eq!(
        revoked_entitlements(&reaction),
        set(&["github:acme:member", "aws:dev:developer"])
    );
    assert_eq!(
        granted_entitlements(&reaction),
        set(&["salesforce:acme:user"])
    );
    let after = apply(state, &due);
    assert_eq!(after.role.as_deref(), Some("sales"));
    assert!(after.move_scheduled.is_none());
}

fn absence(id: &str, at: DateTime<Utc>, starts: bool) -> LifecycleEvent {
    let payload = if starts {
        EventPayload::LeaveOfAbsenceStarted {
            reason: "parental leave".into(),
        }
    } else {
        EventPayload::LeaveOfAbsenceEnded
    };
    event(id, at, at, payload)
}

fn suspensions(reaction: &Reaction) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut suspended, mut restored) = (BTreeSet::new(), BTreeSet::new());
    for c in &reaction.commands {
        match c {
            Command::Suspend(s) => suspended.insert(s.entitlement.to_string()),
            Command::Restore(s) => restored.insert(s.entitlement.to_string()),
            _ => false,
        };
    }
    (suspended, restored)
}

#[test]
fn leave_of_absence_suspends_the_policy_systems_and_restores_them_on_return() {
    let state = given(&[joined("j1", "engineer", t(1))]);
    let start = absence("loa1", t(3), true);
    let reaction = react(&state, &start, &policy());
    let (suspended, restored) = suspensions(&reaction);
    assert_eq!(suspended, set(&["aws:dev:developer", "github:acme:member"]));
    assert!(restored.is_empty());
    assert!(
        revocations(&reaction).is_empty(),
        "a leave of absence revokes nothing"
    );

    let state = given(&[joined("j1", "engineer", t(1)), start.clone()]);
    assert_eq!(state.status, IdentityStatus::OnLeave);
    assert_eq!(state.grants.values().filter(|g| g.suspended).count(), 2);
    assert_eq!(
        state.active_grants().count(),
        3,
        "suspended grants are still held"
    );
    // A redelivered start of leave suspends nothing twice.
    assert!(react(&state, &start, &policy()).commands.is_empty());

    let back = absence("loa1-end", t(10), false);
    let reaction = react(&state, &back, &policy());
    let (suspended, restored) = suspensions(&reaction);
    assert!(suspended.is_empty());
    assert_eq!(restored, set(&["aws:dev:developer", "github:acme:member"]));
    let state = given(&[joined("j1", "engineer", t(1)), start, back]);
    assert_eq!(state.status, IdentityStatus::Active);
    assert!(state.grants.values().all(|g| !g.suspended));
}

#[test]
fn leaver_on_leave_of_absence_loses_suspended_grants_too_and_nothing_is_restored() {
    let state = given(&[
        joined("j1", "engineer", t(1)),
        absence("loa1", t(3), true),
        left("l1", t(5), t(5)),
    ]);
    assert_eq!(state.status, IdentityStatus::Left);
    assert!(
        state
            .grants
            .values()
            .all(|g| matches!(g.status, GrantStatus::RevocationPending { .. }))
    );
    let reaction = react(&state, &absence("loa1-end", t(10), false), &policy());
    assert!(reaction.commands.is_empty());
}

const ROBOT: &str = "svc-deploy";

fn robot() -> IdentityId {
    ids::identity("nhi", ROBOT)
}

fn for_robot(mut e: LifecycleEvent) -> LifecycleEvent {
    e.identity_id = robot();
    e
}

fn robot_registered(owner: &str, expires: Option<DateTime<Utc>>) -> LifecycleEvent {
    for_robot(event(
        "nhi-1",
        t(1),
        t(1),
        EventPayload::IdentityJoined {
            kind: IdentityKind::ServiceAccount,
            role: "deployer".into(),
            attributes: Attributes {
                owner: Some(owner.into()),
                credential_system: Some("vault".into()),
                credential_expires_at: expires,
                rotation_period_days: Some(10),
                ..Attributes::default()
            },
            source_person_id: ROBOT.into(),
        },
    ))
}

fn robot_grant() -> LifecycleEvent {
    for_robot(requested(
        "R9",
        "aws:prod:deploy",
        RevocationCondition {
            expires_at: None,
            ends_on_role_change: true,
        },
        t(1),
    ))
}

fn robot_deadline(kind: DeadlineKind, due: DateTime<Utc>) -> LifecycleEvent {
    let mut e = for_robot(deadline(kind, None, due));
    let id = ids::deadline(kind, robot(), None, due);
    e.event_id = ids::deadline_event(id);
    e.source_event_id = id.to_string();
    e
}

fn given_robot(events: &[LifecycleEvent]) -> IdentityState {
    events.iter().fold(IdentityState::new(robot()), |state, e| {
        crate::process::step(state, e, &policy()).state
    })
}

#[test]
fn leaver_announces_an_owner_departure_with_the_policy_grace_period() {
    let state = given(&[joined("j1", "engineer", t(1))]);
    let reaction = react(&state, &left("l1", t(5), t(5)), &policy());
    let departure = reaction
        .owner_departure
        .expect("a person's leave orphans what they own");
    assert_eq!(departure.owner, PERSON);
    assert_eq!(departure.grace_until, t(12));
    let notice = departure.notice_for(robot());
    assert_eq!(notice.identity_id, robot());
    assert_eq!(
        notice.causation_id,
        Some(ids::event("workday", "l1").into())
    );
    // The same leave always yields the same notice id.
    assert_eq!(notice.event_id, departure.notice_for(robot()).event_id);
}

#[test]
fn orphaned_non_human_identity_is_revoked_when_the_grace_period_ends() {
    let departure = react(
        &given(&[joined("j1", "engineer", t(1))]),
        &left("l1", t(5), t(5)),
        &policy(),
    )
    .owner_departure
    .unwrap();
    let history = [
        robot_registered(PERSON, None),
        robot_grant(),
        departure.notice_for(robot()),
    ];
    let state = given_robot(&history);
    assert_eq!(state.orphaned_until, Some(t(12)));
    assert!(
        state
            .pending_deadlines()
            .iter()
            .any(|d| d.kind == DeadlineKind::OrphanGrace && d.due_time == t(12))
    );
    let reaction = react(
        &state,
        &robot_deadline(DeadlineKind::OrphanGrace, t(12)),
        &policy(),
    );
    let commands = revocations(&reaction);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].cause, RevocationCause::OrphanedOwner);
    assert_eq!(commands[0].entitlement.to_string(), "aws:prod:deploy");
}

#[test]
fn naming_a_new_owner_within_the_grace_period_keeps_the_access() {
    let departure = react(
        &given(&[joined("j1", "engineer", t(1))]),
        &left("l1", t(5), t(5)),
        &policy(),
    )
    .owner_departure
    .unwrap();
    let adopted = for_robot(event(
        "nhi-owner",
        t(8),
        t(8),
        EventPayload::IdentityMoved {
            role: "deployer".into(),
            attributes: Attributes {
                owner: Some("E200".into()),
                ..Attributes::default()
            },
            kind: None,
        },
    ));
    let state = given_robot(&[
        robot_registered(PERSON, None),
        robot_grant(),
        departure.notice_for(robot()),
        adopted,
    ]);
    assert_eq!(state.orphaned_until, None);
    assert!(
        !state
            .pending_deadlines()
            .iter()
            .any(|d| d.kind == DeadlineKind::OrphanGrace)
    );
    let reaction = react(
        &state,
        &robot_deadline(DeadlineKind::OrphanGrace, t(12)),
        &policy(),
    );
    assert!(
        reaction.commands.is_empty(),
        "a stale grace deadline revokes nothing"
    );
}

#[test]
fn a_notice_about_someone_else_does_not_orphan_the_identity() {
    let state = given_robot(&[robot_registered("E999", None)]);
    let notice = react(
        &given(&[joined("j1", "engineer", t(1))]),
        &left("l1", t(5), t(5)),
        &policy(),
    )
    .owner_departure
    .unwrap()
    .notice_for(robot());
    assert_eq!(apply(state, &notice).orphaned_until, None);
}

#[test]
fn credential_past_its_rotation_period_gets_a_rotation_command_and_a_next_deadline() {
    let state = given_robot(&[robot_registered(PERSON, None)]);
    let due = t(1) + Duration::days(10);
    assert!(
        state
            .pending_deadlines()
            .iter()
            .any(|d| d.kind == DeadlineKind::CredentialRotation && d.due_time == due)
    );
    let tick = robot_deadline(DeadlineKind::CredentialRotation, due);
    let reaction = react(&state, &tick, &policy());
    let [Command::Rotate(rotation)] = reaction.commands.as_slice() else {
        panic!("expected one rotation command, got {:?}", reaction.commands);
    };
    assert_eq!(rotation.system, "vault");
    assert_eq!(rotation.account, ROBOT);
    assert_eq!(rotation.command_id, ids::rotation_command(robot(), due));
    let state = given_robot(&[robot_registered(PERSON, None), tick.clone()]);
    assert_eq!(state.rotation_due(), Some(due + Duration::days(10)));
    // The old deadline, fired twice, asks for nothing more.
    assert!(react(&state, &tick, &policy()).commands.is_empty());
}

#[test]
fn non_human_identity_past_its_expiry_loses_all_access() {
    let history = [robot_registered(PERSON, Some(t(20))), robot_grant()];
    let state = given_robot(&history);
    let reaction = react(
        &state,
        &robot_deadline(DeadlineKind::CredentialExpiry, t(20)),
        &policy(),
    );
    let commands = revocations(&reaction);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].cause, RevocationCause::Expiry);
    let state = given_robot(&[
        robot_registered(PERSON, Some(t(20))),
        robot_grant(),
        robot_deadline(DeadlineKind::CredentialExpiry, t(20)),
    ]);
    assert_eq!(state.status, IdentityStatus::Left);
    assert!(state.pending_deadlines().is_empty());
}

#[test]
fn a_grant_longer_than_its_class_allows_is_revoked_by_policy_at_the_limit() {
    let strict = Policy::from_toml(
        r#"
        [entitlement_classes.prod]
        entitlements = ["aws:prod:*"]
        max_days = 7
        "#,
    )
    .unwrap();
    let long = RevocationCondition {
        expires_at: Some(t(30)),
        ends_on_role_change: false,
    };
    let state = given(&[
        joined("j1", "engineer", t(1)),
        requested("R1", "aws:prod:admin", long.clone(), t(2)),
        requested("R2", "github:acme:admin", long, t(2)),
    ]);
    let limits: Vec<_> = state
        .deadlines_under(&strict)
        .into_iter()
        .filter(|d| d.kind == DeadlineKind::PolicyLimit)
        .collect();
    assert_eq!(
        limits.len(),
        1,
        "only the prod grant is over its class's limit"
    );
    assert_eq!(limits[0].due_time, t(9));
    let reaction = react(
        &state,
        &deadline(DeadlineKind::PolicyLimit, limits[0].grant_id, t(9)),
        &strict,
    );
    let commands = revocations(&reaction);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].cause, RevocationCause::Policy);
    assert_eq!(commands[0].entitlement.to_string(), "aws:prod:admin");
    // Under the default policy (no classes) there is no such deadline.
    assert!(
        state
            .deadlines_under(&policy())
            .iter()
            .all(|d| d.kind != DeadlineKind::PolicyLimit)
    );
}

#[test]
fn simulation_fires_deadlines_before_later_events_as_the_scheduler_would() {
    let strict = Policy::from_toml(
        "[entitlement_classes.prod]\nentitlements = [\"aws:prod:*\"]\nmax_days = 7\n",
    )
    .unwrap();
    let history = [
        joined("j1", "engineer", t(1)),
        requested(
            "R1",
            "aws:prod:admin",
            RevocationCondition {
                expires_at: Some(t(30)),
                ends_on_role_change: false,
            },
            t(2),
        ),
        left("l1", t(20), t(20)),
    ];
    let mut simulation = crate::simulate::Simulation::new(&strict);
    let decisions: Vec<_> = history.iter().flat_map(|e| simulation.feed(e)).collect();
    let causes: Vec<(RevocationCause, DateTime<Utc>)> = decisions
        .iter()
        .flat_map(|d| {
            revocations(&d.reaction)
                .into_iter()
                .map(|c| (c.cause, d.trigger.effective_time))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(causes, vec![(RevocationCause::Policy, t(9))]);
}

#[test]
fn a_leave_of_absence_announced_in_advance_suspends_and_restores_at_its_dates() {
    let start = event(
        "loa-future",
        t(10),
        t(3),
        EventPayload::LeaveOfAbsenceStarted {
            reason: "parental leave".into(),
        },
    );
    let back = event(
        "loa-future-end",
        t(20),
        t(4),
        EventPayload::LeaveOfAbsenceEnded,
    );
    let state = given(&[joined("j1", "engineer", t(1)), start.clone(), back.clone()]);
    assert_eq!(
        state.status,
        IdentityStatus::Active,
        "nothing happens before the date"
    );
    assert!(react(&state, &start, &policy()).commands.is_empty());
    let kinds: Vec<(DeadlineKind, DateTime<Utc>)> = state
        .pending_deadlines()
        .iter()
        .map(|d| (d.kind, d.due_time))
        .collect();
    assert!(
        kinds.contains(&(DeadlineKind::AbsenceStart, t(10))),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(DeadlineKind::AbsenceEnd, t(20))),
        "{kinds:?}"
    );
    let away = deadline(DeadlineKind::AbsenceStart, None, t(10));
    let (suspended, _) = suspensions(&react(&state, &away, &policy()));
    assert_eq!(suspended, set(&["aws:dev:developer", "github:acme:member"]));
    let state = given(&[joined("j1", "engineer", t(1)), start, back, away]);
    assert_eq!(state.status, IdentityStatus::OnLeave);
    let home = deadline(DeadlineKind::AbsenceEnd, None, t(20));
    let (_, restored) = suspensions(&react(&state, &home, &policy()));
    assert_eq!(restored, set(&["aws:dev:developer", "github:acme:member"]));
}

// The process step, given / when / then: what handling an event leaves behind.

/// Given these events (each handled by the process step, as the reactor does)...
struct Scenario {
    state: IdentityState,
}

fn given_history(events: &[LifecycleEvent]) -> Scenario {
    Scenario {
        state: given(events),
    }
}

impl Scenario {
    /// ...when this event arrives: the step's outcome, for the then-assertions.
    fn when(self, event: &LifecycleEvent) -> crate::process::Step {
        crate::process::step(self.state, event, &policy())
    }
}

/// The connector's confirmation that `command` was carried out at `at`.
fn confirmation(command: &RevocationCommand, at: DateTime<Utc>) -> LifecycleEvent {
    event(
        "ack",
        at,
        at,
        EventPayload::AccessRevoked {
            grant_id: command.grant_id,
            command_id: command.command_id,
            status: CommandStatus::Done,
            connector: "connector:github".into(),
            detail: String::new(),
        },
    )
}

fn first_revocation(events: &[LifecycleEvent]) -> RevocationCommand {
    let state = given(&events[..events.len() - 1]);
    let last = &events[events.len() - 1];
    revocations(&react(&state, last, &policy()))[0].clone()
}

#[test]
fn a_held_revocation_stays_pending_and_flagged_until_an_operator_releases_it() {
    let history = [joined("j1", "engineer", t(1)), left("l1", t(5), t(5))];
    let command = first_revocation(&history);
    let held = crate::process::brake::held_fact(&command, "too many at once", t(5));
    let then = given_history(&history).when(&held);
    let grant = &then.state.grants[&command.grant_id];
    assert!(grant.held_by_brake);
    assert!(
        matches!(grant.status, GrantStatus::RevocationPending { command_id, .. } if command_id == command.command_id)
    );
    assert!(then.reaction.commands.is_empty() && then.reaction.facts.is_empty());

    let released = crate::process::brake::released_fact(
        command.identity_id,
        command.grant_id,
        command.command_id,
        "ops@example.com",
        "confirmed with HR",
        t(6),
    );
    let then = Scenario { state: then.state }.when(&released);
    assert!(!then.state.grants[&command.grant_id].held_by_brake);
    assert!(then.reaction.commands.is_empty());
}

#[test]
fn a_hold_naming_another_command_flags_nothing() {
    let history = [joined("j1", "engineer", t(1)), left("l1", t(5), t(5))];
    let mut command = first_revocation(&history);
    command.command_id = CommandId::from_u128(99);
    let held = crate::process::brake::held_fact(&command, "too many at once", t(5));
    let then = given_history(&history).when(&held);
    assert!(!then.state.grants[&command.grant_id].held_by_brake);
}

#[test]
fn an_escalation_marks_a_pending_grant_but_not_a_revoked_one() {
    let history = [joined("j1", "engineer", t(1)), left("l1", t(5), t(5))];
    let command = first_revocation(&history);
    let escalated = crate::process::tracking::escalated_fact(
        command.identity_id,
        command.grant_id,
        command.command_id,
        "no acknowledgement after 5 publications".into(),
        t(6),
    );
    let then = given_history(&history).when(&escalated);
    assert!(then.state.grants[&command.grant_id].escalated);
    assert!(then.reaction.commands.is_empty());

    let mut confirmed = history.to_vec();
    confirmed.push(confirmation(&command, t(5)));
    let then = given_history(&confirmed).when(&escalated);
    assert!(!then.state.grants[&command.grant_id].escalated);
}

#[test]
fn a_republished_command_changes_nothing_but_the_log() {
    let history = [joined("j1", "engineer", t(1)), left("l1", t(5), t(5))];
    let command = first_revocation(&history);
    let before = given(&history);
    let republished = crate::process::tracking::republished_fact(
        command.identity_id,
        command.grant_id,
        command.command_id,
        2,
        t(6),
    );
    let then = given_history(&history).when(&republished);
    assert_eq!(then.state.grants, before.grants);
    assert!(then.reaction.commands.is_empty() && then.reaction.facts.is_empty());
}

#[test]
fn registering_a_live_robot_names_its_owner_for_the_orphan_check_and_a_person_names_none() {
    let then = Scenario {
        state: IdentityState::new(robot()),
    }
    .when(&robot_registered(PERSON, None));
    assert_eq!(then.names_owner.as_deref(), Some(PERSON));
    assert_eq!(crate::process::owner_to_notify(&then.state), Some(PERSON));

    let then = given_history(&[]).when(&joined("j1", "engineer", t(1)));
    assert_eq!(then.names_owner, None);
    assert_eq!(crate::process::owner_to_notify(&then.state), None);
}

#[test]
fn an_acknowledgement_for_a_grant_with_no_revocation_pending_revokes_nothing() {
    let state = given(&[joined("j1", "engineer", t(1))]);
    let grant = *state.grants.keys().next().expect("birthright access");
    let forged = event(
        "forged",
        t(2),
        t(2),
        EventPayload::AccessRevoked {
            grant_id: grant,
            command_id: CommandId::from_u128(42),
            status: CommandStatus::Done,
            connector: "connector:made-up".into(),
            detail: String::new(),
        },
    );
    let after = apply(state, &forged);
    assert!(after.grants[&grant].is_active());
    assert_eq!(after.unmatched_acknowledgements, 1);
}

#[test]
fn only_the_held_command_is_released_and_a_confirmed_revocation_is_no_longer_held() {
    let history = [joined("j1", "engineer", t(1)), left("l1", t(5), t(5))];
    let command = first_revocation(&history);
    let held = crate::process::brake::held_fact(&command, "too many at once", t(5));
    let state = given_history(&history).when(&held).state;
    let other = crate::process::brake::released_fact(
        command.identity_id,
        command.grant_id,
        CommandId::from_u128(77),
        "ops@example.com",
        "wrong command",
        t(6),
    );
    let state = Scenario { state }.when(&other).state;
    assert!(state.grants[&command.grant_id].held_by_brake);

    let confirmed = confirmation(&command, t(7));
    let state = Scenario { state }.when(&confirmed).state;
    let grant = &state.grants[&command.grant_id];
    assert!(matches!(grant.status, GrantStatus::Revoked { .. }) && !grant.held_by_brake);
}
