-- stats_dispatch_on_time v2 (migration 0028): dispatched on time against the event's own dispatch
-- deadline (dispatch_due_at: the 派遣 stage clock's, working time on the category's calendar,
-- migration 0027) where it has one; an event registered before 0027 has none and keeps v1's
-- rule, within the global limit (stats_setting dispatch_limit_minutes) of the report.
-- v1 (migration 0005): the definition stats_first_dispatch_on_time (v2) delegates to.
-- Dispatched on time: the first dispatch (from registered, its audit row's time) came within
-- the limit of the report. Without that row (an event row written alone), the event's own
-- dispatched_at when nothing has moved it since.
CREATE OR REPLACE FUNCTION stats_dispatch_on_time(e event, first_dispatch timestamptz, lim interval)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN e.dispatched_at IS NULL THEN 0
    WHEN first_dispatch IS NOT NULL
      THEN coalesce(first_dispatch <= e.dispatch_due_at, first_dispatch - e.created_at <= lim)::int
    WHEN e.redispatch_count = 0 AND e.rework_count = 0 AND e.escalation_count = 0
      THEN coalesce(e.dispatched_at <= e.dispatch_due_at,
                    e.dispatched_at - e.created_at <= lim)::int
    ELSE 0 END
$$;
