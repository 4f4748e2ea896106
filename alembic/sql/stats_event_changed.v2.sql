-- stats_event_changed v2 and its trigger stats_event (migration 0008): v1 made cheaper per row
-- (the trigger was most of a report's cost in PostgreSQL, ADR 0005). Same counts.
--
-- A LANGUAGE sql function that cannot be inlined (a sub-select in its body) is parsed and
-- planned again in every transaction when a PL/pgSQL trigger calls it (its cached state lives
-- in the expression state, which PL/pgSQL rebuilds per transaction). Written out instead: the
-- category's minutes are read by a plain query (the trigger's cached plan), and the counters
-- are a simple expression over stats_counts (inlined at plan time; its expression state is
-- built once per transaction, so a batch of rows pays it once). Putting the sub-select inside
-- that expression instead was measured 2.5x slower for 500-row updates (a full executor start
-- per row). The first-dispatch lookup is skipped for events never dispatched (0 anyway). The
-- definitions stay in the functions the set-based rebuild inlines (0005); the rebuild test
-- (stats fast path == recomputation from raw events) checks both agree.
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
  n_minutes double precision;
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
      first_on_time := (NEW.dispatched_at - NEW.created_at <= stats_dispatch_limit())::int;
    END IF;
    IF o IS DISTINCT FROM n OR first_on_time <> 0 THEN
      PERFORM stats_add(nd, NEW.grid_id, NEW.category_id, n, o, first_on_time);
    END IF;
  ELSE
    IF TG_OP <> 'INSERT' THEN
      PERFORM stats_add(od, OLD.grid_id, OLD.category_id, NULL, o,
                        -CASE WHEN OLD.dispatched_at IS NULL THEN 0 ELSE stats_first_dispatch_on_time(OLD) END);
    END IF;
    IF TG_OP <> 'DELETE' THEN
      PERFORM stats_add(nd, NEW.grid_id, NEW.category_id, n, NULL,
                        CASE WHEN NEW.dispatched_at IS NULL THEN 0 ELSE stats_first_dispatch_on_time(NEW) END);
    END IF;
  END IF;

  IF o_closed THEN
    om := stats_minutes(OLD.created_at, OLD.closed_at);
    o_on := stats_on_time(OLD, o_minutes)::int;
  END IF;
  IF n_closed THEN
    nm := stats_minutes(NEW.created_at, NEW.closed_at);
    n_on := stats_on_time(NEW, n_minutes)::int;
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
