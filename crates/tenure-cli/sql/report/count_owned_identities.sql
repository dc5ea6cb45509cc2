-- How many identities (service accounts, API keys, agents) a person owns, for
-- `tenure report`.
-- $1: the owner's source person id (e.g. an employee id)
SELECT count(*) FROM projection_identities WHERE owned_by = $1
