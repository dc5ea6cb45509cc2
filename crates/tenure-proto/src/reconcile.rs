//! Reconciliation on the wire: Tenure's request that a connector list its target
//! (`ReconciliationRequest` on the commands topic) and the connector's answer
//! (`AccessObservation` on the outcome topic).

use chrono::{DateTime, Utc};
use prost::Message as _;
use tenure_core::reconcile::{HeldAccess, Observation};
use uuid::Uuid;

use crate::convert::{DecodeError, entitlement_from, entitlement_to, from_ts, ts, uuid};
use crate::v1;

/// The `ce_type` of a request to reconcile, on a system's command topic.
pub const RECONCILE_CE_TYPE: &str = "tenure.commands.v1.reconcile";
/// The `ce_type` of a connector's observation, on its outcome topic.
pub const OBSERVATION_CE_TYPE: &str = "tenure.outcomes.v1.observation";

/// A request that `system`'s connector list its target now.
pub fn encode_reconciliation_request(
    request_id: Uuid,
    system: &str,
    issued: DateTime<Utc>,
) -> Vec<u8> {
    v1::ReconciliationRequest {
        request_id: request_id.to_string(),
        system: system.to_owned(),
        issued_time: Some(ts(issued)),
    }
    .encode_to_vec()
}

/// Reads a request to reconcile: its id and the system it is for.
pub fn decode_reconciliation_request(bytes: &[u8]) -> Result<(Uuid, String), DecodeError> {
    let r = v1::ReconciliationRequest::decode(bytes)?;
    Ok((uuid(&r.request_id, "request_id")?, r.system))
}

/// A connector's observation of its target, as published on the outcome topic.
pub fn encode_observation(observation: &Observation) -> Vec<u8> {
    v1::AccessObservation {
        observation_id: observation.observation_id.to_string(),
        system: observation.system.clone(),
        connector: observation.connector.clone(),
        observed_time: Some(ts(observation.observed_at)),
        held: observation
            .held
            .iter()
            .map(|h| v1::ObservedAccess {
                account: h.account.clone(),
                entitlement: Some(entitlement_to(&h.entitlement)),
            })
            .collect(),
    }
    .encode_to_vec()
}

/// Reads a connector's observation; every held access must name an entitlement.
pub fn decode_observation(bytes: &[u8]) -> Result<Observation, DecodeError> {
    let o = v1::AccessObservation::decode(bytes)?;
    Ok(Observation {
        observation_id: uuid(&o.observation_id, "observation_id")?,
        system: o.system,
        connector: o.connector,
        observed_at: from_ts(o.observed_time, "observed_time")?,
        held: o
            .held
            .into_iter()
            .map(|h| {
                Ok(HeldAccess {
                    account: h.account,
                    entitlement: entitlement_from(h.entitlement)?,
                })
            })
            .collect::<Result<_, DecodeError>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::Entitlement;

    #[test]
    fn observations_and_requests_round_trip() {
        let observation = Observation {
            observation_id: Uuid::from_u128(1),
            system: "postgres".into(),
            connector: "pg-1".into(),
            observed_at: DateTime::from_timestamp(1_700_000_000, 5000).unwrap(),
            held: vec![HeldAccess {
                account: "ada".into(),
                entitlement: Entitlement::new("postgres", "app", "reader"),
            }],
        };
        assert_eq!(
            decode_observation(&encode_observation(&observation)).unwrap(),
            observation
        );
        let bytes = encode_reconciliation_request(Uuid::from_u128(2), "postgres", Utc::now());
        assert_eq!(
            decode_reconciliation_request(&bytes).unwrap(),
            (Uuid::from_u128(2), "postgres".to_owned())
        );
        assert!(decode_observation(b"\xff\xff").is_err());
    }
}
