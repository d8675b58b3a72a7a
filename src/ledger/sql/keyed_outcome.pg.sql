-- PostgreSQL: the end of a keyed cost in one statement, after the guarded spend and
-- insert_cost.pg.sql (see spend.rs). $1–$13 as there; $14 the idempotency key, $15 the
-- request's canonical form, $16 when the key is first used.
-- A key already committed is returned by `existing`, and then nothing is spent. Otherwise the
-- cost's outcome is stored with the key in the same statement, in the form `CostOutcome`
-- serialises to. A concurrent first use of the key makes the insert into
-- cost_idempotency_keys fail with a unique violation, which rolls the whole statement back.
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
