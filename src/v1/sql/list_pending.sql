-- Lists the v1 rows still to be copied (v2 has no row of their id, and the copy never listed
-- them) in v1_copied_rows, marked as being copied until mark_copied.sql ends the copy.
INSERT INTO v1_copied_rows (entity, id)
SELECT 'resource (copying)', v.id FROM mcp_servers v
WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id)
    AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id)
UNION ALL
SELECT 'capability (copying)', v.id FROM mcp_tools v
WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id)
    AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id)
