SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS i;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

CREATE FUNCTION audit_events_unsealed_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    earliest timestamptz;
BEGIN
    SELECT min("timestamp") INTO earliest FROM inserted;
    IF earliest < (SELECT max(range_end) FROM audit_seals) THEN
        RAISE EXCEPTION 'audit_events: % lies in a sealed range', earliest
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS audit_events_unsealed ON audit_events;
CREATE TRIGGER audit_events_unsealed AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_unsealed_statement();;

COMMIT;

