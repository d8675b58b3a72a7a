SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "table_name" AS "table_name" FROM "information_schema"."tables" WHERE (CURRENT_SCHEMA()) = "tables"."table_schema" AND "table_type" = $1 AND "table_name" = $2) AS "subquery";

CREATE TABLE "audit_seal_removals" ( "seal_seq" bigint NOT NULL, "removal_id" varchar NOT NULL UNIQUE, "hash" varchar NOT NULL, PRIMARY KEY ("seal_seq", "removal_id") );

CREATE TRIGGER audit_seal_removals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seal_removals
    FOR EACH ROW EXECUTE FUNCTION sark_append_only();
CREATE TRIGGER audit_seal_removals_no_truncate BEFORE TRUNCATE ON audit_seal_removals
    FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed;

DO $$
DECLARE
    rel regclass;
    holder record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    FOR rel IN
        SELECT format('%I.%I', hypertable_schema, hypertable_name)::regclass
        FROM timescaledb_information.hypertables
        WHERE hypertable_schema = current_schema() AND hypertable_name IN ('audit_events', 'cost_tracking')
        UNION ALL
        SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
        FROM timescaledb_information.chunks
        WHERE hypertable_schema = current_schema() AND hypertable_name IN ('audit_events', 'cost_tracking')
    LOOP
        FOR holder IN
            SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS name
            FROM pg_class c, aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
            WHERE c.oid = rel AND a.privilege_type = 'TRUNCATE'
        LOOP
            EXECUTE format('REVOKE TRUNCATE ON %s FROM %s', rel, holder.name);
        END LOOP;
    END LOOP;
END
$$;;

COMMIT;

