CREATE INDEX "idx_audit_seals_range_end" ON "audit_seals" ("range_end");

COMMIT;

