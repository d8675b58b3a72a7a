DROP INDEX IF EXISTS "idx_cost_principal";

COMMIT;

