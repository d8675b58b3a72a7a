CREATE TABLE "audit_seals" ( "seq" bigint NOT NULL PRIMARY KEY CHECK ("seq" > 0), "range_start" timestamp with time zone NOT NULL, "range_end" timestamp with time zone NOT NULL, "event_count" bigint NOT NULL CHECK ("event_count" >= 0), "digest" varchar NOT NULL, "previous_digest" varchar NOT NULL, "algorithm" varchar NOT NULL, "sealed_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, CHECK ("range_end" > "range_start") );

CREATE TABLE "audit_seal_entries" ( "seal_seq" bigint NOT NULL, "timestamp" timestamp with time zone NOT NULL, "event_id" varchar NOT NULL, "hash" varchar NOT NULL, PRIMARY KEY ("seal_seq", "timestamp", "event_id") );

CREATE TRIGGER audit_seals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seals
                 FOR EACH ROW EXECUTE FUNCTION sark_append_only();
             CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
                 FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();;

CREATE TRIGGER audit_seal_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit_seal_entries
                 FOR EACH ROW EXECUTE FUNCTION sark_append_only();
             CREATE TRIGGER audit_seal_entries_no_truncate BEFORE TRUNCATE ON audit_seal_entries
                 FOR EACH STATEMENT EXECUTE FUNCTION sark_append_only();;

CREATE OR REPLACE FUNCTION audit_events_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."timestamp" < (SELECT max(range_end) FROM audit_seals) THEN
        RAISE EXCEPTION 'audit_events: % lies in a sealed range', NEW."timestamp"
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_unsealed();;

COMMIT;

