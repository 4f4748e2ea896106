-- stats_dispatch_limit v1 (migration 0004): the dispatch time limit (stats_setting
-- 'dispatch_limit_minutes', 10 minutes if unset).
CREATE OR REPLACE FUNCTION stats_dispatch_limit() RETURNS interval
LANGUAGE sql STABLE
AS $$
  SELECT make_interval(secs => coalesce(
    (SELECT value FROM stats_setting WHERE key = 'dispatch_limit_minutes'), 10) * 60)
$$;
