-- PostgreSQL: the budget changes of a group of unkeyed costs, principal by principal all or
-- nothing, and the cost rows and audit events of the principals they applied to, in one
-- statement. Returns a row per changed budget (its principal, counters and limits; id NULL),
-- then a row per inserted cost (its id alone).
-- $1–$7 the cost rows, one array per column, in order: timestamps, principals, resources,
-- capabilities, estimated and actual amounts (micro-units; -1 for none), metadata (jsonb).
-- One element of $8–$13 per principal: $8 the principal, $9 the sum of its costs' amounts,
-- $10 the most its charges need (the largest sum of its amounts up to and including a
-- charge), $11/$12 the UTC day and month all its costs fall in, $13 whether any is a charge;
-- $14 now.
-- $15 the audit events of governed calls, a JSON array as in insert_new_events.pg.sql; $16
-- the principal whose costs each event goes with (one element per event).
-- A principal's costs apply only when its row exists and counts their windows or older ones,
-- no counter passes i64::MAX counting $9, and (with a charge) both limits hold counting $10:
-- then its counters gain $9 (a newer window starts at $9). Otherwise its row is left alone,
-- and its costs are not inserted, nor its events. An event whose id and timestamp are stored
-- already is skipped, as insert_new_events.pg.sql does.
WITH v AS (
    SELECT * FROM UNNEST($8::varchar[], $9::int8[], $10::int8[], $11::timestamptz[],
        $12::timestamptz[], $13::bool[]) AS v(principal_id, total, need, day, month, enforce)
), budget AS (
    UPDATE principal_budgets AS b SET
        daily_spent_micros = CASE WHEN b.last_daily_reset = v.day
            THEN b.daily_spent_micros + v.total ELSE v.total END,
        monthly_spent_micros = CASE WHEN b.last_monthly_reset = v.month
            THEN b.monthly_spent_micros + v.total ELSE v.total END,
        last_daily_reset = v.day, last_monthly_reset = v.month, updated_at = $14
    FROM v
    WHERE b.principal_id = v.principal_id
        AND (b.last_daily_reset IS NULL OR b.last_daily_reset <= v.day)
        AND (b.last_monthly_reset IS NULL OR b.last_monthly_reset <= v.month)
        AND CASE WHEN b.last_daily_reset = v.day THEN b.daily_spent_micros ELSE 0 END
            <= 9223372036854775807 - v.total
        AND CASE WHEN b.last_monthly_reset = v.month THEN b.monthly_spent_micros ELSE 0 END
            <= 9223372036854775807 - v.total
        AND (NOT v.enforce OR (
            (b.daily_budget_micros IS NULL
                OR CASE WHEN b.last_daily_reset = v.day THEN b.daily_spent_micros ELSE 0 END
                    <= b.daily_budget_micros - v.need)
            AND (b.monthly_budget_micros IS NULL
                OR CASE WHEN b.last_monthly_reset = v.month THEN b.monthly_spent_micros ELSE 0 END
                    <= b.monthly_budget_micros - v.need)))
    RETURNING b.principal_id, b.daily_spent_micros, b.monthly_spent_micros,
        b.daily_budget_micros, b.monthly_budget_micros
)
, cost AS (
INSERT INTO cost_tracking ("timestamp", principal_id, resource_id, capability_id,
    estimated_cost_micros, actual_cost_micros, metadata)
SELECT t, p, r, c, NULLIF(e, -1), NULLIF(a, -1), m
FROM UNNEST($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[],
    $5::int8[], $6::int8[], $7::jsonb[]) WITH ORDINALITY AS u(t, p, r, c, e, a, m, n)
WHERE p IN (SELECT principal_id FROM budget)
ORDER BY n
RETURNING id)
, event AS (
INSERT INTO audit_events
SELECT r.* FROM jsonb_array_elements($15::jsonb) WITH ORDINALITY AS j(e, n),
    jsonb_populate_record(NULL::audit_events, e) AS r
WHERE ($16::varchar[])[n] IN (SELECT principal_id FROM budget)
ORDER BY n
ON CONFLICT (id, "timestamp") DO NOTHING)
SELECT principal_id, daily_spent_micros, monthly_spent_micros, daily_budget_micros,
    monthly_budget_micros, NULL::int8 AS id FROM budget
UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, id FROM cost
