-- stats_patrol_walks v2 (migration 0005): the entry point the triggers call, now through
-- stats_walks.
CREATE OR REPLACE FUNCTION stats_patrol_walks(p patrol) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT stats_walks(p, EXISTS (SELECT 1 FROM patrol_point pp WHERE pp.patrol_id = p.id))
$$;
