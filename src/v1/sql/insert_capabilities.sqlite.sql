-- SQLite: the v1 tools marked as being copied, as v2 capabilities (the rules of
-- insert_capabilities.pg.sql); JSON is kept as text, requires_approval becomes a JSON boolean.
INSERT INTO capabilities (id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata)
SELECT v.id, v.server_id, v.name, v.description, COALESCE(json(v.input_schema), '{}'), '{}',
    COALESCE(lower(trim(v.sensitivity_level)), 'medium'),
    CASE WHEN v.metadata IS NOT NULL AND (json_type(v.metadata) <> 'object'
            OR json_type(v.metadata, '$.requires_approval') IS NOT NULL OR json_type(v.metadata, '$.v1_metadata') IS NOT NULL)
        THEN json_object('requires_approval', json(CASE WHEN v.requires_approval THEN 'true' ELSE 'false' END),
            'v1_metadata', json(v.metadata))
        ELSE json_set(COALESCE(json(v.metadata), '{}'), '$.requires_approval',
            json(CASE WHEN v.requires_approval THEN 'true' ELSE 'false' END))
    END
FROM mcp_tools v WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = 'capability (copying)')
