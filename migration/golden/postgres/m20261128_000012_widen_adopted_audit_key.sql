SELECT NOT EXISTS ( SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'audit_events'::regclass AND i.indisprimary AND a.attname = 'timestamp') AS lacks;

COMMIT;

