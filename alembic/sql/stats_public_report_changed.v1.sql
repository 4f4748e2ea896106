-- stats_public_report_changed v1 and its trigger stats_public_report on public_report (migration
-- 0024): a report's verification (verified_at, outcome), or its public row written or removed,
-- changes the intake counters of the day it was received: minus what the old row gave, plus what
-- the new one gives (stats_intake_counts with the event row's source and link).
CREATE OR REPLACE FUNCTION stats_public_report_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  e_received timestamptz;
  e_grid integer;
  e_category integer;
  e_source text;
  e_duplicate bigint;
  o stats_intake_counts;
  n stats_intake_counts;
BEGIN
  SELECT ev.received_at, ev.grid_id, ev.category_id, ev.source, ev.duplicate_of
    INTO e_received, e_grid, e_category, e_source, e_duplicate
    FROM event ev WHERE ev.id = coalesce(NEW.event_id, OLD.event_id);
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- without a public row the report counts as a staff one would (1, and its link)
  o := stats_intake_counts(e_source, e_duplicate, false, NULL, NULL, NULL);
  n := o;
  IF TG_OP <> 'INSERT' THEN
    o := stats_intake_counts(e_source, e_duplicate, true, OLD.verify_due_at, OLD.verified_at,
                             OLD.outcome);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    n := stats_intake_counts(e_source, e_duplicate, true, NEW.verify_due_at, NEW.verified_at,
                             NEW.outcome);
  END IF;
  PERFORM stats_intake_add(stats_day(e_received), e_grid, e_category, n, o);
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_public_report AFTER INSERT OR UPDATE OR DELETE ON public_report
FOR EACH ROW EXECUTE FUNCTION stats_public_report_changed();
