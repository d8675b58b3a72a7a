ALTER TABLE "audit_events" ADD COLUMN "principal_org" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "resource_protocol" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "capability_id" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "correlation_id" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "source_node" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "target_node" varchar NULL;

ALTER TABLE "audit_events" ADD COLUMN "estimated_cost_micros" bigint NULL;

ALTER TABLE "audit_events" ADD COLUMN "actual_cost_micros" bigint NULL;

CREATE INDEX "idx_audit_correlation" ON "audit_events" ("correlation_id");

CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();;

COMMIT;

