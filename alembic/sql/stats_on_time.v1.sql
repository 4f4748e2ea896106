-- stats_on_time v1 (migration 0005): the definition stats_closed_on_time (v2) delegates to;
-- the category's minutes as an argument, so the planner can inline it.
-- Closed on time: report -> close within the category's resolve_minutes (exact, in seconds).
CREATE OR REPLACE FUNCTION stats_on_time(e event, resolve_minutes double precision) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
  SELECT coalesce(e.status = 'closed'
         AND extract(epoch FROM e.closed_at - e.created_at) <= resolve_minutes * 60, false)
$$;
