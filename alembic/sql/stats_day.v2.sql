-- stats_day v2 (migration 0009): the calendar day of an instant in the service's time zone,
-- wangge_timezone() (v1 had the zone written in). Statistics days are the report's
-- (created_at) local calendar days.
CREATE OR REPLACE FUNCTION stats_day(ts timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (ts AT TIME ZONE wangge_timezone())::date $$;
