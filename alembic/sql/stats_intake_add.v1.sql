-- stats_intake_add v1 (migration 0024): adds plus - minus (either NULL for none) to the intake
-- counters of one day (the day the report was received), grid and category in stats_daily,
-- creating the row with the other counters 0 when the day has no report registered on it.
CREATE OR REPLACE FUNCTION stats_intake_add(
  p_day date, p_grid integer, p_category integer,
  plus stats_intake_counts, minus stats_intake_counts
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  zero stats_intake_counts := ROW(0, 0, 0, 0, 0, 0, 0)::stats_intake_counts;
BEGIN
  IF plus IS NULL THEN plus := zero; END IF;
  IF minus IS NULL THEN minus := zero; END IF;
  IF plus = minus THEN RETURN; END IF;
  INSERT INTO stats_daily AS s (day, grid_id, category_id, reported, voided, registered,
                                public_registered, dispatched, dispatched_on_time, redispatches,
                                escalations, handled, handled_on_time, reworks, closed,
                                closed_on_time, closed_level0, closed_le2, handled_on_promise,
                                all_reports, linked_reports, public_reports, verifications_done,
                                verified_on_time, public_decided, public_valid)
  VALUES (p_day, p_grid, p_category, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          plus.all_reports - minus.all_reports,
          plus.linked_reports - minus.linked_reports,
          plus.public_reports - minus.public_reports,
          plus.verifications_done - minus.verifications_done,
          plus.verified_on_time - minus.verified_on_time,
          plus.public_decided - minus.public_decided,
          plus.public_valid - minus.public_valid)
  ON CONFLICT (day, grid_id, category_id) DO UPDATE SET
    all_reports = s.all_reports + EXCLUDED.all_reports,
    linked_reports = s.linked_reports + EXCLUDED.linked_reports,
    public_reports = s.public_reports + EXCLUDED.public_reports,
    verifications_done = s.verifications_done + EXCLUDED.verifications_done,
    verified_on_time = s.verified_on_time + EXCLUDED.verified_on_time,
    public_decided = s.public_decided + EXCLUDED.public_decided,
    public_valid = s.public_valid + EXCLUDED.public_valid;
END
$$;
