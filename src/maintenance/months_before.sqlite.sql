-- SQLite: per table and UTC month, the number of rows stamped before the cut-off, with the
-- first instant of their month; audit events first, then costs, each oldest month first.
-- $1 audit events before this instant (NULL: none), $2 costs before this instant (NULL: none),
-- each the first instant of a UTC month. Timestamps are stored as canonical UTC text
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), so a month is its first seven characters.
SELECT table_name, month_start, n FROM (
    SELECT 'audit_events' AS table_name, substr("timestamp", 1, 7) || '-01T00:00:00.000000Z' AS month_start,
        count(*) AS n
    FROM audit_events WHERE "timestamp" < $1 GROUP BY month_start
    UNION ALL
    SELECT 'cost_tracking', substr("timestamp", 1, 7) || '-01T00:00:00.000000Z', count(*)
    FROM cost_tracking WHERE "timestamp" < $2 GROUP BY 2
)
ORDER BY table_name, month_start
