//! A realistic synthetic organisation and its years of history, for `tenure gen` and
//! the benchmarks: employees and contractors across departments and roles, long-serving
//! managers who own access and service accounts, joiners (some future-dated), movers,
//! conversions, leaves of absence, leavers (some future-dated, some reported late),
//! rehires, access requests that are approved and fulfilled, rejected or cancelled,
//! service accounts and API keys with owners, expiries and rotation periods, and the
//! connector acknowledgements (some failing first) of what Tenure decides.
//!
//! People are generated in cohorts, each one over the whole time span, so a history
//! of millions of events streams out without being held in memory.
//!
//! The pure core is run over each person's source events (with the scheduler's
//! deadlines fired as the scheduler would), so the generated log is exactly the log
//! Tenure would write, and the generated connector outcomes name the command ids
//! Tenure will issue.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tenure_core::*;
use tenure_core::{GrantId, IdentityId};

use tenure_core::simulate::{Decision, Simulation};

use crate::Rng;

/// The size and shape of the organisation.
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub people: usize,
    pub years: u32,
    pub seed: u64,
    /// The end of the history: nothing is recorded after it.
    pub now: DateTime<Utc>,
    /// People per cohort (each cohort's events are sorted by recorded time).
    pub cohort: usize,
}

impl OrgConfig {
    /// An organisation of `people` over `years` years ending at `now`.
    pub fn new(people: usize, years: u32, seed: u64, now: DateTime<Utc>) -> Self {
        OrgConfig {
            people,
            years: years.max(1),
            seed,
            now,
            cohort: 2_000,
        }
    }

    fn managers(&self) -> usize {
        (self.people / 20).max(1)
    }
}

/// Where a source record goes: the HTTP endpoint (and raw topic) of its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// `/v1/hr/events` and `tenure.hr.raw`.
    Hr,
    /// `/v1/itsm/events` and `tenure.itsm.raw`.
    Itsm,
    /// `/v1/connectors/outcomes`.
    Outcome,
}

/// One record as a source sends it, in the JSON shape of the HTTP API.
#[derive(Clone, Debug)]
pub struct SourceRecord {
    pub channel: Channel,
    pub recorded: DateTime<Utc>,
    pub json: Value,
}

const DEPARTMENTS: [&str; 8] = [
    "engineering",
    "sales",
    "finance",
    "support",
    "marketing",
    "legal",
    "operations",
    "people",
];
const ROLES: [&str; 3] = ["engineer", "sales", "finance"];
const CATALOGUE: [&str; 8] = [
    "github:acme/payments:write",
    "github:acme/platform:maintain",
    "aws:prod-account:admin",
    "aws:prod-account:read",
    "salesforce:acme:report-builder",
    "jira:ops:admin",
    "netsuite:acme:approver",
    "postgres:orders-db:read",
];
const SOURCE_HR: &str = "workday";
const SOURCE_ITSM: &str = "servicenow";

fn person_id(n: usize) -> String {
    format!("E{n:06}")
}

/// What one person's history is made of before Tenure sees it: source facts in the
/// order the sources record them.
struct Script {
    facts: Vec<(Channel, LifecycleEvent, Value)>,
}

impl Script {
    fn push(&mut self, channel: Channel, event: LifecycleEvent, json: Value) {
        self.facts.push((channel, event, json));
    }
}

fn source_event(
    source: &str,
    id: String,
    identity: IdentityId,
    effective: DateTime<Utc>,
    recorded: DateTime<Utc>,
    payload: EventPayload,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: ids::event(source, &id),
        identity_id: identity,
        effective_time: effective,
        recorded_time: recorded,
        source_system: source.to_owned(),
        source_event_id: id,
        causation_id: None,
        payload,
    }
}

/// The generator's walk through one person's employment(s).
struct PersonGen<'a> {
    cfg: &'a OrgConfig,
    rng: Rng,
    n: usize,
    person: String,
    identity: IdentityId,
    script: Script,
    hr_seq: usize,
}

