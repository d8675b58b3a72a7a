CREATE TABLE "audit_seals" ( "seq" integer NOT NULL PRIMARY KEY CHECK ("seq" > 0), "range_start" timestamp_with_timezone_text NOT NULL, "range_end" timestamp_with_timezone_text NOT NULL, "event_count" integer NOT NULL CHECK ("event_count" >= 0), "digest" varchar NOT NULL, "previous_digest" varchar NOT NULL, "algorithm" varchar NOT NULL, "sealed_at" timestamp_with_timezone_text NOT NULL DEFAULT ((strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')), CHECK ("range_end" > "range_start") );

CREATE TABLE "audit_seal_entries" ( "seal_seq" integer NOT NULL, "timestamp" timestamp_with_timezone_text NOT NULL, "event_id" varchar NOT NULL, "hash" varchar NOT NULL, PRIMARY KEY ("seal_seq", "timestamp", "event_id") );

CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
                     BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
                     BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only: DELETE is not allowed'); END;;

CREATE TRIGGER audit_seal_entries_no_update BEFORE UPDATE ON audit_seal_entries
                     BEGIN SELECT RAISE(ABORT, 'audit_seal_entries is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER audit_seal_entries_no_delete BEFORE DELETE ON audit_seal_entries
                     BEGIN SELECT RAISE(ABORT, 'audit_seal_entries is append-only: DELETE is not allowed'); END;;

CREATE TRIGGER audit_events_unsealed BEFORE INSERT ON audit_events
WHEN NEW."timestamp" < (SELECT max(range_end) FROM audit_seals)
BEGIN SELECT RAISE(ABORT, 'audit_events: the event lies in a sealed range'); END;;

