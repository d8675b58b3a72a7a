CREATE TABLE IF NOT EXISTS "sark_adopted_tables" ( "table_name" varchar NOT NULL PRIMARY KEY );

SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "table_name" AS "table_name" FROM "information_schema"."tables" WHERE (CURRENT_SCHEMA()) = "tables"."table_schema" AND "table_type" = $1 AND "table_name" = $2) AS "subquery";

SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "table_name" AS "table_name" FROM "information_schema"."tables" WHERE (CURRENT_SCHEMA()) = "tables"."table_schema" AND "table_type" = $1 AND "table_name" = $2) AS "subquery";

SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "table_name" AS "table_name" FROM "information_schema"."tables" WHERE (CURRENT_SCHEMA()) = "tables"."table_schema" AND "table_type" = $1 AND "table_name" = $2) AS "subquery";

COMMIT;

