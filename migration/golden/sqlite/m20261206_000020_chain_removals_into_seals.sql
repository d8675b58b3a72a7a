SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "name" AS "table_name" FROM "sqlite_master" WHERE "type" = ? AND "name" <> ? AND "table_name" = ?) AS "subquery";

CREATE TABLE "audit_seal_removals" ( "seal_seq" integer NOT NULL, "removal_id" varchar NOT NULL UNIQUE, "hash" varchar NOT NULL, PRIMARY KEY ("seal_seq", "removal_id") );

CREATE TRIGGER audit_seal_removals_no_update BEFORE UPDATE ON audit_seal_removals
BEGIN SELECT RAISE(ABORT, 'audit_seal_removals is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_seal_removals_no_delete BEFORE DELETE ON audit_seal_removals
BEGIN SELECT RAISE(ABORT, 'audit_seal_removals is append-only: DELETE is not allowed'); END;;

