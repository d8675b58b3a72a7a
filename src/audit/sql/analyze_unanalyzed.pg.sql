-- PostgreSQL: analyzes `audit_events` and `audit_seal_entries` where a table of theirs (the
-- table itself, a partition or a TimescaleDB chunk) holds rows but has never been analyzed
-- (`reltuples` < 0), if this role owns it, unless the server is a standby or a seal or
-- maintenance is running. (An empty table analyzed would keep statistics of no rows while a
-- seal fills it.) Seals and verification read them a page at a time in (timestamp, id) order:
-- without statistics the planner takes a bulk-loaded table for a few rows and, for each page,
-- reads and sorts every row left in the range (docs/benchmarks.md).
DO $$
DECLARE
    t text;
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN;
    END IF;
    FOREACH t IN ARRAY ARRAY['audit_events', 'audit_seal_entries'] LOOP
        IF EXISTS (
            SELECT 1 FROM pg_class c
            WHERE c.oid IN (SELECT t::regclass UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = t::regclass)
                AND c.relkind = 'r' AND c.reltuples < 0 AND pg_relation_size(c.oid) > 0
                AND pg_has_role(c.relowner, 'USAGE')
        ) THEN
            -- Not while a seal or maintenance runs (they hold this lock, maintenance::LOCK_KEY,
            -- before their table locks): ANALYZE's locks taken beside theirs could deadlock on
            -- TimescaleDB's chunks. Then this call leaves the statistics as they are.
            IF NOT pg_try_advisory_xact_lock(1396789835) THEN
                RETURN;
            END IF;
            EXECUTE format('ANALYZE %I', t);
        END IF;
    END LOOP;
END
$$
