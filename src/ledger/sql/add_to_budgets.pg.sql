-- Adds what a locked group admitted to each principal's counters, under the rows' lock: a
-- window the row counts already gains the amount, a newer one starts from it.
--
-- $1 varchar[]      the principals
-- $2 timestamptz[]  the newest UTC day each now counts
-- $3 int8[]         what that day gained (its whole spend when newer than the row's)
-- $4 timestamptz[]  the newest UTC month each now counts
-- $5 int8[]         what that month gained (its whole spend when newer than the row's)
-- $6 timestamptz    now: updated_at
UPDATE principal_budgets AS b SET
    daily_spent_micros = CASE WHEN b.last_daily_reset = v.day THEN b.daily_spent_micros + v.daily ELSE v.daily END,
    monthly_spent_micros = CASE WHEN b.last_monthly_reset = v.month THEN b.monthly_spent_micros + v.monthly ELSE v.monthly END,
    last_daily_reset = v.day,
    last_monthly_reset = v.month,
    updated_at = $6
FROM UNNEST($1::varchar[], $2::timestamptz[], $3::int8[], $4::timestamptz[], $5::int8[])
    AS v(principal_id, day, daily, month, monthly)
WHERE b.principal_id = v.principal_id
