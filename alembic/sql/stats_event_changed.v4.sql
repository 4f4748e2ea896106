-- stats_event_changed v4 and its trigger stats_event (migration 0028): v3, and
-- - a first dispatch is on time by the event's own dispatch deadline (dispatch_due_at, the 派遣
--   stage clock's, migration 0027), or, for an event without one (registered before 0027),
--   within the global limit of the report (stats_dispatch_on_time v2's rule);
-- - dispatched_cases (the process rates' denominator, an audit counter: stats_audit_counts
--   v2, which now takes the event row) follows dispatched_at: +1 when it is set, -1 when it is
--   cleared, and with the event when it is added, deleted or moved;
-- - a closed event with its working time (resolution_working_time, set by the lifecycle at the
--   close) is also in the working-time histogram (stats_resolution_working, whole minutes like
--   the wall one; stats_hist_add v2).
-- v3 (migration 0024): v2, and
-- - when an event's report day, grid or category changes (or it is deleted), its audit counters
--   (stats_audit_counts, from its audit rows) move with it; a new event has no audit rows yet.
--   Kept per audit row otherwise (stats_audit_changed);
-- - its intake counters (stats_intake_counts, on the day it was received): added for a new event
--   (its public row comes after it: stats_public_report_changed), moved or changed when its
--   received day, grid, category, source or link changes, removed with it.
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
  o_minutes double precision;
  owm integer;
  nwm integer;
  n_minutes double precision;
  p public_report;
  dispatched stats_audit_counts;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    SELECT c.resolve_minutes INTO o_minutes FROM category c WHERE c.id = OLD.category_id;
    o := stats_counts(OLD, o_minutes);
    od := stats_day(OLD.created_at);
    o_closed := OLD.status = 'closed';
  END IF;
  IF TG_OP <> 'DELETE' THEN
    SELECT c.resolve_minutes INTO n_minutes FROM category c WHERE c.id = NEW.category_id;
    n := stats_counts(NEW, n_minutes);
    nd := stats_day(NEW.created_at);
    n_closed := NEW.status = 'closed';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    same_key := od = nd AND OLD.grid_id = NEW.grid_id AND OLD.category_id = NEW.category_id;
  END IF;

  IF same_key THEN
    IF OLD.dispatched_at IS NULL AND NEW.dispatched_at IS NOT NULL THEN
      first_on_time := coalesce(NEW.dispatched_at <= NEW.dispatch_due_at,
                                NEW.dispatched_at - NEW.created_at <= stats_dispatch_limit())::int;
    END IF;
    IF o IS DISTINCT FROM n OR first_on_time <> 0 THEN
      PERFORM stats_add(nd, NEW.grid_id, NEW.category_id, n, o, first_on_time);
    END IF;
    IF (OLD.dispatched_at IS NULL) <> (NEW.dispatched_at IS NULL) THEN
      dispatched := ROW(0, 0, 0, 0, 0, 1, 0, 0, 0, 0)::stats_audit_counts;
      IF NEW.dispatched_at IS NULL THEN
        PERFORM stats_audit_add(nd, NEW.grid_id, NEW.category_id, NULL, dispatched);
      ELSE
        PERFORM stats_audit_add(nd, NEW.grid_id, NEW.category_id, dispatched, NULL);
      END IF;
    END IF;
  ELSE
    IF TG_OP <> 'INSERT' THEN
      PERFORM stats_add(od, OLD.grid_id, OLD.category_id, NULL, o,
                        -CASE WHEN OLD.dispatched_at IS NULL THEN 0 ELSE stats_first_dispatch_on_time(OLD) END);
      PERFORM stats_audit_add(od, OLD.grid_id, OLD.category_id, NULL, stats_audit_counts(OLD));
    END IF;
    IF TG_OP <> 'DELETE' THEN
      PERFORM stats_add(nd, NEW.grid_id, NEW.category_id, n, NULL,
                        CASE WHEN NEW.dispatched_at IS NULL THEN 0 ELSE stats_first_dispatch_on_time(NEW) END);
      IF TG_OP = 'UPDATE' THEN
        PERFORM stats_audit_add(nd, NEW.grid_id, NEW.category_id, stats_audit_counts(NEW), NULL);
      ELSIF NEW.dispatched_at IS NOT NULL THEN  -- new: no audit rows yet, but dispatched
        PERFORM stats_audit_add(nd, NEW.grid_id, NEW.category_id,
                                ROW(0, 0, 0, 0, 0, 1, 0, 0, 0, 0)::stats_audit_counts, NULL);
      END IF;
    END IF;
  END IF;

  IF TG_OP = 'INSERT' THEN
    PERFORM stats_intake_add(stats_day(NEW.received_at), NEW.grid_id, NEW.category_id,
                             stats_intake_counts(NEW.source, NEW.duplicate_of, false, NULL, NULL,
                                                 NULL), NULL);
  ELSIF TG_OP = 'DELETE' OR OLD.received_at IS DISTINCT FROM NEW.received_at
        OR OLD.grid_id IS DISTINCT FROM NEW.grid_id
        OR OLD.category_id IS DISTINCT FROM NEW.category_id
        OR OLD.source IS DISTINCT FROM NEW.source
        OR OLD.duplicate_of IS DISTINCT FROM NEW.duplicate_of THEN
    SELECT * INTO p FROM public_report r WHERE r.event_id = OLD.id;
    PERFORM stats_intake_add(stats_day(OLD.received_at), OLD.grid_id, OLD.category_id, NULL,
                             stats_intake_counts(OLD.source, OLD.duplicate_of, p.event_id IS NOT NULL,
                                                 p.verify_due_at, p.verified_at, p.outcome));
    IF TG_OP = 'UPDATE' THEN
      PERFORM stats_intake_add(stats_day(NEW.received_at), NEW.grid_id, NEW.category_id,
                               stats_intake_counts(NEW.source, NEW.duplicate_of, p.event_id IS NOT NULL,
                                                   p.verify_due_at, p.verified_at, p.outcome), NULL);
    END IF;
  END IF;

  IF o_closed THEN
    om := stats_minutes(OLD.created_at, OLD.closed_at);
    o_on := stats_on_time(OLD, o_minutes)::int;
    owm := floor(extract(epoch FROM OLD.resolution_working_time) / 60)::integer;
  END IF;
  IF n_closed THEN
    nm := stats_minutes(NEW.created_at, NEW.closed_at);
    n_on := stats_on_time(NEW, n_minutes)::int;
    nwm := floor(extract(epoch FROM NEW.resolution_working_time) / 60)::integer;
  END IF;
  IF o_closed AND n_closed AND same_key AND OLD.level = NEW.level AND om = nm AND o_on = n_on
     AND owm IS NOT DISTINCT FROM nwm THEN
    RETURN NULL;
  END IF;
  IF o_closed THEN
    PERFORM stats_hist_add(od, OLD.grid_id, OLD.category_id, OLD.level, om, o_on, -1, false);
    IF owm IS NOT NULL THEN
      PERFORM stats_hist_add(od, OLD.grid_id, OLD.category_id, OLD.level, owm, o_on, -1, true);
    END IF;
  END IF;
  IF n_closed THEN
    PERFORM stats_hist_add(nd, NEW.grid_id, NEW.category_id, NEW.level, nm, n_on, 1, false);
    IF nwm IS NOT NULL THEN
      PERFORM stats_hist_add(nd, NEW.grid_id, NEW.category_id, NEW.level, nwm, n_on, 1, true);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_event AFTER INSERT OR UPDATE OR DELETE ON event
FOR EACH ROW EXECUTE FUNCTION stats_event_changed();