impl PersonGen<'_> {
    fn hr(
        &mut self,
        kind: &str,
        effective: DateTime<Utc>,
        recorded: DateTime<Utc>,
        extra: Value,
        payload: EventPayload,
    ) {
        self.hr_seq += 1;
        let id = format!("{}-{}-{kind}", self.person, self.hr_seq);
        let mut json = json!({"source_system": SOURCE_HR, "event_id": id, "type": kind,
            "employee_id": self.person, "effective_time": effective.to_rfc3339()});
        if let (Some(o), Some(e)) = (json.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let event = source_event(SOURCE_HR, id, self.identity, effective, recorded, payload);
        self.script.push(Channel::Hr, event, json);
    }

    fn manager(&mut self) -> String {
        person_id(self.rng.below(self.cfg.managers() as u64) as usize)
    }

    /// Recorded when it takes effect, a little before (future-dated) or after (late).
    fn recorded_for(
        &mut self,
        effective: DateTime<Utc>,
        future_share: u64,
        late_share: u64,
    ) -> DateTime<Utc> {
        let roll = self.rng.below(100);
        let recorded = if roll < future_share {
            effective - Duration::days(3 + self.rng.below(25) as i64)
        } else if roll < future_share + late_share {
            effective + Duration::days(1 + self.rng.below(5) as i64)
        } else {
            effective
        };
        recorded.min(self.cfg.now)
    }

    fn join(
        &mut self,
        at: DateTime<Utc>,
        rehire: bool,
        kind: IdentityKind,
        role: &str,
        dept: &str,
    ) {
        let recorded = self.recorded_for(at, 15, 3);
        let manager = self.manager();
        let kind_name = kind.as_str();
        self.hr(
            if rehire { "rehire" } else { "joiner" },
            at,
            recorded,
            json!({"role": role, "kind": kind_name, "department": dept, "manager_id": manager,
                   "display_name": format!("Person {}", self.n), "title": role}),
            EventPayload::IdentityJoined {
                kind,
                role: role.to_owned(),
                attributes: Attributes {
                    display_name: Some(format!("Person {}", self.n)),
                    department: Some(dept.to_owned()),
                    title: Some(role.to_owned()),
                    manager_id: Some(manager),
                    ..Attributes::default()
                },
                source_person_id: self.person.clone(),
            },
        );
    }

    fn request(&mut self, at: DateTime<Utc>, r: usize) {
        let entitlement = CATALOGUE[self.rng.below(CATALOGUE.len() as u64) as usize];
        let admin = entitlement.ends_with(":admin");
        let request_id = format!("RITM-{}-{r}", self.person);
        let owner = self.manager();
        let days = if admin {
            7 + self.rng.below(23)
        } else {
            30 + self.rng.below(300)
        };
        let expires = at + Duration::days(days as i64);
        let role_change = !admin && self.rng.below(2) == 0;
        let outcome = self.rng.below(20);
        let step = |person: &mut Self,
                    kind: &str,
                    state: Option<RequestState>,
                    offset_hours: i64| {
            let when = (at + Duration::hours(offset_hours)).min(person.cfg.now);
            let id = format!("{request_id}-{kind}");
            let json = json!({"source_system": SOURCE_ITSM, "event_id": id, "type": kind,
                "request_id": request_id, "employee_id": person.person, "entitlement": entitlement,
                "owner": owner, "business_reason": "project work", "reason": "not justified",
                "effective_time": when.to_rfc3339(),
                "revocation": {"expires_at": expires.to_rfc3339(), "ends_on_role_change": role_change}});
            let entitlement: Entitlement = entitlement.parse().expect("catalogue entries parse");
            let payload = match state {
                Some(state) => EventPayload::AccessRequestChanged {
                    request_id: request_id.clone(),
                    state,
                    entitlement: Some(entitlement),
                    owner: matches!(state, RequestState::Requested | RequestState::Approved)
                        .then(|| owner.clone()),
                    detail: match state {
                        RequestState::Rejected | RequestState::Cancelled => "not justified".into(),
                        _ => "project work".into(),
                    },
                },
                None => EventPayload::AccessGranted {
                    grant_id: ids::request_grant(SOURCE_ITSM, &request_id),
                    entitlement,
                    owner: owner.clone(),
                    business_reason: "project work".into(),
                    revocation: RevocationCondition {
                        expires_at: Some(expires),
                        ends_on_role_change: role_change,
                    },
                    origin: GrantOrigin::Request {
                        request_id: request_id.clone(),
                    },
                },
            };
            let event = source_event(SOURCE_ITSM, id, person.identity, when, when, payload);
            person.script.push(Channel::Itsm, event, json);
        };
        step(self, "access_requested", Some(RequestState::Requested), 0);
        match outcome {
            0..=2 => step(self, "access_rejected", Some(RequestState::Rejected), 20),
            3 => step(self, "access_cancelled", Some(RequestState::Cancelled), 4),
            _ => {
                step(self, "access_approved", Some(RequestState::Approved), 6);
                step(self, "access_fulfilled", None, 30);
            }
        }
    }

    /// One person's employments over the span.
    fn employment(&mut self) {
        let span_days = 365 * self.cfg.years as i64;
        let start = self.cfg.now - Duration::days(span_days);
        let is_manager = self.n < self.cfg.managers();
        let mut at = if is_manager {
            start - Duration::days(30 + self.rng.below(300) as i64)
        } else {
            start + Duration::days(self.rng.below(span_days as u64 - span_days as u64 / 10) as i64)
        };
        let mut rehire = false;
        let mut requests = 0;
        loop {
            let contractor = !is_manager && self.rng.below(5) == 0;
            let kind = if contractor {
                IdentityKind::Contractor
            } else {
                IdentityKind::Employee
            };
            let mut role = ROLES[self.rng.below(3) as usize];
            let dept = DEPARTMENTS[self.rng.below(DEPARTMENTS.len() as u64) as usize];
            self.join(at, rehire, kind, role, dept);
            // Life in the job, month by month.
            let mut t = at;
            let mut on_leave_until: Option<DateTime<Utc>> = None;
            let left = loop {
                t += Duration::days(20 + self.rng.below(40) as i64);
                if t >= self.cfg.now {
                    break None;
                }
                if let Some(until) = on_leave_until {
                    if t >= until {
                        self.hr(
                            "leave_of_absence_end",
                            until,
                            until,
                            json!({}),
                            EventPayload::LeaveOfAbsenceEnded,
                        );
                        on_leave_until = None;
                    }
                    continue;
                }
                match self.rng.below(100) {
                    0..=3 if !is_manager => break Some(t),
                    4..=8 => {
                        let to = ROLES[self.rng.below(3) as usize];
                        let recorded = self.recorded_for(t, 10, 5);
                        self.hr(
                            "mover",
                            t,
                            recorded,
                            json!({"role": to, "title": to}),
                            EventPayload::IdentityMoved {
                                role: to.to_owned(),
                                kind: None,
                                attributes: Attributes {
                                    title: Some(to.to_owned()),
                                    ..Attributes::default()
                                },
                            },
                        );
                        role = to;
                    }
                    9 if contractor => {
                        self.hr(
                            "conversion",
                            t,
                            t,
                            json!({"role": role, "kind": "employee"}),
                            EventPayload::IdentityMoved {
                                role: role.to_owned(),
                                kind: Some(IdentityKind::Employee),
                                attributes: Attributes::default(),
                            },
                        );
                    }
                    10 => {
                        let until = t + Duration::days(30 + self.rng.below(150) as i64);
                        self.hr(
                            "leave_of_absence_start",
                            t,
                            t,
                            json!({"reason": "parental leave"}),
                            EventPayload::LeaveOfAbsenceStarted {
                                reason: "parental leave".into(),
                            },
                        );
                        on_leave_until = Some(until);
                    }
                    11..=22 => {
                        self.request(t, requests);
                        requests += 1;
                    }
                    _ => {}
                }
            };
            let Some(leave_at) = left else { return };
            if let Some(until) = on_leave_until {
                self.hr(
                    "leave_of_absence_end",
                    until.min(leave_at),
                    until.min(leave_at),
                    json!({}),
                    EventPayload::LeaveOfAbsenceEnded,
                );
            }
            let recorded = self.recorded_for(leave_at, 20, 5);
            self.hr(
                "leaver",
                leave_at,
                recorded,
                json!({"reason": "resignation"}),
                EventPayload::IdentityLeft {
                    reason: "resignation".into(),
                },
            );
            if self.rng.below(5) != 0 {
                return;
            }
            at = leave_at + Duration::days(100 + self.rng.below(300) as i64);
            if at >= self.cfg.now {
                return;
            }
            rehire = true;
        }
    }
}

