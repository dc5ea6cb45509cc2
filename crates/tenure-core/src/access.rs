//! Who may do what at Tenure's edges: the scopes a caller can hold, what each permits,
//! and which scopes a person's SSO token may carry. Adapters authenticate callers;
//! this decides what an authenticated caller may do.

use serde::Deserialize;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Announce joiners, movers, leavers and leaves of absence.
    Hr,
    /// Record fulfilled access requests.
    Itsm,
    /// Acknowledge commands.
    Connector,
    /// Read the query API, the dashboard's data and `/metrics`: who holds what, and
    /// Tenure's own figures.
    Reader,
    /// Change what Tenure will do (release the safety brake); also reads.
    Operator,
}

impl Scope {
    /// Whether a caller holding `held` may use what needs `needed`: an operator may
    /// also read what it operates on.
    pub fn permits(held: &[Scope], needed: Scope) -> bool {
        held.contains(&needed) || (needed == Scope::Reader && held.contains(&Scope::Operator))
    }

    /// What a query or operator request needs: reading needs `reader`, anything that
    /// changes what Tenure will do needs `operator`.
    pub fn for_operations(read_only: bool) -> Scope {
        if read_only {
            Scope::Reader
        } else {
            Scope::Operator
        }
    }

    /// The scope a value of a person's SSO token grants (`tenure:reader`,
    /// `tenure:operator`). Sources and connectors keep credentials of their own that
    /// name the sources and systems they speak for, so a token never grants `hr`,
    /// `itsm` or `connector`.
    pub fn from_sso_value(value: &str) -> Option<Scope> {
        match value {
            "tenure:reader" => Some(Scope::Reader),
            "tenure:operator" => Some(Scope::Operator),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_reads_but_a_reader_does_not_operate() {
        assert!(Scope::permits(&[Scope::Operator], Scope::Reader));
        assert!(!Scope::permits(&[Scope::Reader], Scope::Operator));
        assert!(!Scope::permits(&[Scope::Itsm], Scope::Hr));
        assert!(Scope::permits(&[Scope::Itsm, Scope::Hr], Scope::Hr));
    }

    #[test]
    fn sso_tokens_grant_only_the_people_facing_scopes() {
        assert_eq!(
            Scope::from_sso_value("tenure:operator"),
            Some(Scope::Operator)
        );
        assert_eq!(Scope::from_sso_value("tenure:hr"), None);
        assert_eq!(Scope::from_sso_value("tenure:connector"), None);
        assert_eq!(Scope::for_operations(true), Scope::Reader);
        assert_eq!(Scope::for_operations(false), Scope::Operator);
    }
}
