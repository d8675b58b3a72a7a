-- SQLite: v1 servers' created_at and updated_at in the form v2 stores them
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ, UTC), NULL where a value is not a readable timestamp, as a
-- temporary view of this connection that the copy's checks and its insert both read. v1 wrote
-- 'YYYY-MM-DD HH:MM:SS' or ISO 8601 with 'T', an optional fraction and an optional 'Z' or
-- '+HH:MM' offset; strftime brings an offset to UTC.
DROP VIEW IF EXISTS temp.v1_server_stamps;
CREATE TEMP VIEW v1_server_stamps AS
WITH stamp AS (
    SELECT id, 'created_at' AS col, created_at AS x FROM mcp_servers
    UNION ALL
    SELECT id, 'updated_at', updated_at FROM mcp_servers
), split AS (
    -- What follows the seconds: a fraction and a zone, either optional.
    SELECT id, col, x, substr(x, 20) AS rest, substr(x, 20) GLOB '*[+-][0-9][0-9]:[0-9][0-9]' AS has_offset
    FROM stamp
), parts AS (
    SELECT id, col, x,
        CASE WHEN has_offset THEN substr(rest, -6) ELSE '' END AS zone,
        CASE WHEN has_offset THEN substr(rest, 1, length(rest) - 6)
             WHEN rest GLOB '*[Zz]' THEN substr(rest, 1, length(rest) - 1)
             ELSE rest END AS fraction
    FROM split
), canonical AS (
    SELECT id, col,
        CASE WHEN typeof(x) = 'text' AND substr(x, 11, 1) IN ('T', 't', ' ') THEN
            strftime('%Y-%m-%dT%H:%M:%S', substr(x, 1, 19) || zone) || '.'
            || substr(CASE WHEN fraction = '' THEN ''
                           WHEN fraction GLOB '.[0-9]*' AND substr(fraction, 2) NOT GLOB '*[^0-9]*'
                           THEN substr(fraction, 2) END || '000000', 1, 6)
            || 'Z' END AS t
    FROM parts
)
SELECT id,
    max(CASE WHEN col = 'created_at' THEN t END) AS created_at,
    max(CASE WHEN col = 'updated_at' THEN t END) AS updated_at
FROM canonical GROUP BY id
