CREATE TABLE "cost_idempotency_keys_rebuilt" ( "principal_id" varchar NOT NULL, "key" varchar NOT NULL, "payload" text NOT NULL, "outcome" text NULL, "created_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("principal_id", "key") );

INSERT INTO cost_idempotency_keys_rebuilt (principal_id, "key", payload, outcome, created_at) SELECT COALESCE(CAST(payload AS jsonb) ->> 'principal_id', ''), "key", payload, outcome, created_at FROM cost_idempotency_keys;

DROP TABLE "cost_idempotency_keys";

ALTER TABLE "cost_idempotency_keys_rebuilt" RENAME TO "cost_idempotency_keys";

ALTER TABLE cost_idempotency_keys RENAME CONSTRAINT cost_idempotency_keys_rebuilt_pkey TO cost_idempotency_keys_pkey;

COMMIT;

