-- stats_patrol_walks v1 (migration 0004).
-- A patrol walked when it has a track or at least one GPS point (as patrol_coverage counts).
CREATE OR REPLACE FUNCTION stats_patrol_walks(p patrol) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT p.track IS NOT NULL OR EXISTS (SELECT 1 FROM patrol_point pp WHERE pp.patrol_id = p.id)
$$;
