CREATE TABLE "resources" ( "id" varchar NOT NULL PRIMARY KEY, "name" varchar NOT NULL, "protocol" varchar NOT NULL, "endpoint" varchar NOT NULL, "sensitivity_level" varchar NOT NULL DEFAULT 'medium', "metadata" jsonb NOT NULL DEFAULT '{}', "created_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP );

CREATE TABLE "capabilities" ( "id" varchar NOT NULL PRIMARY KEY, "resource_id" varchar NOT NULL, "name" varchar NOT NULL, "description" text NULL, "input_schema" jsonb NOT NULL DEFAULT '{}', "output_schema" jsonb NOT NULL DEFAULT '{}', "sensitivity_level" varchar NOT NULL DEFAULT 'medium', "metadata" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "fk_capabilities_resource" FOREIGN KEY ("resource_id") REFERENCES "resources" ("id") ON DELETE CASCADE );

CREATE INDEX "idx_resources_protocol" ON "resources" ("protocol");

CREATE INDEX "idx_resources_sensitivity" ON "resources" ("sensitivity_level");

CREATE INDEX "idx_capabilities_resource" ON "capabilities" ("resource_id");

CREATE INDEX "idx_capabilities_name" ON "capabilities" ("name");

COMMIT;

