-- SQLite: the v1 servers marked as being copied, as v2 resources (the rules of
-- insert_resources.pg.sql); JSON is kept as text, timestamps come from the temporary view of
-- server_stamps.sqlite.sql.
INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at)
SELECT v.id, v.name, 'mcp', COALESCE(v.command, v.endpoint), COALESCE(lower(trim(v.sensitivity_level)), 'medium'),
    CASE WHEN v.metadata IS NOT NULL AND (json_type(v.metadata) <> 'object'
            OR json_type(v.metadata, '$.transport') IS NOT NULL OR json_type(v.metadata, '$.command') IS NOT NULL
            OR json_type(v.metadata, '$.args') IS NOT NULL OR json_type(v.metadata, '$.env') IS NOT NULL
            OR json_type(v.metadata, '$.endpoint') IS NOT NULL OR json_type(v.metadata, '$.description') IS NOT NULL
            OR json_type(v.metadata, '$.v1_metadata') IS NOT NULL)
        THEN json_object('transport', v.transport, 'command', v.command, 'args', json(v.args), 'env', json(v.env),
            'endpoint', v.endpoint, 'description', v.description, 'v1_metadata', json(v.metadata))
        ELSE json_set(COALESCE(json(v.metadata), '{}'), '$.transport', v.transport, '$.command', v.command,
            '$.args', json(v.args), '$.env', json(v.env), '$.endpoint', v.endpoint, '$.description', v.description)
    END,
    t.created_at, t.updated_at
FROM mcp_servers v JOIN temp.v1_server_stamps t ON t.id = v.id
WHERE v.id IN (SELECT id FROM v1_copied_rows WHERE entity = 'resource (copying)')
