-- The type stats_counts v2 (migration 0019): v1 plus handled_on_promise, the fix came before the
-- event's original promise (promised_due_at); migration 0019 converts v1 with ALTER TYPE ... ADD
-- ATTRIBUTE (appended last, the order below).
-- v1 (migration 0004): what one event contributes to the counters of its
-- report day (stats_daily's columns but dispatched_on_time, which needs the audit rows).
-- Not the function of the same name (stats_counts.v1.sql).
CREATE TYPE stats_counts AS (
  reported integer,
  voided integer,
  registered integer,
  public_registered integer,
  dispatched integer,
  redispatches integer,
  escalations integer,
  handled integer,
  handled_on_time integer,
  reworks integer,
  closed integer,
  closed_on_time integer,
  closed_level0 integer,
  closed_le2 integer,
  handled_on_promise integer
);
