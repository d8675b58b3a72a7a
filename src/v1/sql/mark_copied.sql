-- Ends a copy: the rows list_pending.sql marked as being copied are now copied.
UPDATE v1_copied_rows
SET entity = CASE entity WHEN 'resource (copying)' THEN 'resource' ELSE 'capability' END
WHERE entity IN ('resource (copying)', 'capability (copying)')
