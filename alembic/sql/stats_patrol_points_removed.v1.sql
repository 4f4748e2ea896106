-- stats_patrol_points_removed v1 and its trigger stats_patrol_points_delete
-- (migration 0004): a patrol left without points or track no longer walked.
CREATE OR REPLACE FUNCTION stats_patrol_points_removed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM stats_patrol_walked w
   USING (SELECT DISTINCT patrol_id FROM old_points) op
   WHERE w.patrol_id = op.patrol_id
     AND NOT EXISTS (SELECT 1 FROM patrol p WHERE p.id = op.patrol_id AND stats_patrol_walks(p));
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_patrol_points_delete AFTER DELETE ON patrol_point
REFERENCING OLD TABLE AS old_points
FOR EACH STATEMENT EXECUTE FUNCTION stats_patrol_points_removed();
