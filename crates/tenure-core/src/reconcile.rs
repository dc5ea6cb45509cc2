//! Reconciliation: what a target system really holds, compared with what Tenure
//! granted. Tenure only ever commands; access granted out of band, or a revocation a
//! connector confirmed that left the access in place, is invisible until a connector
//! lists its target. The differences become facts on the identities' logs, and the
//! reactor answers a revocation that did not stick (see [`crate::react`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{EventPayload, LifecycleEvent};
use crate::ids::{self, GrantId, IdentityId};
use crate::model::{DiscrepancyKind, Entitlement};

/// The system name reconciliation's facts carry as their source.
pub const RECONCILIATION_SOURCE: &str = "tenure-reconciliation";

/// One access a target system holds, as its connector lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HeldAccess {
    /// The account's name in the target system (what commands call `holder.name`).
    pub account: String,
    pub entitlement: Entitlement,
}

/// Everything one target system held at one moment, as its connector listed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Chosen by the connector; a redelivered observation yields the same facts.
    pub observation_id: Uuid,
    pub system: String,
    pub connector: String,
    pub observed_at: DateTime<Utc>,
    pub held: Vec<HeldAccess>,
}

/// Where one of Tenure's grants in the observed system stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Granted and not revoked: the target must hold it.
    Held,
    /// A revocation is on its way: the target may or may not hold it yet.
    Pending,
    /// Its revocation was confirmed: the target must not hold it.
    Revoked,
}

/// One grant Tenure made in the observed system, with the account it was made to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedGrant {
    pub identity_id: IdentityId,
    pub grant_id: GrantId,
    /// The holder's account in the system (as commands named it).
    pub account: String,
    pub entitlement: Entitlement,
    pub standing: Standing,
}

/// The log an account Tenure knows no identity for gets its findings on.
pub fn unknown_account_identity(system: &str, account: &str) -> IdentityId {
    ids::identity(&format!("account:{system}"), account)
}

/// The facts `observation` calls for, given Tenure's grants in its system: access
/// held that Tenure never granted (out of band), access held whose revocation was
/// confirmed (not removed), and access granted that is not held (missing). Access
/// whose revocation is still pending is no finding either way. Recorded at `now`.
pub fn discrepancies(
    observation: &Observation,
    expected: &[ExpectedGrant],
    now: DateTime<Utc>,
) -> Vec<LifecycleEvent> {
    type Key = (String, Entitlement);
    let key = |account: &str, e: &Entitlement| (account.to_owned(), e.clone());
    let mut granted: BTreeMap<Key, &ExpectedGrant> = BTreeMap::new();
    let mut revoked: BTreeMap<Key, &ExpectedGrant> = BTreeMap::new();
    let mut owners: BTreeMap<&str, IdentityId> = BTreeMap::new();
    for grant in expected
        .iter()
        .filter(|g| g.entitlement.system == observation.system)
    {
        owners.insert(grant.account.as_str(), grant.identity_id);
        let k = key(&grant.account, &grant.entitlement);
        match grant.standing {
            Standing::Held | Standing::Pending => {
                granted.insert(k, grant);
            }
            Standing::Revoked => {
                revoked.insert(k, grant);
            }
        }
    }
    let held: BTreeSet<Key> = observation
        .held
        .iter()
        .filter(|h| h.entitlement.system == observation.system)
        .map(|h| key(&h.account, &h.entitlement))
        .collect();
    let mut facts = Vec::new();
    for (account, entitlement) in &held {
        let k = (account.clone(), entitlement.clone());
        if granted.contains_key(&k) {
            continue;
        }
        let (kind, identity, grant) = match revoked.get(&k) {
            Some(g) => (DiscrepancyKind::NotRemoved, g.identity_id, g.grant_id),
            None => (
                DiscrepancyKind::OutOfBand,
                owners
                    .get(account.as_str())
                    .copied()
                    .unwrap_or_else(|| unknown_account_identity(&observation.system, account)),
                GrantId::NIL,
            ),
        };
        facts.push(finding(
            observation,
            kind,
            identity,
            grant,
            account,
            entitlement,
            now,
        ));
    }
    for ((account, entitlement), grant) in &granted {
        if grant.standing == Standing::Held
            && !held.contains(&(account.clone(), entitlement.clone()))
        {
            facts.push(finding(
                observation,
                DiscrepancyKind::Missing,
                grant.identity_id,
                grant.grant_id,
                account,
                entitlement,
                now,
            ));
        }
    }
    facts
}

