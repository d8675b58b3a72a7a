-- PostgreSQL: audit events, many at once, in one statement whose text never changes with their
-- number: one array a column ($1 the ids, $2 the timestamps, …), every column in the entity's
-- order, a NULL element for NULL. The server takes binary arrays element by element, without
-- parsing text.
INSERT INTO audit_events (id, "timestamp", event_type, severity, user_id, user_email, server_id,
    tool_name, decision, policy_id, ip_address, user_agent, request_id, details, principal_org,
    resource_protocol, capability_id, correlation_id, source_node, target_node,
    estimated_cost_micros, actual_cost_micros)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
    $14::jsonb[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
    $21::int8[], $22::int8[])
