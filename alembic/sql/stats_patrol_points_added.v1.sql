-- stats_patrol_points_added v1 and its trigger stats_patrol_points_insert (migration
-- 0004): a patrol's first GPS point makes it one that walked.
CREATE OR REPLACE FUNCTION stats_patrol_points_added() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO stats_patrol_walked (patrol_id, day, grid_id)
  SELECT DISTINCT p.id, stats_day(p.started_at), p.grid_id
    FROM new_points np JOIN patrol p ON p.id = np.patrol_id
  ON CONFLICT (patrol_id) DO NOTHING;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_patrol_points_insert AFTER INSERT ON patrol_point
REFERENCING NEW TABLE AS new_points
FOR EACH STATEMENT EXECUTE FUNCTION stats_patrol_points_added();
