-- PostgreSQL: audit events, many at once, in one statement whose text never changes with their
-- number, skipping any whose id and timestamp are stored already (a retried call's event). $1
-- is a JSON array of objects, one per event, each keyed by column name (a missing or null key
-- is NULL; timestamps as ISO 8601 text, details as JSON); the record type of the table itself
-- lines the columns up.
INSERT INTO audit_events
SELECT * FROM jsonb_populate_recordset(NULL::audit_events, $1::jsonb)
ON CONFLICT (id, "timestamp") DO NOTHING
