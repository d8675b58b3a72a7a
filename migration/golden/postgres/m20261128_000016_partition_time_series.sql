SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS i;

SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('audit_events') AND relkind = 'p') AS p;

SELECT COALESCE('ALTER TABLE audit_events ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ')) AS statement FROM pg_index x LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid WHERE x.indrelid = 'audit_events'::regclass ORDER BY x.indexrelid;

SELECT pg_get_triggerdef(oid) AS statement FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgparentid = 0 ORDER BY oid;

ALTER TABLE audit_events RENAME TO audit_events_rebuilt_from;

CREATE TABLE audit_events (LIKE audit_events_rebuilt_from INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ("timestamp");

SELECT EXTRACT(YEAR FROM now() AT TIME ZONE 'UTC')::int AS y, EXTRACT(MONTH FROM now() AT TIME ZONE 'UTC')::int AS m;

SELECT EXTRACT(YEAR FROM min("timestamp") AT TIME ZONE 'UTC')::int AS y0, EXTRACT(MONTH FROM min("timestamp") AT TIME ZONE 'UTC')::int AS m0, EXTRACT(YEAR FROM max("timestamp") AT TIME ZONE 'UTC')::int AS y1, EXTRACT(MONTH FROM max("timestamp") AT TIME ZONE 'UTC')::int AS m1 FROM audit_events_rebuilt_from;

SELECT to_regclass('audit_events_p<month>') IS NOT NULL AS e;

CREATE TABLE audit_events_p<month> PARTITION OF audit_events FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

SELECT to_regclass('audit_events_p<month>') IS NOT NULL AS e;

CREATE TABLE audit_events_p<month> PARTITION OF audit_events FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

SELECT to_regclass('audit_events_p<month>') IS NOT NULL AS e;

CREATE TABLE audit_events_p<month> PARTITION OF audit_events FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

SELECT to_regclass('audit_events_p<month>') IS NOT NULL AS e;

CREATE TABLE audit_events_p<month> PARTITION OF audit_events FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

INSERT INTO audit_events SELECT * FROM audit_events_rebuilt_from;

SELECT quote_ident(attname) AS col, pg_get_serial_sequence('audit_events_rebuilt_from', attname) AS seq, attidentity <> '' AS identity FROM pg_attribute WHERE attrelid = 'audit_events_rebuilt_from'::regclass AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence('audit_events_rebuilt_from', attname) IS NOT NULL;

DROP TABLE audit_events_rebuilt_from;

ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id, "timestamp");

CREATE INDEX idx_audit_correlation ON public.audit_events USING btree (correlation_id);

CREATE INDEX idx_audit_timestamp_id ON public.audit_events USING btree ("timestamp", id);

CREATE TRIGGER audit_events_no_update_delete BEFORE DELETE OR UPDATE ON public.audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON public.audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_default'::regclass;

ALTER INDEX audit_events_default_pkey RENAME TO audit_events_pkey_default;

ALTER INDEX audit_events_default_correlation_id_idx RENAME TO idx_audit_correlation_default;

ALTER INDEX audit_events_default_timestamp_id_idx RENAME TO idx_audit_timestamp_id_default;

SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass AND c.relname <> 'audit_events_default';

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_p<month> FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

ALTER INDEX audit_events_p<month>_pkey RENAME TO audit_events_pkey_p<month>;

ALTER INDEX audit_events_p<month>_correlation_id_idx RENAME TO idx_audit_correlation_p<month>;

ALTER INDEX audit_events_p<month>_timestamp_id_idx RENAME TO idx_audit_timestamp_id_p<month>;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_p<month> FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

ALTER INDEX audit_events_p<month>_pkey RENAME TO audit_events_pkey_p<month>;

ALTER INDEX audit_events_p<month>_correlation_id_idx RENAME TO idx_audit_correlation_p<month>;

ALTER INDEX audit_events_p<month>_timestamp_id_idx RENAME TO idx_audit_timestamp_id_p<month>;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_p<month> FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

ALTER INDEX audit_events_p<month>_pkey RENAME TO audit_events_pkey_p<month>;

ALTER INDEX audit_events_p<month>_correlation_id_idx RENAME TO idx_audit_correlation_p<month>;

ALTER INDEX audit_events_p<month>_timestamp_id_idx RENAME TO idx_audit_timestamp_id_p<month>;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_p<month> FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'audit_events_p<month>'::regclass;

ALTER INDEX audit_events_p<month>_pkey RENAME TO audit_events_pkey_p<month>;

ALTER INDEX audit_events_p<month>_correlation_id_idx RENAME TO idx_audit_correlation_p<month>;

ALTER INDEX audit_events_p<month>_timestamp_id_idx RENAME TO idx_audit_timestamp_id_p<month>;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS i;

SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('cost_tracking') AND relkind = 'p') AS p;

SELECT COALESCE('ALTER TABLE cost_tracking ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ')) AS statement FROM pg_index x LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid WHERE x.indrelid = 'cost_tracking'::regclass ORDER BY x.indexrelid;

SELECT pg_get_triggerdef(oid) AS statement FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgparentid = 0 ORDER BY oid;

ALTER TABLE cost_tracking RENAME TO cost_tracking_rebuilt_from;

