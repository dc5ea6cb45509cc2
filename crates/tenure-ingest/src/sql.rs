//! Ingest's SQL, kept in `sql/<area>/*.sql` rather than in Rust string literals: one
//! place to read and review every statement ingest sends (all reads: of the
//! projection, the issued commands and the projector's offsets), each file saying why
//! the statement exists and what its parameters are, and a test prepares each
//! against the migrated schema (through [`ALL`]).

tenure_store::sql_statements! {
    /// Reads whether request owners exist, are people, and have left (intake's owner check).
    OWNER_STANDINGS = "directory/owner_standings.sql";
    /// Reads which of the identities leavers, movers and leaves name are known.
    KNOWN_SUBJECTS = "directory/known_subjects.sql";
    /// Records identities whose joiner was just accepted.
    RECORD_JOINED = "directory/record_joined.sql";
    /// Claims a signed request's signature, shared by all ingest instances.
    CLAIM_SIGNATURE = "replay/claim_signature.sql";
    /// Releases the signature of a refused request.
    RELEASE_SIGNATURE = "replay/release_signature.sql";
    /// Reads the latest state of named access requests (intake's closed-request check).
    LATEST_REQUEST_STATES = "directory/latest_request_states.sql";
    /// Reads what Tenure issued under acknowledged command ids (acknowledgement check).
    ISSUED_COMMANDS = "directory/issued_commands.sql";
    /// Reads the states of the identities with grants on a system (reconciliation).
    STATES_WITH_GRANTS_ON = "directory/states_with_grants_on.sql";
    /// Reads where the projector stands in a lifecycle partition (SCIM read-your-writes).
    PROJECTED_NEXT_OFFSET = "scim/projected_next_offset.sql";
    /// Reads the projected states of the SCIM Users with given ids.
    PEOPLE_STATES = "scim/people_states.sql";
    /// Tells whether an identity is a known service account, API key or agent.
    KNOWN_NON_HUMAN = "scim/known_non_human.sql";
    /// Reads the ids of every SCIM User not deleted at its source, ordered.
    PEOPLE_IDS = "scim/people_ids.sql";
    /// Reads one page of SCIM Users after an identity id, ordered by identity id.
    PEOPLE_PAGE = "scim/people_page.sql";
    /// Reads the SCIM Users with a userName, without regard to case.
    PEOPLE_BY_LOGIN = "scim/people_by_login.sql";
    /// Reads the SCIM Users with an externalId.
    PEOPLE_BY_EXTERNAL_ID = "scim/people_by_external_id.sql";
}
