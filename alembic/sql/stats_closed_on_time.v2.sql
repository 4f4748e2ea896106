-- stats_closed_on_time v2 (migration 0005): the entry point the triggers call, now
-- through stats_on_time.
CREATE OR REPLACE FUNCTION stats_closed_on_time(e event) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT stats_on_time(e, (SELECT c.resolve_minutes FROM category c WHERE c.id = e.category_id))
$$;
