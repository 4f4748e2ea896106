-- stats_add v2 (migration 0019): v1 with the counter handled_on_promise (stats_counts type v2).
-- v1 (migration 0004): adds plus - minus (and the dispatched-on-time delta) to
-- the counters of one day, grid and category.
CREATE OR REPLACE FUNCTION stats_add(
  p_day date, p_grid integer, p_category integer,
  plus stats_counts, minus stats_counts, p_dispatched_on_time integer
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  zero stats_counts := ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)::stats_counts;
BEGIN
  IF plus IS NULL THEN plus := zero; END IF;
  IF minus IS NULL THEN minus := zero; END IF;
  INSERT INTO stats_daily AS s (day, grid_id, category_id, reported, voided, registered, public_registered, dispatched, dispatched_on_time, redispatches, escalations, handled, handled_on_time, reworks, closed, closed_on_time, closed_level0, closed_le2, handled_on_promise)
  VALUES (p_day, p_grid, p_category, plus.reported - minus.reported, plus.voided - minus.voided, plus.registered - minus.registered, plus.public_registered - minus.public_registered, plus.dispatched - minus.dispatched, p_dispatched_on_time, plus.redispatches - minus.redispatches, plus.escalations - minus.escalations, plus.handled - minus.handled, plus.handled_on_time - minus.handled_on_time, plus.reworks - minus.reworks, plus.closed - minus.closed, plus.closed_on_time - minus.closed_on_time, plus.closed_level0 - minus.closed_level0, plus.closed_le2 - minus.closed_le2, plus.handled_on_promise - minus.handled_on_promise)
  ON CONFLICT (day, grid_id, category_id) DO UPDATE SET reported = s.reported + EXCLUDED.reported, voided = s.voided + EXCLUDED.voided, registered = s.registered + EXCLUDED.registered, public_registered = s.public_registered + EXCLUDED.public_registered, dispatched = s.dispatched + EXCLUDED.dispatched, dispatched_on_time = s.dispatched_on_time + EXCLUDED.dispatched_on_time, redispatches = s.redispatches + EXCLUDED.redispatches, escalations = s.escalations + EXCLUDED.escalations, handled = s.handled + EXCLUDED.handled, handled_on_time = s.handled_on_time + EXCLUDED.handled_on_time, reworks = s.reworks + EXCLUDED.reworks, closed = s.closed + EXCLUDED.closed, closed_on_time = s.closed_on_time + EXCLUDED.closed_on_time, closed_level0 = s.closed_level0 + EXCLUDED.closed_level0, closed_le2 = s.closed_le2 + EXCLUDED.closed_le2, handled_on_promise = s.handled_on_promise + EXCLUDED.handled_on_promise;
END
$$;
