-- PostgreSQL: the functions a maintenance run calls where a statement must name a table, a
-- partition or an index, which no bind parameter can do. They are created in the session's
-- temporary schema (pg_temp) inside the run's transaction, called there, and visible to no other
-- session; names arrive as parameters and are quoted with format('%I') or as regclass values.
--
-- A partition covers one UTC month, [first day, first day of the next month), and is named
-- <table>_pYYYY_MM; <table>_default takes any row no month partition covers. PostgreSQL clones
-- the parent's row triggers onto a partition, but not its statement-level TRUNCATE triggers,
-- so each partition gets its own copy. Partition indexes are named after the parent's index
-- plus the partition's suffix (idx_audit_timestamp_id_p2026_11), so that plans name them.

-- The number of rows of `rel`.
CREATE OR REPLACE FUNCTION pg_temp.sark_row_count(rel regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
    RETURN n;
END
$$;

-- How `rel` is stored: 'hypertable' (TimescaleDB), 'partitioned' (native partitions) or 'plain'.
CREATE OR REPLACE FUNCTION pg_temp.sark_table_kind(rel regclass) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        -- A statement of its own: the view exists only with the extension.
        IF EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE format('%I.%I', hypertable_schema, hypertable_name)::regclass = rel) THEN
            RETURN 'hypertable';
        END IF;
    END IF;
    RETURN CASE WHEN (SELECT relkind FROM pg_class WHERE oid = rel) = 'p' THEN 'partitioned' ELSE 'plain' END;
END
$$;

-- On a Citus coordinator, lets the rest of the transaction create, enable and disable triggers
-- on distributed tables: sark-db's triggers read only their own row and reference tables, which
-- every node holds. Elsewhere it does nothing.
CREATE OR REPLACE FUNCTION pg_temp.sark_allow_triggers() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
END
$$;

-- Gives the new partition `part` of `parent` the parent's TRUNCATE triggers and names its
-- indexes after the parent's, plus '_' || `suffix`.
CREATE OR REPLACE FUNCTION pg_temp.sark_dress_partition(parent regclass, part regclass, suffix text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    trg record;
    ix record;
    wanted text;
BEGIN
    PERFORM pg_temp.sark_allow_triggers();
    -- tgtype bit 32: TRUNCATE.
    FOR trg IN
        SELECT tgname, tgfoid::regproc AS function FROM pg_trigger
        WHERE tgrelid = parent AND NOT tgisinternal AND tgtype & 32 <> 0
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
            trg.tgname, part, trg.function);
    END LOOP;
    FOR ix IN
        SELECT c.relname AS child, n.nspname AS nsp, p.relname AS parent FROM pg_index x
        JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE x.indrelid = part
    LOOP
        -- Names are at most 63 bytes; sark-db's are ASCII.
        wanted := left(ix.parent, 63 - length(suffix) - 1) || '_' || suffix;
        IF ix.child <> wanted THEN
            EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', ix.nsp, ix.child, wanted);
        END IF;
    END LOOP;
END
$$;

-- Creates `parent`'s partition for the UTC month that starts on `first_day` unless it exists;
-- returns its name, or NULL when it existed. Fails when the default partition holds rows of
-- that month (move them first).
CREATE OR REPLACE FUNCTION pg_temp.sark_create_month(parent regclass, first_day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    nsp text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent);
    suffix text := to_char(first_day, '"p"YYYY_MM');
    part_name text := (SELECT relname FROM pg_class WHERE oid = parent) || '_' || suffix;
    part regclass;
BEGIN
    IF to_regclass(format('%I.%I', nsp, part_name)) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)', nsp, part_name, parent,
        first_day::timestamp AT TIME ZONE 'UTC', (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    part := format('%I.%I', nsp, part_name)::regclass;
    PERFORM pg_temp.sark_dress_partition(parent, part, suffix);
    RETURN part_name;
END
$$;

-- Moves the rows of `parent`'s default partition into partitions of their months: the default
-- is detached, the months it held get partitions, its rows are inserted through the parent with
-- the parent's user triggers off (the rows are not new: a seal over their range, which refuses
-- new events, must let them back in), and an empty default takes its place, whose indexes take
-- the names the old one's had. Returns how many rows moved. The detach holds the parent's lock
-- until the transaction ends, so writers wait meanwhile.
CREATE OR REPLACE FUNCTION pg_temp.sark_move_default_rows(parent regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    nsp text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent);
    default_name text := (SELECT relname FROM pg_class WHERE oid = parent) || '_default';
    moving text := default_name || '_moving';
    moved bigint;
    first_day date;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I.%I', nsp, default_name) INTO moved;
    IF moved = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_temp.sark_allow_triggers();
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %I.%I', parent, nsp, default_name);
    EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', nsp, default_name, moving);
    FOR first_day IN EXECUTE format(
        'SELECT DISTINCT date_trunc(''month'', "timestamp" AT TIME ZONE ''UTC'')::date FROM %I.%I', nsp, moving)
    LOOP
        PERFORM pg_temp.sark_create_month(parent, first_day);
    END LOOP;
    EXECUTE format('ALTER TABLE %s DISABLE TRIGGER USER', parent);
    EXECUTE format('INSERT INTO %s SELECT * FROM %I.%I', parent, nsp, moving);
    EXECUTE format('ALTER TABLE %s ENABLE TRIGGER USER', parent);
    EXECUTE format('DROP TABLE %I.%I', nsp, moving);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, default_name, parent);
    PERFORM pg_temp.sark_dress_partition(parent, format('%I.%I', nsp, default_name)::regclass, 'default');
    RETURN moved;
END
$$;

-- Drops the month partitions of `parent` that end at or before `cutoff`, oldest first; returns
-- each one's default_name, first day and row count.
CREATE OR REPLACE FUNCTION pg_temp.sark_drop_months_before(parent regclass, cutoff timestamptz)
RETURNS TABLE (name text, first_day date, row_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.oid::regclass AS rel, c.relname,
            to_date(right(c.relname, 7), 'YYYY_MM') AS month
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE i.inhparent = parent
            AND c.relname ~ ('^' || p.relname || '_p[0-9]{4}_(0[1-9]|1[0-2])$')
        ORDER BY c.relname
    LOOP
        CONTINUE WHEN (part.month + interval '1 month')::timestamp AT TIME ZONE 'UTC' > cutoff;
        name := part.relname;
        first_day := part.month;
        row_count := pg_temp.sark_row_count(part.rel);
        EXECUTE format('DROP TABLE %s', part.rel);
        RETURN NEXT;
    END LOOP;
END
$$;

-- TimescaleDB: turns compression on for hypertable `hypertable`, newest rows first in a
-- compressed batch.
CREATE OR REPLACE FUNCTION pg_temp.sark_enable_compression(hypertable regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s SET (timescaledb.compress, timescaledb.compress_orderby = %L)',
        hypertable, '"timestamp" DESC');
END
$$;
