-- stats_event_changed v1 and its trigger stats_event (migration 0004): keeps the
-- counters (stats_daily) and the resolution histogram (stats_resolution) in step with
-- each event row, in the writing transaction.
CREATE OR REPLACE FUNCTION stats_event_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  o stats_counts;
  n stats_counts;
  od date;
  nd date;
  first_on_time integer := 0;
  same_key boolean := false;
  o_closed boolean := false;
  n_closed boolean := false;
  om integer;
  nm integer;
  o_on integer;
  n_on integer;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    o := stats_counts_of(OLD);
    od := stats_day(OLD.created_at);
    o_closed := OLD.status = 'closed';
  END IF;
  IF TG_OP <> 'DELETE' THEN
    n := stats_counts_of(NEW);
    nd := stats_day(NEW.created_at);
    n_closed := NEW.status = 'closed';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    same_key := od = nd AND OLD.grid_id = NEW.grid_id AND OLD.category_id = NEW.category_id;
  END IF;

  IF same_key THEN
    IF OLD.dispatched_at IS NULL AND NEW.dispatched_at IS NOT NULL THEN
      first_on_time := (NEW.dispatched_at - NEW.created_at <= stats_dispatch_limit())::int;
    END IF;
    IF o IS DISTINCT FROM n OR first_on_time <> 0 THEN
      PERFORM stats_add(nd, NEW.grid_id, NEW.category_id, n, o, first_on_time);
    END IF;
  ELSE
    IF TG_OP <> 'INSERT' THEN
      PERFORM stats_add(od, OLD.grid_id, OLD.category_id, NULL, o,
                        -stats_first_dispatch_on_time(OLD));
    END IF;
    IF TG_OP <> 'DELETE' THEN
      PERFORM stats_add(nd, NEW.grid_id, NEW.category_id, n, NULL,
                        stats_first_dispatch_on_time(NEW));
    END IF;
  END IF;

  IF o_closed THEN
    om := stats_minutes(OLD.created_at, OLD.closed_at);
    o_on := stats_closed_on_time(OLD)::int;
  END IF;
  IF n_closed THEN
    nm := stats_minutes(NEW.created_at, NEW.closed_at);
    n_on := stats_closed_on_time(NEW)::int;
  END IF;
  IF o_closed AND n_closed AND same_key AND OLD.level = NEW.level AND om = nm AND o_on = n_on THEN
    RETURN NULL;
  END IF;
  IF o_closed THEN
    PERFORM stats_hist_add(od, OLD.grid_id, OLD.category_id, OLD.level, om, o_on, -1);
  END IF;
  IF n_closed THEN
    PERFORM stats_hist_add(nd, NEW.grid_id, NEW.category_id, NEW.level, nm, n_on, 1);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_event AFTER INSERT OR UPDATE OR DELETE ON event
FOR EACH ROW EXECUTE FUNCTION stats_event_changed();
