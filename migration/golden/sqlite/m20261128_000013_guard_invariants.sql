SELECT CAST(id AS TEXT) FROM cost_tracking WHERE NOT (estimated_cost_micros >= 0 AND actual_cost_micros >= 0) ORDER BY 1;

SELECT id FROM audit_events WHERE NOT (estimated_cost_micros >= 0 AND actual_cost_micros >= 0) ORDER BY 1;

SELECT principal_id FROM principal_budgets WHERE NOT (daily_budget_micros >= 0 AND monthly_budget_micros >= 0 AND daily_spent_micros >= 0 AND monthly_spent_micros >= 0) ORDER BY 1;

SELECT id FROM resources WHERE NOT (protocol IN ('mcp', 'http', 'grpc')) ORDER BY 1;

SELECT id FROM audit_events WHERE NOT (resource_protocol IN ('mcp', 'http', 'grpc')) ORDER BY 1;

SELECT id FROM resources WHERE NOT (sensitivity_level IN ('low', 'medium', 'high', 'critical')) ORDER BY 1;

SELECT id FROM capabilities WHERE NOT (sensitivity_level IN ('low', 'medium', 'high', 'critical')) ORDER BY 1;

SELECT id FROM federation_nodes WHERE NOT (rate_limit_per_hour > 0) ORDER BY 1;

SELECT id FROM capabilities c WHERE EXISTS (SELECT 1 FROM capabilities d WHERE d.resource_id = c.resource_id AND d.name = c.name AND d.id <> c.id) ORDER BY id;

CREATE TRIGGER ck_cost_tracking_micros_insert BEFORE INSERT ON cost_tracking WHEN NOT (NEW.estimated_cost_micros >= 0 AND NEW.actual_cost_micros >= 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_cost_tracking_micros'); END;
CREATE TRIGGER ck_cost_tracking_micros_update BEFORE UPDATE ON cost_tracking WHEN NOT (NEW.estimated_cost_micros >= 0 AND NEW.actual_cost_micros >= 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_cost_tracking_micros'); END;;

CREATE TRIGGER ck_audit_events_micros_insert BEFORE INSERT ON audit_events WHEN NOT (NEW.estimated_cost_micros >= 0 AND NEW.actual_cost_micros >= 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_audit_events_micros'); END;
CREATE TRIGGER ck_audit_events_micros_update BEFORE UPDATE ON audit_events WHEN NOT (NEW.estimated_cost_micros >= 0 AND NEW.actual_cost_micros >= 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_audit_events_micros'); END;;

CREATE TRIGGER ck_principal_budgets_micros_insert BEFORE INSERT ON principal_budgets WHEN NOT (NEW.daily_budget_micros >= 0 AND NEW.monthly_budget_micros >= 0 AND NEW.daily_spent_micros >= 0 AND NEW.monthly_spent_micros >= 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_principal_budgets_micros'); END;
CREATE TRIGGER ck_principal_budgets_micros_update BEFORE UPDATE ON principal_budgets WHEN NOT (NEW.daily_budget_micros >= 0 AND NEW.monthly_budget_micros >= 0 AND NEW.daily_spent_micros >= 0 AND NEW.monthly_spent_micros >= 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_principal_budgets_micros'); END;;

CREATE TRIGGER ck_resources_protocol_insert BEFORE INSERT ON resources WHEN NOT (NEW.protocol IN ('mcp', 'http', 'grpc')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_resources_protocol'); END;
CREATE TRIGGER ck_resources_protocol_update BEFORE UPDATE ON resources WHEN NOT (NEW.protocol IN ('mcp', 'http', 'grpc')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_resources_protocol'); END;;

CREATE TRIGGER ck_audit_events_resource_protocol_insert BEFORE INSERT ON audit_events WHEN NOT (NEW.resource_protocol IN ('mcp', 'http', 'grpc')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_audit_events_resource_protocol'); END;
CREATE TRIGGER ck_audit_events_resource_protocol_update BEFORE UPDATE ON audit_events WHEN NOT (NEW.resource_protocol IN ('mcp', 'http', 'grpc')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_audit_events_resource_protocol'); END;;

CREATE TRIGGER ck_resources_sensitivity_insert BEFORE INSERT ON resources WHEN NOT (NEW.sensitivity_level IN ('low', 'medium', 'high', 'critical')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_resources_sensitivity'); END;
CREATE TRIGGER ck_resources_sensitivity_update BEFORE UPDATE ON resources WHEN NOT (NEW.sensitivity_level IN ('low', 'medium', 'high', 'critical')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_resources_sensitivity'); END;;

CREATE TRIGGER ck_capabilities_sensitivity_insert BEFORE INSERT ON capabilities WHEN NOT (NEW.sensitivity_level IN ('low', 'medium', 'high', 'critical')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_capabilities_sensitivity'); END;
CREATE TRIGGER ck_capabilities_sensitivity_update BEFORE UPDATE ON capabilities WHEN NOT (NEW.sensitivity_level IN ('low', 'medium', 'high', 'critical')) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_capabilities_sensitivity'); END;;

CREATE TRIGGER ck_federation_nodes_rate_limit_insert BEFORE INSERT ON federation_nodes WHEN NOT (NEW.rate_limit_per_hour > 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_federation_nodes_rate_limit'); END;
CREATE TRIGGER ck_federation_nodes_rate_limit_update BEFORE UPDATE ON federation_nodes WHEN NOT (NEW.rate_limit_per_hour > 0) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_federation_nodes_rate_limit'); END;;

CREATE UNIQUE INDEX "uq_capabilities_resource_name" ON "capabilities" ("resource_id", "name");

