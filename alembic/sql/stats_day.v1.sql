-- stats_day v1 (migration 0004): the calendar day of an instant, in Asia/Shanghai.
-- Statistics days are the report's (created_at) local calendar days.
CREATE OR REPLACE FUNCTION stats_day(ts timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (ts AT TIME ZONE 'Asia/Shanghai')::date $$;
