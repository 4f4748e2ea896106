-- The type stats_counts v1 (migration 0004): what one event contributes to the counters of its
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
  closed_le2 integer
);
