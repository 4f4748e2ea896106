-- stats_walks v1 (migration 0005): the definition stats_patrol_walks (v2) delegates to.
CREATE OR REPLACE FUNCTION stats_walks(p patrol, has_points boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT p.track IS NOT NULL OR has_points $$;
