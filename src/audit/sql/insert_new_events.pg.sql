-- PostgreSQL: audit events, many at once, in one statement whose text never changes with their
-- number, skipping any whose id and timestamp are stored already (a retried call's event). $1
-- is a JSON array of objects as in insert_events.pg.sql.
INSERT INTO audit_events
SELECT * FROM jsonb_populate_recordset(NULL::audit_events, $1::jsonb)
ON CONFLICT (id, "timestamp") DO NOTHING
