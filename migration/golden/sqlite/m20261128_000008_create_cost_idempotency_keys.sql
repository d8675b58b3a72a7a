CREATE TABLE "cost_idempotency_keys" ( "key" varchar NOT NULL PRIMARY KEY, "payload" text NOT NULL, "outcome" text NULL, "created_at" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP );

CREATE INDEX "idx_cost_principal_timestamp" ON "cost_tracking" ("principal_id", "timestamp", "actual_cost_micros", "estimated_cost_micros");

