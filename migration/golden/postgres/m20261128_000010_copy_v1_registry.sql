CREATE TABLE "v1_copied_rows" ( "entity" varchar NOT NULL, "id" varchar NOT NULL, PRIMARY KEY ("entity", "id") );

SELECT v.id FROM mcp_servers v WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id) AND v.command IS NULL AND v.endpoint IS NULL ORDER BY v.id;

SELECT v.id FROM mcp_servers v WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id) AND v.sensitivity_level IS NOT NULL AND lower(trim(v.sensitivity_level)) NOT IN ('low', 'medium', 'high', 'critical') ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND v.sensitivity_level IS NOT NULL AND lower(trim(v.sensitivity_level)) NOT IN ('low', 'medium', 'high', 'critical') ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND v.input_schema IS NOT NULL AND NOT jsonb_typeof(v.input_schema) = 'object' ORDER BY v.id;

SELECT v.id FROM mcp_servers v WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id) AND length(v.name) > 255 ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND length(v.name) > 255 ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND (EXISTS (SELECT 1 FROM mcp_tools o WHERE o.server_id = v.server_id AND o.name = v.name AND o.id <> v.id) OR EXISTS (SELECT 1 FROM capabilities c WHERE c.resource_id = v.server_id AND c.name = v.name)) ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND NOT EXISTS (SELECT 1 FROM mcp_servers s WHERE s.id = v.server_id) ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND EXISTS (SELECT 1 FROM resources r WHERE r.id = v.server_id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.server_id) ORDER BY v.id;

SELECT v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id) AND EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.server_id) AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = v.server_id) ORDER BY v.id;

INSERT INTO v1_copied_rows (entity, id) SELECT 'resource (copying)', v.id FROM mcp_servers v WHERE NOT EXISTS (SELECT 1 FROM resources n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'resource' AND l.id = v.id);

INSERT INTO v1_copied_rows (entity, id) SELECT 'capability (copying)', v.id FROM mcp_tools v WHERE NOT EXISTS (SELECT 1 FROM capabilities n WHERE n.id = v.id) AND NOT EXISTS (SELECT 1 FROM v1_copied_rows l WHERE l.entity = 'capability' AND l.id = v.id);

INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at) SELECT v.id, v.name, 'mcp', COALESCE(v.command, v.endpoint), COALESCE(lower(trim(v.sensitivity_level)), 'medium'), CASE WHEN v.metadata IS NOT NULL AND (NOT jsonb_typeof(v.metadata) = 'object' OR jsonb_exists_any(v.metadata, ARRAY['transport', 'command', 'args', 'env', 'endpoint', 'description', 'v1_metadata'])) THEN jsonb_build_object('transport', v.transport, 'command', v.command, 'args', v.args, 'env', v.env, 'endpoint', v.endpoint, 'description', v.description, 'v1_metadata', v.metadata) ELSE COALESCE(v.metadata, '{}'::jsonb) || jsonb_build_object('transport', v.transport, 'command', v.command, 'args', v.args, 'env', v.env, 'endpoint', v.endpoint, 'description', v.description) END, v.created_at, v.updated_at FROM mcp_servers v WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = 'resource (copying)');

INSERT INTO capabilities (id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata) SELECT v.id, v.server_id, v.name, v.description, COALESCE(v.input_schema, '{}'::jsonb), '{}'::jsonb, COALESCE(lower(trim(v.sensitivity_level)), 'medium'), CASE WHEN v.metadata IS NOT NULL AND (NOT jsonb_typeof(v.metadata) = 'object' OR jsonb_exists_any(v.metadata, ARRAY['requires_approval', 'v1_metadata'])) THEN jsonb_build_object('requires_approval', v.requires_approval, 'v1_metadata', v.metadata) ELSE COALESCE(v.metadata, '{}'::jsonb) || jsonb_build_object('requires_approval', v.requires_approval) END FROM mcp_tools v WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = 'capability (copying)');

UPDATE v1_copied_rows SET entity = 'resource' WHERE entity = 'resource (copying)';

UPDATE v1_copied_rows SET entity = 'capability' WHERE entity = 'capability (copying)';

COMMIT;

