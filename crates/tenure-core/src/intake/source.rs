//! Which source system an event is announced as. An event's id is derived from its
//! source and the source's own event id, so whoever may name a source can make that
//! source's later events look like duplicates: the source comes from the caller's
//! credential, never from the body alone, and Tenure's own names cannot be claimed.

use crate::process::OPERATOR_SOURCE;
use crate::react::REACTOR_SOURCE;
use crate::simulate::SCHEDULER_SOURCE;

/// The source of the events Tenure's SCIM service derives from a User's changes.
pub const SCIM_SOURCE: &str = "scim";

/// Whether `name` is a source Tenure writes its own facts under (the reactor, the
/// scheduler, operators' actions, SCIM, connectors' acknowledgements), which no caller
/// may announce events as.
pub fn is_tenure_source(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    [
        REACTOR_SOURCE,
        SCHEDULER_SOURCE,
        OPERATOR_SOURCE,
        SCIM_SOURCE,
    ]
    .contains(&name.as_str())
        || name.starts_with("tenure-")
        || name.starts_with("connector:")
}

/// Who is announcing events.
#[derive(Clone, Copy, Debug)]
pub enum Announcer<'a> {
    /// An authenticated credential and the sources it speaks for (the first is used
    /// when an event names none).
    Credential {
        name: &'a str,
        sources: &'a [String],
    },
    /// An install without credentials (local use only) or a raw topic, whose access is
    /// the broker's ACLs: any source but Tenure's own.
    Open,
}

/// Why an event's source was refused; the caller should use a credential that speaks
/// for the source, or leave `source_system` out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceRefusal {
    /// The name is one of Tenure's own sources.
    #[error(
        "source_system {0:?} is one of Tenure's own sources: no caller may announce events as it"
    )]
    Reserved(String),
    /// The credential does not speak for the source it named.
    #[error(
        "credential {credential:?} speaks for source_system {sources:?}, not {claimed:?}: \
         leave source_system out or use that source's credential"
    )]
    NotYours {
        credential: String,
        claimed: String,
        sources: Vec<String>,
    },
}

/// The source an event is recorded under: the one it names (`claimed`) if the
/// announcer may speak for it, else the announcer's own (or `default` for an open
/// announcer) when it names none.
pub fn announced_source(
    claimed: Option<&str>,
    default: &str,
    announcer: Announcer<'_>,
) -> Result<String, SourceRefusal> {
    let source = match (claimed, announcer) {
        (Some(claimed), _) => claimed.to_owned(),
        (None, Announcer::Credential { sources, name }) => {
            sources.first().cloned().unwrap_or_else(|| name.to_owned())
        }
        (None, Announcer::Open) => default.to_owned(),
    };
    if is_tenure_source(&source) {
        return Err(SourceRefusal::Reserved(source));
    }
    if let Announcer::Credential { name, sources } = announcer
        && !sources.iter().any(|s| s == &source)
    {
        return Err(SourceRefusal::NotYours {
            credential: name.to_owned(),
            claimed: source,
            sources: sources.to_vec(),
        });
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workday() -> Vec<String> {
        vec!["workday".to_owned()]
    }

    #[test]
    fn a_credential_announces_as_its_own_source_when_the_event_names_none() {
        let sources = workday();
        let announcer = Announcer::Credential {
            name: "workday-prod",
            sources: &sources,
        };
        assert_eq!(announced_source(None, "hr", announcer).unwrap(), "workday");
        assert_eq!(
            announced_source(Some("workday"), "hr", announcer).unwrap(),
            "workday"
        );
    }

    #[test]
    fn a_credential_cannot_speak_for_another_source() {
        let sources = vec!["servicenow".to_owned()];
        let announcer = Announcer::Credential {
            name: "itsm",
            sources: &sources,
        };
        let refused = announced_source(Some("hr"), "itsm", announcer).unwrap_err();
        assert!(matches!(&refused, SourceRefusal::NotYours { claimed, .. } if claimed == "hr"));
        assert!(refused.to_string().contains("\"servicenow\""), "{refused}");
    }

    #[test]
    fn nobody_claims_tenures_own_sources_even_on_an_open_install() {
        for name in [
            "tenure-reactor",
            "tenure-scheduler",
            "tenure-operator",
            "Tenure-Reactor",
            "scim",
            "connector:github",
            "tenure-anything",
        ] {
            assert_eq!(
                announced_source(Some(name), "hr", Announcer::Open),
                Err(SourceRefusal::Reserved(name.to_owned())),
                "{name}"
            );
        }
        assert_eq!(announced_source(None, "hr", Announcer::Open).unwrap(), "hr");
        assert_eq!(
            announced_source(Some("workday"), "hr", Announcer::Open).unwrap(),
            "workday"
        );
    }
}
