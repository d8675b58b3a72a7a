CREATE TABLE IF NOT EXISTS "sark_adopted_tables" ( "table_name" varchar NOT NULL PRIMARY KEY );

SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "name" AS "table_name" FROM "sqlite_master" WHERE "type" = ? AND "name" <> ? AND "table_name" = ?) AS "subquery";

SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "name" AS "table_name" FROM "sqlite_master" WHERE "type" = ? AND "name" <> ? AND "table_name" = ?) AS "subquery";

SELECT COUNT(*) > 0 AS "has_table" FROM (SELECT "name" AS "table_name" FROM "sqlite_master" WHERE "type" = ? AND "name" <> ? AND "table_name" = ?) AS "subquery";

