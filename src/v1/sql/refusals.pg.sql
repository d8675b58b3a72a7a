-- PostgreSQL: the v1 rows still to be copied (as in refusals.sql) that its JSON rules refuse,
-- as (problem, id) rows, id by id.
SELECT 'mcp_tools whose input_schema is not a JSON object' AS problem, v.id FROM mcp_tools v
WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id)
    AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id)
    AND v.input_schema IS NOT NULL AND jsonb_typeof(v.input_schema) <> 'object'
ORDER BY v.id
