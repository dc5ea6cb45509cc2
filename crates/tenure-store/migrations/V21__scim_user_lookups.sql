-- SCIM clients look a User up by userName before they create or update anyone (one
-- lookup per user of a directory sync): index the login, which holds the userName,
-- without regard to case (RFC 7643: userName is not case-exact).
CREATE INDEX projection_identities_login
    ON projection_identities (lower(state->'attributes'->>'login'))
 WHERE kind IN ('employee', 'contractor');
-- A person HR announced without a login shows their key (employee id) as userName.
CREATE INDEX projection_identities_person_key
    ON projection_identities (lower(source_person_id))
 WHERE kind IN ('employee', 'contractor');
