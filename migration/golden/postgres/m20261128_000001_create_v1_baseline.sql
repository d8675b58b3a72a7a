CREATE TABLE IF NOT EXISTS "mcp_servers" ( "id" varchar NOT NULL PRIMARY KEY, "name" varchar NOT NULL, "description" text NULL, "transport" varchar NOT NULL, "command" varchar NULL, "args" jsonb NULL, "env" jsonb NULL, "endpoint" varchar NULL, "sensitivity_level" varchar NULL, "metadata" jsonb NULL, "created_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP );

CREATE TABLE IF NOT EXISTS "mcp_tools" ( "id" varchar NOT NULL PRIMARY KEY, "server_id" varchar NOT NULL, "name" varchar NOT NULL, "description" text NULL, "input_schema" jsonb NULL, "sensitivity_level" varchar NULL, "requires_approval" bool NOT NULL DEFAULT FALSE, "metadata" jsonb NULL, CONSTRAINT "fk_mcp_tools_server" FOREIGN KEY ("server_id") REFERENCES "mcp_servers" ("id") ON DELETE CASCADE );

CREATE TABLE IF NOT EXISTS "audit_events" ( "id" varchar NOT NULL, "timestamp" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "event_type" varchar NOT NULL, "severity" varchar NOT NULL DEFAULT 'low', "user_id" varchar NULL, "user_email" varchar NULL, "server_id" varchar NULL, "tool_name" varchar NULL, "decision" varchar NULL, "policy_id" varchar NULL, "ip_address" varchar NULL, "user_agent" varchar NULL, "request_id" varchar NULL, "details" jsonb NOT NULL DEFAULT '{}', PRIMARY KEY ("id", "timestamp") );

COMMIT;

