-- stats_closed_on_time v1 (migration 0004).
-- Closed on time: report -> close within the category's resolve_minutes (exact, in seconds).
CREATE OR REPLACE FUNCTION stats_closed_on_time(e event) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(e.status = 'closed' AND extract(epoch FROM e.closed_at - e.created_at)
         <= (SELECT c.resolve_minutes FROM category c WHERE c.id = e.category_id) * 60, false)
$$;
