CREATE TABLE "cost_tracking" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "timestamp" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, "principal_id" varchar NOT NULL, "resource_id" varchar NOT NULL, "capability_id" varchar NOT NULL, "estimated_cost_micros" integer NULL, "actual_cost_micros" integer NULL, "metadata" jsonb_text NOT NULL DEFAULT '{}' );

CREATE INDEX "idx_cost_timestamp" ON "cost_tracking" ("timestamp" DESC);

CREATE INDEX "idx_cost_principal" ON "cost_tracking" ("principal_id");

