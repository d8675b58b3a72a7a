-- PostgreSQL: the cost row, inserted in the same statement as the spend it follows (the CTE
-- `budget`, spend.sql), and only when the spend applied.
-- $1–$7 as in spend.sql; $8 timestamp, $9 resource, $10 capability, $11 estimated,
-- $12 actual, $13 metadata.
, cost AS (
    INSERT INTO cost_tracking ("timestamp", principal_id, resource_id, capability_id,
        estimated_cost_micros, actual_cost_micros, metadata)
    SELECT $8, $1, $9, $10, $11, $12, $13 FROM budget
    RETURNING id)
