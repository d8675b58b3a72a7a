-- SQLite: the v1 rows still to be copied (as in refusals.sql) that its JSON and timestamp rules
-- refuse, as (problem, id) rows, problem by problem and id by id. Reads the temporary view of
-- server_stamps.sqlite.sql.
WITH servers AS (
    SELECT v.* FROM mcp_servers v
    WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id)
        AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id)
), tools AS (
    SELECT v.* FROM mcp_tools v
    WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id)
        AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id)
), problems AS (
    SELECT 1 AS k, 'mcp_tools whose input_schema is not a JSON object' AS problem, id FROM tools
    WHERE input_schema IS NOT NULL AND json_valid(input_schema) AND json_type(input_schema) <> 'object'
    UNION ALL
    SELECT 2, 'mcp_servers whose args is not valid JSON', id FROM servers WHERE args IS NOT NULL AND NOT json_valid(args)
    UNION ALL
    SELECT 3, 'mcp_servers whose env is not valid JSON', id FROM servers WHERE env IS NOT NULL AND NOT json_valid(env)
    UNION ALL
    SELECT 4, 'mcp_servers whose metadata is not valid JSON', id FROM servers
    WHERE metadata IS NOT NULL AND NOT json_valid(metadata)
    UNION ALL
    SELECT 5, 'mcp_tools whose input_schema is not valid JSON', id FROM tools
    WHERE input_schema IS NOT NULL AND NOT json_valid(input_schema)
    UNION ALL
    SELECT 6, 'mcp_tools whose metadata is not valid JSON', id FROM tools WHERE metadata IS NOT NULL AND NOT json_valid(metadata)
    UNION ALL
    SELECT 7, 'mcp_servers whose created_at is not a readable timestamp', s.id FROM servers s
    JOIN temp.v1_server_stamps t ON t.id = s.id WHERE t.created_at IS NULL
    UNION ALL
    SELECT 8, 'mcp_servers whose updated_at is not a readable timestamp', s.id FROM servers s
    JOIN temp.v1_server_stamps t ON t.id = s.id WHERE t.updated_at IS NULL
)
SELECT problem, id FROM problems ORDER BY k, id
