CREATE TABLE "principal_budgets" ( "principal_id" varchar NOT NULL PRIMARY KEY, "daily_budget_micros" bigint NULL, "monthly_budget_micros" bigint NULL, "daily_spent_micros" bigint NOT NULL DEFAULT 0, "monthly_spent_micros" bigint NOT NULL DEFAULT 0, "last_daily_reset" timestamp with time zone NULL, "last_monthly_reset" timestamp with time zone NULL, "currency" varchar NOT NULL DEFAULT 'USD', "created_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP );

COMMIT;

