SELECT CAST(id AS TEXT) FROM cost_tracking WHERE NOT (estimated_cost_micros >= 0 AND actual_cost_micros >= 0) ORDER BY 1;

SELECT id FROM audit_events WHERE NOT (estimated_cost_micros >= 0 AND actual_cost_micros >= 0) ORDER BY 1;

SELECT principal_id FROM principal_budgets WHERE NOT (daily_budget_micros >= 0 AND monthly_budget_micros >= 0 AND daily_spent_micros >= 0 AND monthly_spent_micros >= 0) ORDER BY 1;

SELECT id FROM resources WHERE NOT (protocol IN ('mcp', 'http', 'grpc')) ORDER BY 1;

SELECT id FROM audit_events WHERE NOT (resource_protocol IN ('mcp', 'http', 'grpc')) ORDER BY 1;

SELECT id FROM resources WHERE NOT (sensitivity_level IN ('low', 'medium', 'high', 'critical')) ORDER BY 1;

SELECT id FROM capabilities WHERE NOT (sensitivity_level IN ('low', 'medium', 'high', 'critical')) ORDER BY 1;

SELECT id FROM federation_nodes WHERE NOT (rate_limit_per_hour > 0) ORDER BY 1;

SELECT id FROM capabilities c WHERE EXISTS (SELECT 1 FROM capabilities d WHERE d.resource_id = c.resource_id AND d.name = c.name AND d.id <> c.id) ORDER BY id;

ALTER TABLE cost_tracking ADD CONSTRAINT ck_cost_tracking_micros CHECK (estimated_cost_micros >= 0 AND actual_cost_micros >= 0);

ALTER TABLE audit_events ADD CONSTRAINT ck_audit_events_micros CHECK (estimated_cost_micros >= 0 AND actual_cost_micros >= 0);

ALTER TABLE principal_budgets ADD CONSTRAINT ck_principal_budgets_micros CHECK (daily_budget_micros >= 0 AND monthly_budget_micros >= 0 AND daily_spent_micros >= 0 AND monthly_spent_micros >= 0);

ALTER TABLE resources ADD CONSTRAINT ck_resources_protocol CHECK (protocol IN ('mcp', 'http', 'grpc'));

ALTER TABLE audit_events ADD CONSTRAINT ck_audit_events_resource_protocol CHECK (resource_protocol IN ('mcp', 'http', 'grpc'));

ALTER TABLE resources ADD CONSTRAINT ck_resources_sensitivity CHECK (sensitivity_level IN ('low', 'medium', 'high', 'critical'));

ALTER TABLE capabilities ADD CONSTRAINT ck_capabilities_sensitivity CHECK (sensitivity_level IN ('low', 'medium', 'high', 'critical'));

ALTER TABLE federation_nodes ADD CONSTRAINT ck_federation_nodes_rate_limit CHECK (rate_limit_per_hour > 0);

CREATE UNIQUE INDEX "uq_capabilities_resource_name" ON "capabilities" ("resource_id", "name");

COMMIT;

