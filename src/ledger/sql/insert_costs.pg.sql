-- PostgreSQL: many cost rows in one statement, whatever their number, inserted in their
-- order; returns their ids. One array parameter per column: $1 timestamps, $2 principals,
-- $3 resources, $4 capabilities, $5 estimated and $6 actual amounts (micro-units; the driver
-- binds no NULL array element, so -1 stands for a missing amount), $7 metadata (jsonb).
INSERT INTO cost_tracking ("timestamp", principal_id, resource_id, capability_id,
    estimated_cost_micros, actual_cost_micros, metadata)
SELECT t, p, r, c, NULLIF(e, -1), NULLIF(a, -1), m
FROM UNNEST($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[],
    $5::int8[], $6::int8[], $7::jsonb[]) WITH ORDINALITY AS u(t, p, r, c, e, a, m, n)
ORDER BY n
RETURNING id
