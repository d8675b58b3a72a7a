CREATE INDEX idx_audit_timestamp_id ON audit_events ((substr("timestamp", 1, 19) || '.' || substr(substr("timestamp", 21, max(length("timestamp") - 21, 0)) || '000000', 1, 6)), id);

