//! Intake decisions: what Tenure accepts from outside. Every intake (HTTP JSON and
//! NDJSON, SCIM, the raw topics, connector outcomes) translates its input into
//! lifecycle events and asks [`admit`] whether they may enter the log; all of them
//! refuse the same things with the same problems.
//!
//! Some rules need to know current state: whether an owner is a person Tenure knows
//! who has not left, and whether a request was already rejected or cancelled. The
//! adapter reads that from the projection into a [`View`] ([`lookups`] says what to
//! read). The projection lags the log by the projector's batch, usually well under a
//! second: a fulfilment naming an owner whose joiner was accepted a moment earlier in
//! another request can be refused as "not known" and succeeds when resent. Within one
//! request the view is complete: a person hired, or a request closed, on an earlier
//! line counts.

pub mod hr;
pub mod itsm;
pub mod source;

use std::collections::{HashMap, HashSet};

use crate::ids::{CommandId, GrantId, IdentityId};
use chrono::{DateTime, Utc};

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids;
use crate::model::{
    Attributes, CommandStatus, CommandType, GrantOrigin, IdentityKind, RequestState,
};
use crate::policy::{Policy, UnknownRoles};
use crate::state::{IdentityState, IdentityStatus};

/// One refused field of one event, as every intake reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the event in its request (1 for a single event).
    pub line: usize,
    /// The field as intakes call it (`owner`, `request_id`, `display_name`, …).
    pub field: String,
    pub problem: String,
}

impl Problem {
    /// A problem with `field` on `line`.
    pub fn new(line: usize, field: &str, problem: impl Into<String>) -> Self {
        Problem {
            line,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

/// What the projection says of a person named as an owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Employed (or hired for a future date, or on leave): may own access.
    Present,
    /// Left: may not own new access.
    Left,
    /// A service account, API key or agent: owners are people.
    NonHuman,
}

/// The part of current state that intake rules read, passed in by the adapter.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// People by their HR id; absent means Tenure does not know them.
    pub people: HashMap<String, Standing>,
    /// Requests (source system, request id) already rejected or cancelled.
    pub closed_requests: HashMap<(String, String), RequestState>,
    /// Of the subjects looked up ([`Lookups::subjects`]), those Tenure knows: their
    /// joiner was accepted (a pre-hire with a future start counts).
    pub known_subjects: HashSet<IdentityId>,
}

/// What an adapter must look up to build the [`View`] for some events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookups {
    /// HR ids of the owners the events name (those hired in the same request aside).
    pub owners: Vec<String>,
    /// Requests (source system, request id) the events approve or fulfil.
    pub requests: Vec<(String, String)>,
    /// Identities that leavers, movers, conversions and leaves of absence are about:
    /// each must be known (or joined in the same request).
    pub subjects: Vec<IdentityId>,
}

/// The owner an event names, if it must be a known person who has not left.
fn named_owner(event: &LifecycleEvent) -> Option<&str> {
    match &event.payload {
        EventPayload::AccessGranted {
            owner,
            origin: GrantOrigin::Request { .. },
            ..
        } => Some(owner),
        EventPayload::AccessRequestChanged {
            state: RequestState::Approved,
            owner,
            ..
        } => owner.as_deref(),
        EventPayload::IdentityJoined { attributes, .. }
        | EventPayload::IdentityMoved { attributes, .. } => attributes.owner.as_deref(),
        _ => None,
    }
}

/// The request an event would approve or fulfil, as (source, request id).
fn advanced_request(event: &LifecycleEvent) -> Option<(&str, &str)> {
    match &event.payload {
        EventPayload::AccessGranted {
            origin: GrantOrigin::Request { request_id },
            ..
        }
        | EventPayload::AccessRequestChanged {
            state: RequestState::Approved,
            request_id,
            ..
        } => Some((event.source_system.as_str(), request_id.as_str())),
        _ => None,
    }
}

/// Whether an event is about an identity that must already be known: a leaver, a
/// mover or conversion, a leave of absence. A joiner creates its identity; everything
/// else names its subject by a grant, a command or a request of its own.
fn needs_known_subject(event: &LifecycleEvent) -> bool {
    matches!(
        event.payload,
        EventPayload::IdentityLeft { .. }
            | EventPayload::IdentityMoved { .. }
            | EventPayload::LeaveOfAbsenceStarted { .. }
            | EventPayload::LeaveOfAbsenceEnded
    )
}

/// The identities the request joins, on any of its lines.
fn joined_in(events: &[(usize, LifecycleEvent)]) -> HashSet<IdentityId> {
    events
        .iter()
        .filter(|(_, e)| matches!(e.payload, EventPayload::IdentityJoined { .. }))
        .map(|(_, e)| e.identity_id)
        .collect()
}

fn hired_in(events: &[(usize, LifecycleEvent)]) -> HashSet<&str> {
    events
        .iter()
        .filter_map(|(_, e)| match &e.payload {
            EventPayload::IdentityJoined {
                source_person_id, ..
            } => Some(source_person_id.as_str()),
            _ => None,
        })
        .collect()
}

