-- The type stats_audit_counts v2 (migration 0028): v1 plus the process counters (延期, 挂账, 回退,
-- 重开 and their denominator): dispatched_cases (the event was dispatched), extended_cases (an
-- extension approved), parked_cases (a parking approved), returned_cases (回退 to the command
-- centre), reopened_cases (reopened after closing); migration 0028 converts v1 with ALTER TYPE
-- ... ADD ATTRIBUTE (appended last, the order below).
-- v1 (migration 0024): what one event's audit log contributes to the counters of national
-- practice (domain.evaluation.indicators.AUDIT_COUNTERS, in that order): 立案 (reached
-- registered), on time, registered then voided; 核查 (reviews of a fix), on time.
-- Not the function of the same name (stats_audit_counts.v2.sql).
CREATE TYPE stats_audit_counts AS (
  ever_registered integer,
  registered_on_time integer,
  voided_after_registration integer,
  reviews integer,
  reviews_on_time integer,
  dispatched_cases integer,
  extended_cases integer,
  parked_cases integer,
  returned_cases integer,
  reopened_cases integer
);