/// A service account or API key owned by a manager, with expiry, rotation period and
/// one grant.
fn non_human(cfg: &OrgConfig, rng: &mut Rng, k: usize) -> Script {
    let account = format!("svc-{k:05}");
    let identity = ids::identity(ids::PEOPLE, &account);
    let owner = person_id(rng.below(cfg.managers() as u64) as usize);
    let start = cfg.now - Duration::days(rng.below(365 * cfg.years as u64) as i64);
    let expires = start + Duration::days(365 + rng.below(365) as i64);
    let kind = if rng.below(2) == 0 {
        IdentityKind::ServiceAccount
    } else {
        IdentityKind::ApiKey
    };
    let mut script = Script { facts: Vec::new() };
    let id = format!("{account}-register");
    let json = json!({"source_system": SOURCE_HR, "event_id": id, "type": "joiner", "employee_id": account,
        "kind": kind.as_str(), "role": "automation", "owner": owner, "credential_system": "vault",
        "expires_at": expires.to_rfc3339(), "rotation_period_days": 90, "effective_time": start.to_rfc3339()});
    let event = source_event(
        SOURCE_HR,
        id,
        identity,
        start,
        start,
        EventPayload::IdentityJoined {
            kind,
            role: "automation".into(),
            attributes: Attributes {
                owner: Some(owner.clone()),
                credential_system: Some("vault".into()),
                credential_expires_at: Some(expires),
                rotation_period_days: Some(90),
                ..Attributes::default()
            },
            source_person_id: account.clone(),
        },
    );
    script.push(Channel::Hr, event, json);
    let request_id = format!("RITM-{account}");
    let granted = start + Duration::hours(2);
    let id = format!("{request_id}-access_fulfilled");
    let json = json!({"source_system": SOURCE_ITSM, "event_id": id, "type": "access_fulfilled",
        "request_id": request_id, "employee_id": account, "entitlement": "postgres:orders-db:read",
        "owner": owner, "business_reason": "nightly export", "effective_time": granted.to_rfc3339(),
        "revocation": {"ends_on_role_change": true}});
    let event = source_event(
        SOURCE_ITSM,
        id,
        identity,
        granted,
        granted,
        EventPayload::AccessGranted {
            grant_id: ids::request_grant(SOURCE_ITSM, &request_id),
            entitlement: "postgres:orders-db:read".parse().expect("parses"),
            owner,
            business_reason: "nightly export".into(),
            revocation: RevocationCondition {
                expires_at: None,
                ends_on_role_change: true,
            },
            origin: GrantOrigin::Request { request_id },
        },
    );
    script.push(Channel::Itsm, event, json);
    script
}

