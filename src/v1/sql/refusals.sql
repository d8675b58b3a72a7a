-- The v1 rows still to be copied that no rule maps, as (problem, id) rows, problem by problem
-- and id by id; the same on both backends (each has its own further checks). A row is still to
-- be copied when v2 has no row of its id and the copy never listed it in v1_copied_rows.
WITH servers AS (
    SELECT v.* FROM mcp_servers v
    WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id)
        AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id)
), tools AS (
    SELECT v.* FROM mcp_tools v
    WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id)
        AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id)
), problems AS (
    SELECT 1 AS k, 'mcp_servers with neither command nor endpoint' AS problem, id FROM servers
    WHERE command IS NULL AND endpoint IS NULL
    UNION ALL
    SELECT 2, 'mcp_servers with an unknown sensitivity_level', id FROM servers
    WHERE sensitivity_level IS NOT NULL
        AND lower(trim(sensitivity_level)) NOT IN ('low', 'medium', 'high', 'critical')
    UNION ALL
    SELECT 3, 'mcp_tools with an unknown sensitivity_level', id FROM tools
    WHERE sensitivity_level IS NOT NULL
        AND lower(trim(sensitivity_level)) NOT IN ('low', 'medium', 'high', 'critical')
    UNION ALL
    SELECT 4, 'mcp_servers with a name over 255 characters', id FROM servers WHERE length(name) > 255
    UNION ALL
    SELECT 5, 'mcp_tools with a name over 255 characters', id FROM tools WHERE length(name) > 255
    UNION ALL
    SELECT 6, 'mcp_tools whose name another tool of their server has', id FROM tools v
    WHERE EXISTS (SELECT 1 FROM mcp_tools o WHERE o.server_id = v.server_id AND o.name = v.name AND o.id <> v.id)
        OR EXISTS (SELECT 1 FROM capabilities c WHERE c.resource_id = v.server_id AND c.name = v.name)
    UNION ALL
    SELECT 7, 'mcp_tools whose server does not exist', id FROM tools v
    WHERE NOT EXISTS (SELECT 1 FROM mcp_servers s WHERE s.id = v.server_id)
    UNION ALL
    SELECT 8, 'mcp_tools whose server was not copied (a v2 resource not from v1 has its id)', id FROM tools v
    WHERE EXISTS (SELECT 1 FROM resources r WHERE r.id = v.server_id)
        AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.server_id)
    UNION ALL
    SELECT 9, 'mcp_tools whose server''s copy was deleted in v2', id FROM tools v
    WHERE EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.server_id)
        AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = v.server_id)
)
SELECT problem, id FROM problems ORDER BY k, id
