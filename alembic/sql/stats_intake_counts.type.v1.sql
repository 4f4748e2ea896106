-- The type stats_intake_counts v1 (migration 0024): what one report contributes to the intake
-- counters of the day it was received (domain.evaluation.intake.INTAKE_COUNTERS, except that a
-- verification counts as done here: one that is due because its deadline passed depends on the
-- moment asked, and is counted then). Not the function of the same name.
CREATE TYPE stats_intake_counts AS (
  all_reports integer,
  linked_reports integer,
  public_reports integer,
  verifications_done integer,
  verified_on_time integer,
  public_decided integer,
  public_valid integer
);
