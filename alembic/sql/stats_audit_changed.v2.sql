-- stats_audit_changed v2 and its trigger stats_audit on event_audit (migration 0028): v1, and
-- - a review is on time when it came by the review deadline stored with the fix it decides
--   (review_due_at in the data of the row before it among fixes, reviews and registrations;
--   migration 0027), or, for a fix logged without one (before 0027), within
--   review_limit_minutes of that row (v1's rule);
-- - an approved extension or parking, a return (回退) or a reopening adds the event to
--   extended_cases, parked_cases, returned_cases or reopened_cases when it is the event's first
--   row of that action (dispatched_cases follows the event row: stats_event_changed v4).
-- v1 (migration 0024): an audit row that can change the event's audit counters (a registration,
-- a void or its undoing, a review) adds the change to the counters of the event's report day,
-- grid and category, in the transaction that writes it — what stats_audit_counts gives after
-- the row minus before it, from the event's earlier rows (an index lookup or two; rows come in
-- version order). The event row is already updated (the store writes it first). A change of
-- the event's day, grid or category moves its counters (stats_event_changed).
CREATE OR REPLACE FUNCTION stats_audit_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  e_created timestamptz;
  e_grid integer;
  e_category integer;
  first_registered timestamptz;
  before_fix timestamptz;
  review_due timestamptz;
  reg_limit interval;
  was_registered boolean;
  on_time_before integer := 0;
  on_time_after integer := 0;
  first_of_action integer;
  d stats_audit_counts := ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)::stats_audit_counts;
BEGIN
  SELECT ev.created_at, ev.grid_id, ev.category_id INTO e_created, e_grid, e_category
    FROM event ev WHERE ev.id = NEW.event_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF NEW.to_status = 'registered' OR NEW.to_status = 'voided' OR NEW.from_status = 'voided' THEN
    SELECT min(a.at) INTO first_registered FROM event_audit a
     WHERE a.event_id = NEW.event_id AND a.version < NEW.version AND a.to_status = 'registered';
  END IF;
  was_registered := first_registered IS NOT NULL;
  IF NEW.to_status = 'registered' THEN
    reg_limit := (SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')
                 * interval '1 minute';
    IF was_registered THEN
      on_time_before := coalesce(first_registered - e_created <= reg_limit, false)::int;
    END IF;
    on_time_after := coalesce(least(first_registered, NEW.at) - e_created <= reg_limit,
                              false)::int;
    d.ever_registered := (NOT was_registered)::int;
    d.registered_on_time := on_time_after - on_time_before;
  END IF;
  -- registered and voided: the status before the row is its from_status, after it its to_status
  d.voided_after_registration :=
    ((was_registered OR NEW.to_status = 'registered') AND NEW.to_status = 'voided')::int
    - (was_registered AND NEW.from_status IS NOT DISTINCT FROM 'voided')::int;
  IF NEW.action = 'review' THEN
    SELECT a.at, (a.data ->> 'review_due_at')::timestamptz INTO before_fix, review_due
      FROM event_audit a
     WHERE a.event_id = NEW.event_id AND a.version < NEW.version
       AND (a.action IN ('resolve', 'review') OR a.to_status = 'registered')
     ORDER BY a.version DESC LIMIT 1;
    d.reviews := 1;
    d.reviews_on_time := coalesce(NEW.at <= review_due,
                                  NEW.at - before_fix
                                  <= (SELECT value FROM stats_setting
                                       WHERE key = 'review_limit_minutes') * interval '1 minute',
                                  false)::int;
  END IF;
  IF NEW.action IN ('approve_extension', 'approve_parking', 'return', 'reopen') THEN
    first_of_action := (NOT EXISTS (SELECT 1 FROM event_audit a
                                     WHERE a.event_id = NEW.event_id
                                       AND a.version < NEW.version
                                       AND a.action = NEW.action))::int;
    CASE NEW.action
      WHEN 'approve_extension' THEN d.extended_cases := first_of_action;
      WHEN 'approve_parking' THEN d.parked_cases := first_of_action;
      WHEN 'return' THEN d.returned_cases := first_of_action;
      ELSE d.reopened_cases := first_of_action;
    END CASE;
  END IF;
  PERFORM stats_audit_add(stats_day(e_created), e_grid, e_category, d, NULL);
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_audit AFTER INSERT ON event_audit
FOR EACH ROW
WHEN (NEW.to_status IN ('registered', 'voided') OR NEW.from_status = 'voided'
      OR NEW.action IN ('review', 'approve_extension', 'approve_parking', 'return', 'reopen'))
EXECUTE FUNCTION stats_audit_changed();
