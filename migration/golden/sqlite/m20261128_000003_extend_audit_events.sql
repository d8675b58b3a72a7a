ALTER TABLE "audit_events" ADD COLUMN "principal_org" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "resource_protocol" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "capability_id" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "correlation_id" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "source_node" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "target_node" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "estimated_cost_micros" integer NULL;

ALTER TABLE "audit_events" ADD COLUMN "actual_cost_micros" integer NULL;

CREATE INDEX "idx_audit_correlation" ON "audit_events" ("correlation_id");

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END;;

