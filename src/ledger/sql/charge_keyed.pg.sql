-- PostgreSQL: a keyed cost in one statement. `existing` finds a committed use of the key;
-- only without one does the budget change (spend.sql, guarded by `NOT EXISTS (SELECT FROM
-- existing)` in its insert and its update) apply, and then the cost row, its outcome and the
-- key are inserted. Returns the cost's id, counters and limits (payload and stored NULL), or
-- the key's first payload and stored outcome, or no row when the spend did not apply.
-- A key already committed is returned by `existing`, and then nothing is spent. Otherwise the
-- cost's outcome is stored with the key in the same statement, in the form `CostOutcome`
-- serialises to. A concurrent first use of the key makes the insert into
-- cost_idempotency_keys fail with a unique violation, which rolls the whole statement back.
-- $1–$13 as in charge.pg.sql; $14 the idempotency key, $15 the request's canonical form,
-- $16 when the key is first used.
WITH existing AS (SELECT payload, outcome FROM cost_idempotency_keys WHERE principal_id = $1 AND key = $14),
budget AS (
INSERT INTO principal_budgets AS b (principal_id, daily_spent_micros, monthly_spent_micros,
    last_daily_reset, last_monthly_reset, created_at, updated_at)
SELECT $1, $2, $2, $3, $4, $5, $5 WHERE NOT EXISTS (SELECT FROM existing)
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
WHERE NOT EXISTS (SELECT FROM existing) AND (NOT $6 OR ((b.last_daily_reset IS NULL OR b.last_daily_reset <= $3)
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
, outcome AS (
    SELECT cost.id, budget.*, json_build_object(
        'cost_id', cost.id,
        'amount', round($2::numeric / 1000000, 6)::text,
        'daily_spent', round(budget.daily_spent_micros::numeric / 1000000, 6)::text,
        'monthly_spent', round(budget.monthly_spent_micros::numeric / 1000000, 6)::text,
        'over_limit', CASE
            WHEN budget.daily_spent_micros > budget.daily_budget_micros THEN 'daily'
            WHEN budget.monthly_spent_micros > budget.monthly_budget_micros THEN 'monthly' END
    )::text AS stored
    FROM budget, cost)
, claim AS (
    INSERT INTO cost_idempotency_keys (principal_id, key, payload, outcome, created_at)
    SELECT $1, $14, $15, stored, $16 FROM outcome)
SELECT id, daily_spent_micros, monthly_spent_micros, daily_budget_micros, monthly_budget_micros,
    NULL AS payload, NULL AS stored FROM outcome
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, payload, outcome FROM existing
