-- PostgreSQL: the v1 tools marked as being copied, as v2 capabilities of their servers'
-- resources; requires_approval joins the metadata as insert_resources.pg.sql says. No input
-- schema: an empty object; the output schema is unknown in v1: an empty object.
INSERT INTO capabilities (id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata)
SELECT v.id, v.server_id, v.name, v.description, COALESCE(v.input_schema, '{}'::jsonb), '{}'::jsonb,
    COALESCE(lower(trim(v.sensitivity_level)), 'medium'),
    CASE WHEN v.metadata IS NOT NULL AND (jsonb_typeof(v.metadata) <> 'object'
            OR jsonb_exists_any(v.metadata, ARRAY['requires_approval', 'v1_metadata']))
        THEN jsonb_build_object('requires_approval', v.requires_approval, 'v1_metadata', v.metadata)
        ELSE COALESCE(v.metadata, '{}'::jsonb) || jsonb_build_object('requires_approval', v.requires_approval)
    END
FROM mcp_tools v WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = 'capability (copying)')
