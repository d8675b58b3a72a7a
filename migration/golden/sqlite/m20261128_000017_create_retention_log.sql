CREATE TABLE "retention_log" ( "id" varchar NOT NULL PRIMARY KEY, "table_name" varchar NOT NULL, "removed" varchar NOT NULL, "range_start" timestamp_with_timezone_text NOT NULL, "range_end" timestamp_with_timezone_text NOT NULL, "row_count" integer NOT NULL CHECK ("row_count" >= 0), "removed_at" timestamp_with_timezone_text NOT NULL DEFAULT ((strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')), "removed_by" varchar NOT NULL DEFAULT 'sqlite' );

CREATE TRIGGER retention_log_no_update BEFORE UPDATE ON retention_log
                     BEGIN SELECT RAISE(ABORT, 'retention_log is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER retention_log_no_delete BEFORE DELETE ON retention_log
                     BEGIN SELECT RAISE(ABORT, 'retention_log is append-only: DELETE is not allowed'); END;;