CREATE TABLE cost_tracking (LIKE cost_tracking_rebuilt_from INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ("timestamp");

SELECT EXTRACT(YEAR FROM now() AT TIME ZONE 'UTC')::int AS y, EXTRACT(MONTH FROM now() AT TIME ZONE 'UTC')::int AS m;

SELECT EXTRACT(YEAR FROM min("timestamp") AT TIME ZONE 'UTC')::int AS y0, EXTRACT(MONTH FROM min("timestamp") AT TIME ZONE 'UTC')::int AS m0, EXTRACT(YEAR FROM max("timestamp") AT TIME ZONE 'UTC')::int AS y1, EXTRACT(MONTH FROM max("timestamp") AT TIME ZONE 'UTC')::int AS m1 FROM cost_tracking_rebuilt_from;

SELECT to_regclass('cost_tracking_p<month>') IS NOT NULL AS e;

CREATE TABLE cost_tracking_p<month> PARTITION OF cost_tracking FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

SELECT to_regclass('cost_tracking_p<month>') IS NOT NULL AS e;

CREATE TABLE cost_tracking_p<month> PARTITION OF cost_tracking FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

SELECT to_regclass('cost_tracking_p<month>') IS NOT NULL AS e;

CREATE TABLE cost_tracking_p<month> PARTITION OF cost_tracking FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

SELECT to_regclass('cost_tracking_p<month>') IS NOT NULL AS e;

CREATE TABLE cost_tracking_p<month> PARTITION OF cost_tracking FOR VALUES FROM ('<date> 00:00:00+00') TO ('<date> 00:00:00+00');

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

INSERT INTO cost_tracking SELECT * FROM cost_tracking_rebuilt_from;

SELECT quote_ident(attname) AS col, pg_get_serial_sequence('cost_tracking_rebuilt_from', attname) AS seq, attidentity <> '' AS identity FROM pg_attribute WHERE attrelid = 'cost_tracking_rebuilt_from'::regclass AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence('cost_tracking_rebuilt_from', attname) IS NOT NULL;

SELECT pg_get_serial_sequence('cost_tracking', 'id') AS seq, setval(pg_get_serial_sequence('cost_tracking', 'id'), last_value, is_called) AS v FROM public.cost_tracking_id_seq;

DROP TABLE cost_tracking_rebuilt_from;

ALTER SEQUENCE public.cost_tracking_id_seq1 RENAME TO cost_tracking_id_seq;

ALTER TABLE cost_tracking ADD CONSTRAINT cost_tracking_pkey PRIMARY KEY (id, "timestamp");

CREATE INDEX idx_cost_timestamp ON public.cost_tracking USING btree ("timestamp" DESC);

CREATE INDEX idx_cost_principal_timestamp ON public.cost_tracking USING btree (principal_id, "timestamp", actual_cost_micros, estimated_cost_micros);

CREATE TABLE cost_tracking_default PARTITION OF cost_tracking DEFAULT;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_default'::regclass;

ALTER INDEX cost_tracking_default_pkey RENAME TO cost_tracking_pkey_default;

ALTER INDEX cost_tracking_default_timestamp_idx RENAME TO idx_cost_timestamp_default;

ALTER INDEX cost_tracking_default_principal_id_timestamp_actual_cost_mi_idx RENAME TO idx_cost_principal_timestamp_default;

SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'cost_tracking'::regclass AND c.relname <> 'cost_tracking_default';

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

ALTER INDEX cost_tracking_p<month>_pkey RENAME TO cost_tracking_pkey_p<month>;

ALTER INDEX cost_tracking_p<month>_timestamp_idx RENAME TO idx_cost_timestamp_p<month>;

ALTER INDEX cost_tracking_p<month>_principal_id_timestamp_actual_cost_m_idx RENAME TO idx_cost_principal_timestamp_p<month>;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

ALTER INDEX cost_tracking_p<month>_pkey RENAME TO cost_tracking_pkey_p<month>;

ALTER INDEX cost_tracking_p<month>_timestamp_idx RENAME TO idx_cost_timestamp_p<month>;

ALTER INDEX cost_tracking_p<month>_principal_id_timestamp_actual_cost_m_idx RENAME TO idx_cost_principal_timestamp_p<month>;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

ALTER INDEX cost_tracking_p<month>_pkey RENAME TO cost_tracking_pkey_p<month>;

ALTER INDEX cost_tracking_p<month>_timestamp_idx RENAME TO idx_cost_timestamp_p<month>;

ALTER INDEX cost_tracking_p<month>_principal_id_timestamp_actual_cost_m_idx RENAME TO idx_cost_principal_timestamp_p<month>;

SELECT tgname, tgfoid::regproc::text AS function FROM pg_trigger WHERE tgrelid = 'cost_tracking'::regclass AND NOT tgisinternal AND tgtype & 32 <> 0;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus;

SELECT c.relname AS child, p.relname AS parent FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'cost_tracking_p<month>'::regclass;

ALTER INDEX cost_tracking_p<month>_pkey RENAME TO cost_tracking_pkey_p<month>;

ALTER INDEX cost_tracking_p<month>_timestamp_idx RENAME TO idx_cost_timestamp_p<month>;

ALTER INDEX cost_tracking_p<month>_principal_id_timestamp_actual_cost_m_idx RENAME TO idx_cost_principal_timestamp_p<month>;

COMMIT;