/// What to read from the projection before [`admit`] can decide on `events`.
pub fn lookups(events: &[(usize, LifecycleEvent)]) -> Lookups {
    let hired = hired_in(events);
    let mut owners: Vec<String> = events
        .iter()
        .filter_map(|(_, e)| named_owner(e))
        .filter(|o| !hired.contains(o))
        .map(str::to_owned)
        .collect();
    owners.sort_unstable();
    owners.dedup();
    let mut requests: Vec<(String, String)> = events
        .iter()
        .filter_map(|(_, e)| advanced_request(e))
        .map(|(s, r)| (s.to_owned(), r.to_owned()))
        .collect();
    requests.sort_unstable();
    requests.dedup();
    // Not looked up when the same request joins them, on any line.
    let joined = joined_in(events);
    let mut subjects: Vec<IdentityId> = events
        .iter()
        .filter(|(_, e)| needs_known_subject(e) && !joined.contains(&e.identity_id))
        .map(|(_, e)| e.identity_id)
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    Lookups {
        owners,
        requests,
        subjects,
    }
}

/// Decides whether `events` (with their lines) may enter the log: every event must be
/// storable ([`crate::limits`]); every owner named must be a person Tenure knows who
/// has not left (or is hired in the same request); no request already rejected or
/// cancelled (in `view`, or on an earlier line) may be approved or fulfilled. With no
/// view (`None`: no projection to read, as in the latency bench) only the first rule
/// applies. All problems of all lines are returned together, sorted by line.
pub fn admit(
    events: Vec<(usize, LifecycleEvent)>,
    view: Option<&View>,
) -> Result<Vec<LifecycleEvent>, Vec<Problem>> {
    let mut problems: Vec<Problem> = events
        .iter()
        .flat_map(|(line, e)| {
            crate::limits::storage_problems(e)
                .into_iter()
                .map(|p| Problem::new(*line, p.field, p.problem))
        })
        .collect();
    if let Some(view) = view {
        problems.extend(owner_problems(&events, view));
        problems.extend(request_problems(&events, view));
        problems.extend(subject_problems(&events, view));
    }
    if problems.is_empty() {
        Ok(events.into_iter().map(|(_, e)| e).collect())
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

fn owner_problems(events: &[(usize, LifecycleEvent)], view: &View) -> Vec<Problem> {
    let hired = hired_in(events);
    events
        .iter()
        .filter_map(|(line, e)| named_owner(e).map(|o| (*line, o)))
        .filter(|(_, o)| !hired.contains(o))
        .filter_map(|(line, owner)| match view.people.get(owner) {
            None => Some(Problem::new(
                line,
                "owner",
                format!("{owner:?} is not an identity known to Tenure: send its joiner first"),
            )),
            Some(Standing::Left) => Some(Problem::new(
                line,
                "owner",
                format!("{owner:?} has left: name an active person as owner"),
            )),
            Some(Standing::NonHuman) => Some(Problem::new(
                line,
                "owner",
                format!("{owner:?} is a non-human identity: owners are people"),
            )),
            Some(Standing::Present) => None,
        })
        .collect()
}

/// A leaver, mover, conversion or leave for an identity Tenure has never seen join is
/// refused: accepting it would create an identity that "left" without ever joining (or
/// moved without access), and hide a mistyped employee id. Within one request order
/// does not matter: a joiner on any of its lines makes its identity known (the early
/// arrival of a joiner's later events in a bulk load); across requests the joiner
/// must come first.
fn subject_problems(events: &[(usize, LifecycleEvent)], view: &View) -> Vec<Problem> {
    let joined = joined_in(events);
    events
        .iter()
        .filter(|(_, e)| needs_known_subject(e))
        .filter(|(_, e)| {
            !joined.contains(&e.identity_id) && !view.known_subjects.contains(&e.identity_id)
        })
        .map(|(line, _)| {
            Problem::new(
                *line,
                "employee_id",
                "is not an identity Tenure knows (no joiner was accepted for it): send its \
                 joiner first, or check the id",
            )
        })
        .collect()
}

/// A person joining or moving to a role `policy` does not define would silently get no
/// birthright access: refused (naming `role`) unless the policy says
/// `[intake] unknown_roles = "accept"`. Non-human identities' roles only name what
/// they are (their access comes from requests), so they are not checked; nor is
/// anything against a policy that defines no roles at all (no birthright configured).
pub fn role_problems(events: &[(usize, LifecycleEvent)], policy: &Policy) -> Vec<Problem> {
    if policy.unknown_roles == UnknownRoles::Accept || policy.roles.is_empty() {
        return Vec::new();
    }
    events
        .iter()
        .filter_map(|(line, e)| match &e.payload {
            EventPayload::IdentityJoined { kind, role, .. } if !kind.is_non_human() => {
                Some((*line, role))
            }
            EventPayload::IdentityMoved { kind, role, .. }
                if !kind.is_some_and(IdentityKind::is_non_human) =>
            {
                Some((*line, role))
            }
            _ => None,
        })
        // No role at all is a person without birthright access, not an unknown role.
        .filter(|(_, role)| !role.is_empty() && !policy.roles.contains_key(role.as_str()))
        .map(|(line, role)| {
            Problem::new(
                line,
                "role",
                format!(
                    "{role:?} is not a role the policy defines ({}): fix the role or add it \
                     to the policy",
                    policy.roles.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })
        .collect()
}

fn request_problems(events: &[(usize, LifecycleEvent)], view: &View) -> Vec<Problem> {
    let mut closed = view.closed_requests.clone();
    let mut problems = Vec::new();
    for (line, event) in events {
        if let EventPayload::AccessRequestChanged {
            state: state @ (RequestState::Rejected | RequestState::Cancelled),
            request_id,
            ..
        } = &event.payload
        {
            closed.insert((event.source_system.clone(), request_id.clone()), *state);
            continue;
        }
        if let Some((source, request)) = advanced_request(event)
            && let Some(state) = closed.get(&(source.to_owned(), request.to_owned()))
        {
            problems.push(Problem::new(
                *line,
                "request_id",
                format!(
                    "request {request:?} was {}: it cannot be approved or fulfilled",
                    state.as_str()
                ),
            ));
        }
    }
    problems
}

/// A source system's fact about a person, in the envelope every intake gives it: the
/// event id from the source's own event id, the identity from the person's HR id.
pub fn person_fact(
    source_system: String,
    source_event_id: String,
    employee_id: &str,
    effective_time: DateTime<Utc>,
    recorded_time: DateTime<Utc>,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::event(&source_system, &source_event_id),
        identity_id: ids::identity(ids::PEOPLE, employee_id),
        effective_time,
        recorded_time,
        source_system,
        source_event_id,
        causation_id: None,
        payload,
    }
}

/// A person as an HR-driven provisioning tool (a SCIM client) states them now.
#[derive(Clone, Debug, PartialEq)]
pub struct StatedPerson {
    /// The HR id Tenure keys the person by.
    pub employee_id: String,
    pub active: bool,
    /// `None` when the tool did not say: an update keeps the current kind.
    pub kind: Option<IdentityKind>,
    /// `None` when the tool did not say: an update keeps the current role.
    pub role: Option<String>,
    pub attributes: Attributes,
}

/// The kind a provisioning tool's user type names: contractor in the words HR tools
/// use (contractor, contingent, contingent worker), an employee otherwise; `None` when
/// the tool did not say.
pub fn stated_kind(user_type: Option<&str>) -> Option<IdentityKind> {
    let t = user_type?.trim();
    if t.is_empty() {
        return None;
    }
    Some(
        match t.to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
            "contractor" | "contingent" | "contingent_worker" => IdentityKind::Contractor,
            _ => IdentityKind::Employee,
        },
    )
}

/// The role a provisioning tool states: its primary role value, or else the person's
/// title when the policy defines a role by that name (a title is not a role otherwise).
pub fn stated_role(
    primary_role: Option<&str>,
    title: Option<&str>,
    policy: &Policy,
) -> Option<String> {
    fn given(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    given(primary_role).map(str::to_owned).or_else(|| {
        given(title)
            .filter(|t| policy.roles.contains_key(*t))
            .map(str::to_owned)
    })
}

/// The joiner that records `person` for the first time (or again, for a rehire).
pub fn joiner_of(person: &StatedPerson) -> EventPayload {
    EventPayload::IdentityJoined {
        kind: person.kind.unwrap_or_default(),
        role: person.role.clone().unwrap_or_default(),
        attributes: person.attributes.clone(),
        source_person_id: person.employee_id.clone(),
    }
}

/// Why a provisioning tool's new person cannot be recorded; each says what to send
/// instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreateRefusal {
    /// The id belongs to a registered service account, API key or agent.
    #[error("{0:?} names a non-human identity; SCIM provisions people")]
    NonHuman(String),
    /// The person is already hired (employed, on leave or due to start).
    #[error("User {0:?} already exists")]
    AlreadyHired(String),
}

/// The leave reason of a person their provisioning source deleted: such a person is
/// gone for that source (it reads them as absent), though Tenure keeps their history.
pub const DELETED_AT_SOURCE: &str = "scim: user deleted";
/// The leave reason that records a person a provisioning source created inactive:
/// known, holding nothing, until the source activates them (a rehire).
pub const CREATED_INACTIVE: &str = "scim: user created inactive";

/// The events that record a person a provisioning tool creates, given what Tenure
/// holds under that id: `current` (a new state when nothing), and whether the id
/// belongs to a registered non-human identity. An active person joins (or rejoins);
/// a person without a role joins with none, so holds no birthright access; an
/// inactive one is recorded as joined without a role and left at once, so that
/// activating them later is a rehire that applies their role then.
pub fn person_created(
    current: &IdentityState,
    registered_non_human: bool,
    person: &StatedPerson,
) -> Result<Vec<EventPayload>, CreateRefusal> {
    if registered_non_human || current.kind.is_non_human() {
        return Err(CreateRefusal::NonHuman(person.employee_id.clone()));
    }
    if current.status.is_hired() {
        return Err(CreateRefusal::AlreadyHired(person.employee_id.clone()));
    }
    if person.active {
        return Ok(vec![joiner_of(person)]);
    }
    let mut without_role = person.clone();
    without_role.role = None;
    Ok(vec![
        joiner_of(&without_role),
        EventPayload::IdentityLeft {
            reason: CREATED_INACTIVE.into(),
        },
    ])
}

/// The leaver that records a provisioning tool deleting `current`; `None` when the
/// source already deleted them (a second delete finds nobody).
pub fn person_deleted(current: &IdentityState) -> Option<EventPayload> {
    (!is_deleted_at_source(current)).then(|| EventPayload::IdentityLeft {
        reason: DELETED_AT_SOURCE.into(),
    })
}

/// Whether the provisioning source deleted this person (and has not created them
/// again since): the source reads them as absent.
pub fn is_deleted_at_source(current: &IdentityState) -> bool {
    current.status == IdentityStatus::Left
        && current.left_reason.as_deref() == Some(DELETED_AT_SOURCE)
}

/// The lifecycle changes that turn `current` into the person as `wanted` states
/// them: active again after leaving is a rehire (a joiner keeping the role and kind
/// left out); a different role, kind, HR attribute or source record is a mover;
/// inactive is a leaver (if still employed or pre-hire), after a mover recording
/// the attributes changed with it (never a role change: that would grant what the
/// leave revokes at once). What the tool leaves out stays as it is.
pub fn person_change(current: &IdentityState, wanted: &StatedPerson) -> Vec<EventPayload> {
    let returning = matches!(
        current.status,
        IdentityStatus::Left | IdentityStatus::Unknown
    );
    if wanted.active && returning {
        let mut rejoining = wanted.clone();
        rejoining.role = wanted.role.clone().or_else(|| current.role.clone());
        rejoining.kind = wanted.kind.or(Some(current.kind));
        return vec![joiner_of(&rejoining)];
    }
    let mut changes: Vec<EventPayload> = person_moved(current, wanted).into_iter().collect();
    if !wanted.active && current.status.is_hired() {
        changes.push(EventPayload::IdentityLeft {
            reason: "scim: active set to false".into(),
        });
    }
    changes
}

/// The mover that records what `wanted` changes of `current`, if anything.
fn person_moved(current: &IdentityState, wanted: &StatedPerson) -> Option<EventPayload> {
    let (a, b) = (&wanted.attributes, &current.attributes);
    let role = match &wanted.role {
        Some(role) if wanted.active => role.clone(),
        _ => current.role.clone().unwrap_or_default(),
    };
    let kind = wanted.kind.unwrap_or(current.kind);
    let moved = current.role.as_deref().unwrap_or_default() != role
        || current.kind != kind
        || crate::model::CLEARABLE_ATTRIBUTES.iter().any(|name| {
            let (wanted, held) = (a.clearable(name), b.clearable(name));
            let cleared = a.cleared.iter().any(|c| c == name);
            (cleared && held.is_some_and(Option::is_some))
                || (!cleared && wanted.is_some_and(Option::is_some) && wanted != held)
        })
        || (a.source_record.is_some() && a.source_record != b.source_record);
    moved.then(|| EventPayload::IdentityMoved {
        role,
        attributes: wanted.attributes.clone(),
        kind: (current.kind != kind).then_some(kind),
    })
}

/// A connector's report on one command, however it arrived (HTTP, the outcomes
/// topic, a generated history).
#[derive(Clone, Debug, PartialEq)]
pub struct Acknowledgement {
    pub command_id: CommandId,
    /// Nil for a rotation, which has no grant.
    pub grant_id: GrantId,
    pub identity_id: IdentityId,
    pub command_type: CommandType,
    pub status: CommandStatus,
    pub connector: String,
    pub detail: String,
    /// Which report on the command this is: each retry's failure is a fact of its own.
    pub attempt: u32,
    /// When the connector finished; when Tenure received the report if not said.
    pub completed_at: Option<DateTime<Utc>>,
    /// The target system the connector says the command was for (`None`: not said);
    /// checked against the command issued.
    pub system: Option<String>,
}

/// The fact an acknowledgement records: a revocation done (or the access already
/// absent) is `AccessRevoked`; any failure is `CommandFailed`; any other command done
/// is `CommandCompleted`, which closes its tracking. The fact's id is derived from the
/// connector, the command, the status and the attempt, so a repeated report is the
/// same fact. Refused when it names no connector.
pub fn acknowledged(
    ack: Acknowledgement,
    line: usize,
    now: DateTime<Utc>,
) -> Result<LifecycleEvent, Vec<Problem>> {
    if ack.connector.trim().is_empty() {
        return Err(vec![Problem::new(
            line,
            "connector",
            "must name the connector",
        )]);
    }
    let source_system = format!("connector:{}", ack.connector);
    let source_event_id = format!("{}:{}:{}", ack.command_id, ack.status.as_str(), ack.attempt);
    let payload = match (ack.command_type, ack.status.is_success()) {
        (CommandType::Revoke, true) => EventPayload::AccessRevoked {
            grant_id: ack.grant_id,
            command_id: ack.command_id,
            status: ack.status,
            connector: ack.connector,
            detail: ack.detail,
        },
        (_, false) => EventPayload::CommandFailed {
            grant_id: ack.grant_id,
            command_id: ack.command_id,
            status: ack.status,
            command_type: ack.command_type,
            connector: ack.connector,
            detail: ack.detail,
        },
        (command_type, true) => EventPayload::CommandCompleted {
            grant_id: ack.grant_id,
            command_id: ack.command_id,
            command_type,
            status: ack.status,
            connector: ack.connector,
        },
    };
    Ok(LifecycleEvent {
        event_id: ids::event(&source_system, &source_event_id),
        identity_id: ack.identity_id,
        effective_time: ack.completed_at.unwrap_or(now),
        recorded_time: now,
        source_system,
        source_event_id,
        causation_id: Some(ack.command_id.into()),
        payload,
    })
}

/// What Tenure issued under a command id: the acknowledgement must say the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCommand {
    pub command_type: CommandType,
    pub identity_id: IdentityId,
    /// Nil for a rotation, which names no grant.
    pub grant_id: GrantId,
    /// The system whose connector was asked to carry it out.
    pub target_system: String,
}

/// Why a connector's acknowledgement was refused; nothing it reports is recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckRefusal {
    /// Tenure issued no command with this id: the report is forged, misdirected or for
    /// another installation. Check the command id the connector read.
    #[error("command {0} was never issued by Tenure")]
    NotIssued(CommandId),
    /// The command exists but the report describes another one: `field` differs.
    #[error("{field} is {reported}, but command {command_id} was issued with {issued}")]
    Mismatch {
        command_id: CommandId,
        field: &'static str,
        issued: String,
        reported: String,
    },
    /// The credential may acknowledge only for other systems.
    #[error(
        "command {command_id} targets {system:?}, which this credential may not acknowledge for"
    )]
    OtherSystem {
        command_id: CommandId,
        system: String,
    },
}

