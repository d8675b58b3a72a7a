-- The missing budget rows of a group's principals, created unlimited before they are locked.
--
-- $1 varchar[]    the principals
-- $2 timestamptz  now: created_at and updated_at
INSERT INTO principal_budgets (principal_id, created_at, updated_at)
SELECT p, $2, $2 FROM UNNEST($1::varchar[]) AS p
ON CONFLICT (principal_id) DO NOTHING
