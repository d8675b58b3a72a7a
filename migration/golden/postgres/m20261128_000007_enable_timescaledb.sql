SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AND current_setting('shared_preload_libraries') ~ 'timescaledb') AS usable;

COMMIT;

