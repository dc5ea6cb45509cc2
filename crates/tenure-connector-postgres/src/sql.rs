//! The connector's fixed statements, kept in `sql/`. Role names in GRANT, REVOKE and
//! ALTER ROLE are identifiers, which PostgreSQL takes only as quoted text, so those
//! statements are built in `roles.rs` with every name quoted.

tenure_store::sql_statements! {
    /// Whether a role exists and whether it may log in.
    ROLE_EXISTS = "roles/role_exists.sql";
    /// Whether a login is a direct member of a role.
    IS_MEMBER = "roles/is_member.sql";
    /// Every membership in the managed roles, for reconciliation.
    LIST_MEMBERSHIPS = "roles/list_memberships.sql";
    /// The connected database's name.
    CURRENT_DATABASE = "roles/current_database.sql";
}
