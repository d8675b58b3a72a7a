CREATE INDEX "idx_audit_timestamp_id" ON "audit_events" ("timestamp", "id");

COMMIT;

