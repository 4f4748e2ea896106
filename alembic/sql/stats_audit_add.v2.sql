-- stats_audit_add v2 (migration 0028): v1 with the process counters (stats_audit_counts type v2).
-- v1 (migration 0024): adds plus - minus (either NULL for none) to the audit counters of one day,
-- grid and category in stats_daily (the row is there when the event is: stats_event made it;
-- created with the other counters 0 otherwise).
CREATE OR REPLACE FUNCTION stats_audit_add(
  p_day date, p_grid integer, p_category integer,
  plus stats_audit_counts, minus stats_audit_counts
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  zero stats_audit_counts := ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)::stats_audit_counts;
BEGIN
  IF plus IS NULL THEN plus := zero; END IF;
  IF minus IS NULL THEN minus := zero; END IF;
  IF plus = minus THEN RETURN; END IF;
  INSERT INTO stats_daily AS s (day, grid_id, category_id, reported, voided, registered,
                                public_registered, dispatched, dispatched_on_time, redispatches,
                                escalations, handled, handled_on_time, reworks, closed,
                                closed_on_time, closed_level0, closed_le2, handled_on_promise,
                                ever_registered, registered_on_time, voided_after_registration,
                                reviews, reviews_on_time, dispatched_cases, extended_cases,
                                parked_cases, returned_cases, reopened_cases)
  VALUES (p_day, p_grid, p_category, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          plus.ever_registered - minus.ever_registered,
          plus.registered_on_time - minus.registered_on_time,
          plus.voided_after_registration - minus.voided_after_registration,
          plus.reviews - minus.reviews,
          plus.reviews_on_time - minus.reviews_on_time,
          plus.dispatched_cases - minus.dispatched_cases,
          plus.extended_cases - minus.extended_cases,
          plus.parked_cases - minus.parked_cases,
          plus.returned_cases - minus.returned_cases,
          plus.reopened_cases - minus.reopened_cases)
  ON CONFLICT (day, grid_id, category_id) DO UPDATE SET
    ever_registered = s.ever_registered + EXCLUDED.ever_registered,
    registered_on_time = s.registered_on_time + EXCLUDED.registered_on_time,
    voided_after_registration = s.voided_after_registration + EXCLUDED.voided_after_registration,
    reviews = s.reviews + EXCLUDED.reviews,
    reviews_on_time = s.reviews_on_time + EXCLUDED.reviews_on_time,
    dispatched_cases = s.dispatched_cases + EXCLUDED.dispatched_cases,
    extended_cases = s.extended_cases + EXCLUDED.extended_cases,
    parked_cases = s.parked_cases + EXCLUDED.parked_cases,
    returned_cases = s.returned_cases + EXCLUDED.returned_cases,
    reopened_cases = s.reopened_cases + EXCLUDED.reopened_cases;
END
$$;
