CREATE TABLE "federation_nodes" ( "id" varchar NOT NULL PRIMARY KEY, "node_id" varchar NOT NULL UNIQUE, "name" varchar NOT NULL, "endpoint" varchar NOT NULL, "trust_anchor_cert" text NOT NULL, "enabled" bool NOT NULL DEFAULT TRUE, "trusted_since" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "rate_limit_per_hour" integer NOT NULL DEFAULT 10000, "metadata" jsonb NOT NULL DEFAULT '{}', "created_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP );

COMMIT;