/// Checks a connector's report against the command Tenure issued (`issued`, or `None`
/// when no command has that id): same type, same identity, same grant. `systems` are
/// the target systems the reporting credential may acknowledge for (`None`: any).
pub fn verify_acknowledgement(
    ack: &Acknowledgement,
    issued: Option<&IssuedCommand>,
    systems: Option<&[String]>,
) -> Result<(), AckRefusal> {
    let issued = issued.ok_or(AckRefusal::NotIssued(ack.command_id))?;
    let mismatch = |field, issued: String, reported: String| AckRefusal::Mismatch {
        command_id: ack.command_id,
        field,
        issued,
        reported,
    };
    if let Some(systems) = systems
        && !systems.contains(&issued.target_system)
    {
        return Err(AckRefusal::OtherSystem {
            command_id: ack.command_id,
            system: issued.target_system.clone(),
        });
    }
    if let Some(system) = &ack.system
        && *system != issued.target_system
    {
        return Err(mismatch(
            "system",
            issued.target_system.clone(),
            system.clone(),
        ));
    }
    if issued.command_type != ack.command_type {
        return Err(mismatch(
            "command_type",
            issued.command_type.as_str().into(),
            ack.command_type.as_str().into(),
        ));
    }
    if issued.identity_id != ack.identity_id {
        return Err(mismatch(
            "identity_id",
            issued.identity_id.to_string(),
            ack.identity_id.to_string(),
        ));
    }
    if issued.grant_id != ack.grant_id {
        return Err(mismatch(
            "grant_id",
            issued.grant_id.to_string(),
            ack.grant_id.to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ids;
    use crate::model::{Attributes, Entitlement, RevocationCondition};

    fn at() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }

    fn envelope(source: &str, id: &str, person: &str, payload: EventPayload) -> LifecycleEvent {
        LifecycleEvent {
            event_id: ids::event(source, id),
            identity_id: ids::identity(ids::PEOPLE, person),
            effective_time: at(),
            recorded_time: at(),
            source_system: source.into(),
            source_event_id: id.into(),
            causation_id: None,
            payload,
        }
    }

    fn joiner(person: &str) -> LifecycleEvent {
        envelope(
            "hr",
            &format!("J-{person}"),
            person,
            EventPayload::IdentityJoined {
                kind: Default::default(),
                role: "engineer".into(),
                attributes: Attributes::default(),
                source_person_id: person.into(),
            },
        )
    }

    fn fulfilment(request: &str, holder: &str, owner: &str) -> LifecycleEvent {
        envelope(
            "itsm",
            &format!("F-{request}"),
            holder,
            EventPayload::AccessGranted {
                grant_id: ids::request_grant("itsm", request),
                entitlement: Entitlement::new("github", "acme", "admin"),
                owner: owner.into(),
                business_reason: "on-call".into(),
                revocation: RevocationCondition {
                    expires_at: Some(at() + chrono::Duration::days(7)),
                    ends_on_role_change: false,
                },
                origin: GrantOrigin::Request {
                    request_id: request.into(),
                },
            },
        )
    }

    fn rejection(request: &str, holder: &str) -> LifecycleEvent {
        envelope(
            "itsm",
            &format!("R-{request}"),
            holder,
            EventPayload::AccessRequestChanged {
                request_id: request.into(),
                state: RequestState::Rejected,
                entitlement: None,
                owner: None,
                detail: "not needed".into(),
            },
        )
    }

    fn given(people: &[(&str, Standing)]) -> View {
        View {
            people: people.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect(),
            closed_requests: HashMap::new(),
            known_subjects: people
                .iter()
                .map(|(p, _)| ids::identity(ids::PEOPLE, p))
                .collect(),
        }
    }

    fn fields(result: Result<Vec<LifecycleEvent>, Vec<Problem>>) -> Vec<(usize, String)> {
        result
            .expect_err("refused")
            .into_iter()
            .map(|p| (p.line, p.field))
            .collect()
    }

    fn ack(command_type: CommandType, status: CommandStatus, attempt: u32) -> Acknowledgement {
        Acknowledgement {
            command_id: ids::grant_command(ids::request_grant("itsm", "REQ-1")),
            grant_id: ids::request_grant("itsm", "REQ-1"),
            identity_id: ids::identity(ids::PEOPLE, "E1"),
            command_type,
            status,
            connector: "github".into(),
            detail: String::new(),
            attempt,
            completed_at: None,
            system: None,
        }
    }

    #[test]
    fn acknowledgements_become_revoked_failed_or_completed_facts() {
        let revoked = acknowledged(
            ack(CommandType::Revoke, CommandStatus::AlreadyAbsent, 0),
            1,
            at(),
        );
        assert!(matches!(
            revoked.unwrap().payload,
            EventPayload::AccessRevoked { .. }
        ));
        let failed = acknowledged(
            ack(CommandType::Suspend, CommandStatus::FailedRetryable, 0),
            1,
            at(),
        );
        assert!(matches!(
            failed.unwrap().payload,
            EventPayload::CommandFailed { .. }
        ));
        let done = acknowledged(ack(CommandType::Grant, CommandStatus::Done, 0), 1, at()).unwrap();
        assert!(matches!(
            done.payload,
            EventPayload::CommandCompleted { .. }
        ));
        assert_eq!(done.source_system, "connector:github");
        assert_eq!(done.effective_time, at());
    }

    #[test]
    fn a_repeated_report_is_the_same_fact_and_a_retry_a_new_one() {
        let first = acknowledged(
            ack(CommandType::Revoke, CommandStatus::FailedRetryable, 0),
            1,
            at(),
        );
        let again = acknowledged(
            ack(CommandType::Revoke, CommandStatus::FailedRetryable, 0),
            1,
            at(),
        );
        let retry = acknowledged(
            ack(CommandType::Revoke, CommandStatus::FailedRetryable, 1),
            1,
            at(),
        );
        assert_eq!(first.clone().unwrap().event_id, again.unwrap().event_id);
        assert_ne!(first.unwrap().event_id, retry.unwrap().event_id);
    }

    #[test]
    fn an_acknowledgement_without_a_connector_is_refused() {
        let mut nameless = ack(CommandType::Revoke, CommandStatus::Done, 0);
        nameless.connector = "  ".into();
        assert_eq!(
            fields(acknowledged(nameless, 3, at()).map(|e| vec![e])),
            vec![(3, "connector".into())]
        );
    }

    #[test]
    fn a_stated_person_is_a_leaver_a_rehire_keeping_the_role_a_mover_or_nothing() {
        let mut current = IdentityState::new(ids::identity(ids::PEOPLE, "E1"));
        current.status = IdentityStatus::Active;
        current.role = Some("engineer".into());
        let stated = |active: bool, role: Option<&str>| StatedPerson {
            employee_id: "E1".into(),
            active,
            kind: None,
            role: role.map(str::to_owned),
            attributes: Attributes::default(),
        };
        assert!(matches!(
            person_change(&current, &stated(false, None)).as_slice(),
            [EventPayload::IdentityLeft { .. }]
        ));
        assert_eq!(person_change(&current, &stated(true, None)), vec![]);
        assert!(matches!(
            person_change(&current, &stated(true, Some("sales"))).as_slice(),
            [EventPayload::IdentityMoved { role, .. }] if role == "sales"
        ));
        // Deactivated with a new role: the role is not applied, only the leave.
        assert!(matches!(
            person_change(&current, &stated(false, Some("sales"))).as_slice(),
            [EventPayload::IdentityLeft { .. }]
        ));
        // A cleared title is a mover that clears it; clearing what is unset is nothing.
        current.attributes.title = Some("Staff".into());
        let mut clearing = stated(true, None);
        clearing.attributes.cleared = vec!["title".into()];
        let cleared = person_change(&current, &clearing);
        assert!(matches!(
            cleared.as_slice(),
            [EventPayload::IdentityMoved { .. }]
        ));
        let after = cleared.iter().fold(current.clone(), |s, p| {
            crate::apply(s, &envelope("scim", "c1", "E1", p.clone()))
        });
        assert_eq!(after.attributes.title, None);
        assert_eq!(person_change(&after, &clearing), vec![]);
        current.status = IdentityStatus::Left;
        assert_eq!(person_change(&current, &stated(false, None)), vec![]);
        assert!(matches!(
            person_change(&current, &stated(true, None)).as_slice(),
            [EventPayload::IdentityJoined { role, .. }] if role == "engineer"
        ));
    }

    #[test]
    fn an_acknowledgement_is_accepted_only_for_the_command_tenure_issued() {
        let issued = IssuedCommand {
            command_type: CommandType::Revoke,
            identity_id: IdentityId::from_u128(1),
            grant_id: GrantId::from_u128(2),
            target_system: "github".into(),
        };
        let ack = Acknowledgement {
            command_id: CommandId::from_u128(3),
            grant_id: GrantId::from_u128(2),
            identity_id: IdentityId::from_u128(1),
            command_type: CommandType::Revoke,
            status: CommandStatus::Done,
            connector: "github".into(),
            detail: String::new(),
            attempt: 1,
            completed_at: None,
            system: None,
        };
        assert_eq!(verify_acknowledgement(&ack, Some(&issued), None), Ok(()));
        assert_eq!(
            verify_acknowledgement(&ack, None, None),
            Err(AckRefusal::NotIssued(ack.command_id))
        );
        let other_grant = Acknowledgement {
            grant_id: GrantId::from_u128(9),
            ..ack.clone()
        };
        assert!(matches!(
            verify_acknowledgement(&other_grant, Some(&issued), None),
            Err(AckRefusal::Mismatch {
                field: "grant_id",
                ..
            })
        ));
        let other_type = Acknowledgement {
            command_type: CommandType::Grant,
            ..ack.clone()
        };
        assert!(matches!(
            verify_acknowledgement(&other_type, Some(&issued), None),
            Err(AckRefusal::Mismatch {
                field: "command_type",
                ..
            })
        ));
        let other_identity = Acknowledgement {
            identity_id: IdentityId::from_u128(8),
            ..ack.clone()
        };
        assert!(matches!(
            verify_acknowledgement(&other_identity, Some(&issued), None),
            Err(AckRefusal::Mismatch {
                field: "identity_id",
                ..
            })
        ));
        let aws_only = ["aws".to_owned()];
        assert!(matches!(
            verify_acknowledgement(&ack, Some(&issued), Some(&aws_only)),
            Err(AckRefusal::OtherSystem { system, .. }) if system == "github"
        ));
        let said_aws = Acknowledgement {
            system: Some("aws".into()),
            ..ack.clone()
        };
        assert!(matches!(
            verify_acknowledgement(&said_aws, Some(&issued), None),
            Err(AckRefusal::Mismatch {
                field: "system",
                ..
            })
        ));
        let said_github = Acknowledgement {
            system: Some("github".into()),
            ..ack.clone()
        };
        assert_eq!(
            verify_acknowledgement(&said_github, Some(&issued), None),
            Ok(())
        );
        let github = ["github".to_owned()];
        assert_eq!(
            verify_acknowledgement(&ack, Some(&issued), Some(&github)),
            Ok(())
        );
    }

    #[test]
    fn a_stated_role_is_the_primary_role_else_a_title_the_policy_defines() {
        let policy = Policy::from_toml("[roles.engineer]\nowner = \"it\"\n").unwrap();
        assert_eq!(
            stated_role(Some("sales"), Some("engineer"), &policy).as_deref(),
            Some("sales")
        );
        assert_eq!(
            stated_role(Some("  "), Some("engineer"), &policy).as_deref(),
            Some("engineer")
        );
        assert_eq!(stated_role(None, Some("Staff"), &policy), None);
        assert_eq!(
            stated_kind(Some("Contingent Worker")),
            Some(IdentityKind::Contractor)
        );
        assert_eq!(stated_kind(Some("Intern")), Some(IdentityKind::Employee));
        assert_eq!(stated_kind(Some(" ")), None);
    }

    #[test]
    fn a_deleted_person_is_gone_for_the_source_until_created_again() {
        let id = ids::identity(ids::PEOPLE, "E1");
        let fold = |state: IdentityState, payload: EventPayload, n: &str| {
            crate::apply(state, &envelope("scim", n, "E1", payload))
        };
        let mut current = IdentityState::new(id);
        current.status = IdentityStatus::Active;
        // Deactivated first, then deleted: the deletion still marks the person gone.
        let deactivated = fold(
            current.clone(),
            EventPayload::IdentityLeft {
                reason: "scim: active set to false".into(),
            },
            "d1",
        );
        assert!(!is_deleted_at_source(&deactivated));
        let deleted = fold(deactivated, person_deleted(&current).unwrap(), "d2");
        assert!(is_deleted_at_source(&deleted));
        assert_eq!(person_deleted(&deleted), None);
        // Created again: a rehire, visible again.
        let stated = StatedPerson {
            employee_id: "E1".into(),
            active: true,
            kind: None,
            role: Some("engineer".into()),
            attributes: Attributes::default(),
        };
        let rehired = person_created(&deleted, false, &stated)
            .unwrap()
            .into_iter()
            .fold(deleted, |s, p| fold(s, p, "r1"));
        assert!(!is_deleted_at_source(&rehired));
        assert_eq!(rehired.status, IdentityStatus::Active);
    }

    #[test]
    fn a_created_person_joins_once_with_a_role_and_never_over_a_non_human_identity() {
        let new = IdentityState::new(ids::identity(ids::PEOPLE, "E1"));
        let stated = |active: bool, role: Option<&str>| StatedPerson {
            employee_id: "E1".into(),
            active,
            kind: None,
            role: role.map(str::to_owned),
            attributes: Attributes::default(),
        };
        assert!(matches!(
            person_created(&new, false, &stated(true, Some("engineer"))).as_deref(),
            Ok([EventPayload::IdentityJoined { role, .. }]) if role == "engineer"
        ));
        // Without a role: a person with no birthright access.
        assert!(matches!(
            person_created(&new, false, &stated(true, None)).as_deref(),
            Ok([EventPayload::IdentityJoined { role, .. }]) if role.is_empty()
        ));
        // Inactive: recorded, holding nothing, until activated.
        assert!(matches!(
            person_created(&new, false, &stated(false, Some("engineer"))).as_deref(),
            Ok([EventPayload::IdentityJoined { role, .. }, EventPayload::IdentityLeft { reason }])
                if role.is_empty() && reason == CREATED_INACTIVE
        ));
        assert_eq!(
            person_created(&new, true, &stated(true, Some("engineer"))),
            Err(CreateRefusal::NonHuman("E1".into()))
        );
        let mut hired = new.clone();
        hired.status = IdentityStatus::PreHire;
        assert_eq!(
            person_created(&hired, false, &stated(true, Some("engineer"))),
            Err(CreateRefusal::AlreadyHired("E1".into()))
        );
        // Someone who left is created again: a rehire.
        hired.status = IdentityStatus::Left;
        assert!(person_created(&hired, false, &stated(true, Some("sales"))).is_ok());
    }

    #[test]
    fn an_owner_who_is_present_is_admitted() {
        let view = given(&[("M1", Standing::Present)]);
        let admitted = admit(vec![(1, fulfilment("REQ-1", "E1", "M1"))], Some(&view));
        assert_eq!(admitted.unwrap().len(), 1);
    }

    #[test]
    fn unknown_left_and_non_human_owners_are_refused_on_their_lines() {
        let view = given(&[("GONE", Standing::Left), ("SVC", Standing::NonHuman)]);
        let events = vec![
            (1, fulfilment("REQ-1", "E1", "NOBODY")),
            (2, fulfilment("REQ-2", "E1", "GONE")),
            (3, fulfilment("REQ-3", "E1", "SVC")),
        ];
        assert_eq!(
            fields(admit(events, Some(&view))),
            vec![
                (1, "owner".into()),
                (2, "owner".into()),
                (3, "owner".into())
            ]
        );
    }

    #[test]
    fn an_owner_hired_earlier_in_the_same_request_counts_as_known() {
        let events = vec![(1, joiner("M9")), (2, fulfilment("REQ-1", "E1", "M9"))];
        assert!(lookups(&events).owners.is_empty());
        assert!(admit(events, Some(&View::default())).is_ok());
    }

    fn leaver(person: &str) -> LifecycleEvent {
        envelope(
            "hr",
            &format!("L-{person}"),
            person,
            EventPayload::IdentityLeft {
                reason: "resigned".into(),
            },
        )
    }

    #[test]
    fn a_leaver_for_an_identity_never_seen_is_refused_naming_employee_id() {
        let known = given(&[("E1", Standing::Present)]);
        let events = vec![(1, leaver("E1")), (2, leaver("E404"))];
        assert_eq!(lookups(&events).subjects, {
            let mut ids = vec![
                ids::identity(ids::PEOPLE, "E1"),
                ids::identity(ids::PEOPLE, "E404"),
            ];
            ids.sort_unstable();
            ids
        });
        assert_eq!(
            fields(admit(events, Some(&known))),
            vec![(2, "employee_id".into())]
        );
    }

    #[test]
    fn a_joiner_anywhere_in_the_same_request_makes_its_leaver_known() {
        let first_joined = vec![(1, joiner("E7")), (2, leaver("E7"))];
        assert!(lookups(&first_joined).subjects.is_empty());
        assert!(admit(first_joined, Some(&View::default())).is_ok());
        // A bulk load's lines slightly out of order: the leaver arrives early.
        let joined_after = vec![(1, leaver("E8")), (2, joiner("E8"))];
        assert!(lookups(&joined_after).subjects.is_empty());
        assert!(admit(joined_after, Some(&View::default())).is_ok());
        // Another person's joiner does not help.
        let other = vec![(1, leaver("E9")), (2, joiner("E10"))];
        assert_eq!(
            fields(admit(other, Some(&View::default()))),
            vec![(1, "employee_id".into())]
        );
    }

    #[test]
    fn a_request_rejected_before_or_earlier_in_the_request_cannot_be_fulfilled() {
        let mut view = given(&[("M1", Standing::Present)]);
        view.closed_requests
            .insert(("itsm".into(), "REQ-OLD".into()), RequestState::Cancelled);
        let events = vec![
            (1, fulfilment("REQ-OLD", "E1", "M1")),
            (2, rejection("REQ-NEW", "E1")),
            (3, fulfilment("REQ-NEW", "E1", "M1")),
        ];
        assert_eq!(
            lookups(&events).requests,
            vec![
                ("itsm".to_owned(), "REQ-NEW".to_owned()),
                ("itsm".to_owned(), "REQ-OLD".to_owned())
            ]
        );
        assert_eq!(
            fields(admit(events, Some(&view))),
            vec![(1, "request_id".into()), (3, "request_id".into())]
        );
    }

    #[test]
    fn unstorable_fields_are_refused_with_or_without_a_view() {
        let mut bad = joiner("E1");
        if let EventPayload::IdentityJoined { role, .. } = &mut bad.payload {
            *role = "eng\0ineer".into();
        }
        assert_eq!(
            fields(admit(vec![(4, bad.clone())], None)),
            vec![(4, "role".into())]
        );
        assert_eq!(
            fields(admit(vec![(4, bad)], Some(&View::default()))),
            vec![(4, "role".into())]
        );
    }
}
