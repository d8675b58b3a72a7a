CREATE TABLE "retention_log" ( "id" varchar NOT NULL PRIMARY KEY, "table_name" varchar NOT NULL, "removed" varchar NOT NULL, "range_start" timestamp with time zone NOT NULL, "range_end" timestamp with time zone NOT NULL, "row_count" bigint NOT NULL CHECK ("row_count" >= 0), "removed_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "removed_by" varchar NOT NULL DEFAULT (current_user) );

CREATE OR REPLACE FUNCTION sark_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;;

CREATE TRIGGER retention_log_no_update_delete BEFORE UPDATE OR DELETE ON retention_log
                 FOR EACH ROW EXECUTE FUNCTION sark_append_only();
             CREATE TRIGGER retention_log_no_truncate BEFORE TRUNCATE ON retention_log
                 FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();;

COMMIT;

