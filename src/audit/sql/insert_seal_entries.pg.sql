-- PostgreSQL: one page of a seal's entries in one statement whose text never changes with their
-- number. $1 is the seal's number; $2, $3 and $4 the events' timestamps, ids and hashes, in the
-- same order.
INSERT INTO audit_seal_entries (seal_seq, "timestamp", event_id, hash)
SELECT $1, t, e, h FROM UNNEST($2::timestamptz[], $3::text[], $4::text[]) AS u(t, e, h)
