CREATE TABLE "cost_idempotency_keys_rebuilt" ( "principal_id" varchar NOT NULL, "key" varchar NOT NULL, "payload" text NOT NULL, "outcome" text NULL, "created_at" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("principal_id", "key") );

INSERT INTO cost_idempotency_keys_rebuilt (principal_id, "key", payload, outcome, created_at) SELECT COALESCE(json_extract(payload, '$.principal_id'), ''), "key", payload, outcome, created_at FROM cost_idempotency_keys;

DROP TABLE "cost_idempotency_keys";

ALTER TABLE "cost_idempotency_keys_rebuilt" RENAME TO "cost_idempotency_keys";