fn finding(
    observation: &Observation,
    kind: DiscrepancyKind,
    identity_id: IdentityId,
    grant_id: GrantId,
    account: &str,
    entitlement: &Entitlement,
    now: DateTime<Utc>,
) -> LifecycleEvent {
    let source_event_id = format!(
        "{}:{}:{account}:{entitlement}",
        observation.observation_id,
        kind.as_str()
    );
    LifecycleEvent {
        event_id: ids::event(RECONCILIATION_SOURCE, &source_event_id),
        identity_id,
        effective_time: observation.observed_at,
        recorded_time: now,
        source_system: RECONCILIATION_SOURCE.to_owned(),
        source_event_id,
        causation_id: None,
        payload: EventPayload::AccessDiscrepancyFound {
            observation_id: observation.observation_id,
            kind,
            account: account.to_owned(),
            entitlement: entitlement.clone(),
            grant_id,
            connector: observation.connector.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn pg(role: &str) -> Entitlement {
        Entitlement::new("postgres", "app", role)
    }

    fn expected(account: &str, role: &str, n: u128, standing: Standing) -> ExpectedGrant {
        ExpectedGrant {
            identity_id: IdentityId::from_u128(n),
            grant_id: GrantId::from_u128(100 + n),
            account: account.into(),
            entitlement: pg(role),
            standing,
        }
    }

    fn observation(held: &[(&str, &str)]) -> Observation {
        Observation {
            observation_id: Uuid::from_u128(9),
            system: "postgres".into(),
            connector: "pg-1".into(),
            observed_at: at(),
            held: held
                .iter()
                .map(|(a, r)| HeldAccess {
                    account: (*a).into(),
                    entitlement: pg(r),
                })
                .collect(),
        }
    }

    fn kinds(facts: &[LifecycleEvent]) -> Vec<(DiscrepancyKind, String, IdentityId)> {
        facts
            .iter()
            .map(|f| match &f.payload {
                EventPayload::AccessDiscrepancyFound { kind, account, .. } => {
                    (*kind, account.clone(), f.identity_id)
                }
                other => panic!("not a finding: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn given_grants_when_the_target_agrees_then_nothing_is_found() {
        let grants = [
            expected("ada", "reader", 1, Standing::Held),
            expected("bob", "reader", 2, Standing::Revoked),
            expected("cy", "reader", 3, Standing::Pending),
        ];
        // cy's revocation is pending: held or not, no finding yet.
        assert!(
            discrepancies(
                &observation(&[("ada", "reader"), ("cy", "reader")]),
                &grants,
                at()
            )
            .is_empty()
        );
        assert!(discrepancies(&observation(&[("ada", "reader")]), &grants, at()).is_empty());
    }

    #[test]
    fn given_a_confirmed_revocation_when_the_access_is_still_there_then_it_was_not_removed() {
        let grants = [expected("bob", "reader", 2, Standing::Revoked)];
        let facts = discrepancies(&observation(&[("bob", "reader")]), &grants, at());
        assert_eq!(
            kinds(&facts),
            vec![(
                DiscrepancyKind::NotRemoved,
                "bob".into(),
                IdentityId::from_u128(2)
            )]
        );
    }

    #[test]
    fn access_tenure_never_granted_is_out_of_band_on_the_holders_log_or_the_accounts_own() {
        let grants = [expected("ada", "reader", 1, Standing::Held)];
        let facts = discrepancies(
            &observation(&[("ada", "reader"), ("ada", "admin"), ("mallory", "admin")]),
            &grants,
            at(),
        );
        assert_eq!(
            kinds(&facts),
            vec![
                (
                    DiscrepancyKind::OutOfBand,
                    "ada".into(),
                    IdentityId::from_u128(1)
                ),
                (
                    DiscrepancyKind::OutOfBand,
                    "mallory".into(),
                    unknown_account_identity("postgres", "mallory")
                ),
            ]
        );
    }

    #[test]
    fn granted_access_the_target_lacks_is_missing_and_a_redelivered_observation_finds_the_same_facts()
     {
        let grants = [expected("ada", "reader", 1, Standing::Held)];
        let first = discrepancies(&observation(&[]), &grants, at());
        assert_eq!(
            kinds(&first),
            vec![(
                DiscrepancyKind::Missing,
                "ada".into(),
                IdentityId::from_u128(1)
            )]
        );
        let again = discrepancies(&observation(&[]), &grants, at());
        assert_eq!(first[0].event_id, again[0].event_id);
    }
}