/// What the generator writes: source records for the HTTP API and raw topics, or the
/// lifecycle log Tenure would have written from them.
pub enum Generated {
    Source(SourceRecord),
    Log(Box<LifecycleEvent>),
}

/// A source record waiting to be sorted into its cohort: channel, time, JSON.
type Timed = (Channel, DateTime<Utc>, Value);

/// The connector's answer to one command: mostly done, sometimes already absent,
/// sometimes a retryable failure before success.
fn acknowledge(
    rng: &mut Rng,
    command: &Command,
    at: DateTime<Utc>,
    out: &mut Vec<(DateTime<Utc>, LifecycleEvent, Value)>,
) {
    let (grant_id, command_type) = match command {
        Command::Revoke(c) => (c.grant_id, CommandType::Revoke),
        Command::Grant(c) => (c.grant_id, CommandType::Grant),
        Command::Suspend(c) => (c.grant_id, CommandType::Suspend),
        Command::Restore(c) => (c.grant_id, CommandType::Restore),
        Command::Rotate(_) => (GrantId::NIL, CommandType::Rotate),
    };
    let connector = command.target_system().to_owned();
    let mut attempts = vec![];
    let roll = rng.below(20);
    if roll == 0 {
        attempts.push(CommandStatus::FailedRetryable);
    }
    attempts.push(if roll == 1 && command_type == CommandType::Revoke {
        CommandStatus::AlreadyAbsent
    } else {
        CommandStatus::Done
    });
    for (attempt, status) in attempts.into_iter().enumerate() {
        let when = at + Duration::minutes(5 + 30 * attempt as i64);
        let json = json!({"command_id": command.command_id(), "grant_id": grant_id,
            "identity_id": identity_of(command), "command_type": command_type, "status": status,
            "connector": connector, "attempt": attempt, "completed_at": when.to_rfc3339(),
            "detail": if status.is_success() { "" } else { "timeout talking to the target" }});
        // The same rule ingest applies to the JSON above.
        let ack = tenure_core::intake::Acknowledgement {
            command_id: command.command_id(),
            grant_id,
            identity_id: identity_of(command),
            command_type,
            status,
            connector: connector.clone(),
            detail: if status.is_success() {
                String::new()
            } else {
                "timeout talking to the target".into()
            },
            attempt: attempt as u32,
            completed_at: Some(when),
            system: None,
        };
        let Ok(event) = tenure_core::intake::acknowledged(ack, 1, when) else {
            continue;
        };
        out.push((when, event, json));
    }
}

