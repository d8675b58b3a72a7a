-- PostgreSQL: a cost's budget change (spend.sql, the CTE `budget`) and its cost row, in one
-- statement; the row is inserted only when the spend applied. Returns the cost's id and the
-- budget's counters and limits. When the spend did not apply, returns instead the budget row
-- as it stands under the lock the statement took (the newest committed version), with a NULL
-- id and the windows it counts, so that a refusal is told in the same round trip; no row when
-- the budget row was created by another transaction after this statement began.
-- $1 principal, $2 amount (micro-units), $3 start of the cost's UTC day, $4 start of its UTC
-- month, $5 now, $6 current_only, $7 enforce (as in spend.sql); $8 the cost's timestamp,
-- $9 resource, $10 capability, $11 estimated, $12 actual (micro-units or NULL), $13 metadata.
WITH budget AS (
INSERT INTO principal_budgets AS b (principal_id, daily_spent_micros, monthly_spent_micros,
    last_daily_reset, last_monthly_reset, created_at, updated_at)
VALUES ($1, $2, $2, $3, $4, $5, $5)
ON CONFLICT (principal_id) DO UPDATE SET
    daily_spent_micros = CASE
        WHEN b.last_daily_reset = $3 THEN b.daily_spent_micros + $2
        WHEN b.last_daily_reset IS NULL OR b.last_daily_reset < $3 THEN $2
        ELSE b.daily_spent_micros END,
    monthly_spent_micros = CASE
        WHEN b.last_monthly_reset = $4 THEN b.monthly_spent_micros + $2
        WHEN b.last_monthly_reset IS NULL OR b.last_monthly_reset < $4 THEN $2
        ELSE b.monthly_spent_micros END,
    last_daily_reset = CASE
        WHEN b.last_daily_reset IS NULL OR b.last_daily_reset < $3 THEN $3 ELSE b.last_daily_reset END,
    last_monthly_reset = CASE
        WHEN b.last_monthly_reset IS NULL OR b.last_monthly_reset < $4 THEN $4 ELSE b.last_monthly_reset END,
    updated_at = $5
WHERE (NOT $6 OR ((b.last_daily_reset IS NULL OR b.last_daily_reset <= $3)
        AND (b.last_monthly_reset IS NULL OR b.last_monthly_reset <= $4)))
    AND CASE WHEN b.last_daily_reset = $3 THEN b.daily_spent_micros ELSE 0 END <= 9223372036854775807 - $2
    AND CASE WHEN b.last_monthly_reset = $4 THEN b.monthly_spent_micros ELSE 0 END <= 9223372036854775807 - $2
    AND (NOT $7 OR (
        (b.daily_budget_micros IS NULL
            OR CASE WHEN b.last_daily_reset = $3 THEN b.daily_spent_micros ELSE 0 END <= b.daily_budget_micros - $2)
        AND (b.monthly_budget_micros IS NULL
            OR CASE WHEN b.last_monthly_reset = $4 THEN b.monthly_spent_micros ELSE 0 END <= b.monthly_budget_micros - $2)))
RETURNING daily_spent_micros, monthly_spent_micros, daily_budget_micros, monthly_budget_micros
)
, cost AS (
    INSERT INTO cost_tracking ("timestamp", principal_id, resource_id, capability_id,
        estimated_cost_micros, actual_cost_micros, metadata)
    SELECT $8, $1, $9, $10, $11, $12, $13 FROM budget
    RETURNING id)
-- Read only when the spend did not apply; FOR UPDATE reads the newest version of the row the
-- upsert above found and locked.
, locked AS (
    SELECT daily_spent_micros, monthly_spent_micros, daily_budget_micros, monthly_budget_micros,
        last_daily_reset, last_monthly_reset
    FROM principal_budgets WHERE principal_id = $1 FOR UPDATE)
SELECT cost.id, budget.*, NULL AS last_daily_reset, NULL AS last_monthly_reset FROM budget, cost
UNION ALL
SELECT NULL, locked.* FROM locked WHERE NOT EXISTS (SELECT FROM budget)
