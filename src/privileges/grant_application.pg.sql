-- PostgreSQL: the function grant_application calls, created in the session's temporary schema
-- (pg_temp) inside the call's transaction and visible to no other session. PostgreSQL takes no
-- bind parameter for a role's name: the function takes it as a parameter and quotes it with
-- format('%I').
--
-- Makes `role` (created, without login, when it does not exist) the application role: it gets
-- exactly the privileges listed below, any other privilege it had on the schema's tables and
-- sequences is revoked, and tables and sequences the caller creates later grant it nothing.
CREATE OR REPLACE FUNCTION pg_temp.sark_grant_application(role text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    table_grant record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
        EXECUTE format('CREATE ROLE %I', role);
    END IF;
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', role);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM %I', role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM %I', role);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role);
    FOR table_grant IN
        SELECT * FROM (VALUES
            ('audit_events', 'SELECT, INSERT'),
            ('cost_tracking', 'SELECT, INSERT'),
            ('retention_log', 'SELECT'),
            ('principal_budgets', 'SELECT, INSERT, UPDATE'),
            ('cost_idempotency_keys', 'SELECT, INSERT, UPDATE, DELETE'),
            ('resources', 'SELECT, INSERT, UPDATE, DELETE'),
            ('capabilities', 'SELECT, INSERT, UPDATE, DELETE'),
            ('federation_nodes', 'SELECT, INSERT, UPDATE, DELETE'),
            ('mcp_servers', 'SELECT'),
            ('mcp_tools', 'SELECT'),
            ('v1_copied_rows', 'SELECT'),
            ('seaql_migrations', 'SELECT'),
            ('audit_seals', 'SELECT'),
            ('audit_seal_entries', 'SELECT'),
            ('audit_seal_removals', 'SELECT')
        ) AS g (table_name, privileges)
    LOOP
        EXECUTE format('GRANT %s ON %I TO %I', table_grant.privileges, table_grant.table_name, role);
    END LOOP;
END
$$;