fn identity_of(command: &Command) -> IdentityId {
    match command {
        Command::Revoke(c) => c.identity_id,
        Command::Grant(c) => c.identity_id,
        Command::Suspend(c) | Command::Restore(c) => c.identity_id,
        Command::Rotate(c) => c.identity_id,
    }
}

/// Runs the pure core over one identity's source facts, firing deadlines as the
/// scheduler would; returns every log event and every outcome record, with times.
fn simulate(
    script: Script,
    policy: &Policy,
    rng: &mut Rng,
    now: DateTime<Utc>,
) -> (Vec<LifecycleEvent>, Vec<Timed>) {
    let mut facts = script.facts;
    facts.sort_by_key(|(_, e, _)| e.recorded_time);
    let mut log = Vec::new();
    let mut sources = Vec::new();
    let mut outcomes: Vec<(DateTime<Utc>, LifecycleEvent, Value)> = Vec::new();
    let mut simulation = Simulation::new(policy);
    let record = |decisions: Vec<Decision>,
                  log: &mut Vec<LifecycleEvent>,
                  outcomes: &mut Vec<_>,
                  rng: &mut Rng| {
        for d in decisions {
            let at = d.trigger.recorded_time.max(d.trigger.effective_time);
            log.push(d.trigger);
            log.extend(d.reaction.facts);
            for command in &d.reaction.commands {
                acknowledge(rng, command, at, outcomes);
            }
        }
    };
    for (channel, event, json) in facts {
        sources.push((channel, event.recorded_time, json));
        if rng.below(50) == 0 {
            // Delivered twice: the log holds both copies, Tenure acts once.
            log.push(event.clone());
            sources.push((
                channel,
                event.recorded_time,
                sources.last().map(|s| s.2.clone()).unwrap_or_default(),
            ));
        }
        let decisions = simulation.feed(&event);
        record(decisions, &mut log, &mut outcomes, rng);
    }
    let decisions = simulation.finish(now);
    record(decisions, &mut log, &mut outcomes, rng);
    for (when, event, json) in outcomes.into_iter().filter(|(w, _, _)| *w <= now) {
        sources.push((Channel::Outcome, when, json));
        log.push(event);
    }
    (log, sources)
}

/// Generates the organisation cohort by cohort, calling `emit` with each cohort's
/// records sorted by recorded time. `log` chooses the lifecycle log (with Tenure's
/// decisions) over the source records.
pub fn generate<E>(
    cfg: &OrgConfig,
    policy: &Policy,
    log: bool,
    mut emit: impl FnMut(Vec<Generated>) -> Result<(), E>,
) -> Result<(), E> {
    let mut rng = Rng::new(cfg.seed);
    let non_humans = cfg.people / 20;
    // The managers (who own access and accounts) come first, so every owner is hired
    // before anything names them; then everyone else, cohort by cohort.
    let managers = cfg.managers().min(cfg.people);
    let mut cohorts = vec![(0, managers)];
    let mut next = managers;
    while next < cfg.people {
        let end = (next + cfg.cohort.max(1)).min(cfg.people);
        cohorts.push((next, end));
        next = end;
    }
    for (start, end) in cohorts {
        let mut cohort_log: Vec<LifecycleEvent> = Vec::new();
        let mut cohort_sources: Vec<(Channel, DateTime<Utc>, Value)> = Vec::new();
        let mut scripts = Vec::new();
        for n in start..end {
            let person = person_id(n);
            let mut walker = PersonGen {
                cfg,
                rng: Rng::new(cfg.seed ^ (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                n,
                identity: ids::identity(ids::PEOPLE, &person),
                person,
                script: Script { facts: Vec::new() },
                hr_seq: 0,
            };
            walker.employment();
            scripts.push(walker.script);
        }
        for k in (start * non_humans / cfg.people.max(1))..(end * non_humans / cfg.people.max(1)) {
            scripts.push(non_human(cfg, &mut rng, k));
        }
        for script in scripts {
            let (l, s) = simulate(script, policy, &mut rng, cfg.now);
            cohort_log.extend(l);
            cohort_sources.extend(s);
        }
        let batch = if log {
            cohort_log.sort_by_key(|e| e.recorded_time);
            cohort_log
                .into_iter()
                .map(|e| Generated::Log(Box::new(e)))
                .collect()
        } else {
            cohort_sources.sort_by_key(|(_, at, _)| *at);
            cohort_sources
                .into_iter()
                .map(|(channel, recorded, json)| {
                    Generated::Source(SourceRecord {
                        channel,
                        recorded,
                        json,
                    })
                })
                .collect()
        };
        emit(batch)?;
    }
    Ok(())
}
