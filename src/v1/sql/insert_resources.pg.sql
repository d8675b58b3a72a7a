-- PostgreSQL: the v1 servers marked as being copied, as v2 resources. The v1 columns without a
-- v2 column join the v1 metadata object under their own names; when the metadata is not an
-- object, or already has one of those keys or 'v1_metadata', it is kept whole under
-- 'v1_metadata' instead. No sensitivity: 'medium'.
INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at)
SELECT v.id, v.name, 'mcp', COALESCE(v.command, v.endpoint), COALESCE(lower(trim(v.sensitivity_level)), 'medium'),
    CASE WHEN v.metadata IS NOT NULL AND (jsonb_typeof(v.metadata) <> 'object'
            OR jsonb_exists_any(v.metadata, ARRAY['transport', 'command', 'args', 'env', 'endpoint', 'description', 'v1_metadata']))
        THEN jsonb_build_object('transport', v.transport, 'command', v.command, 'args', v.args, 'env', v.env,
            'endpoint', v.endpoint, 'description', v.description, 'v1_metadata', v.metadata)
        ELSE COALESCE(v.metadata, '{}'::jsonb) || jsonb_build_object('transport', v.transport, 'command', v.command,
            'args', v.args, 'env', v.env, 'endpoint', v.endpoint, 'description', v.description)
    END,
    v.created_at, v.updated_at
FROM mcp_servers v WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = 'resource (copying)')
