-- The type stats_audit_counts v1 (migration 0024): what one event's audit log contributes to the
-- counters of national practice (domain.evaluation.indicators.AUDIT_COUNTERS, in that order):
-- 立案 (reached registered), on time, registered then voided; 核查 (reviews of a fix), on time.
-- Not the function of the same name (stats_audit_counts.v1.sql).
CREATE TYPE stats_audit_counts AS (
  ever_registered integer,
  registered_on_time integer,
  voided_after_registration integer,
  reviews integer,
  reviews_on_time integer
);
