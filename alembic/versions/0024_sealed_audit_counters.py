"""the audit counters (立案, 核查) and the intake counters kept per day like the others, and sealed

``stats_daily`` and ``stats_counter_block`` gain ``ever_registered``, ``registered_on_time``,
``voided_after_registration``, ``reviews`` and ``reviews_on_time``
(``domain.evaluation.indicators.AUDIT_COUNTERS``, on the day the event was reported) and
``all_reports``, ``linked_reports``, ``public_reports``, ``verifications_done``,
``verified_on_time``, ``public_decided``, ``public_valid`` (``domain.evaluation.intake``, on the
day the report was received; a verification due because its deadline passed is counted at the
moment asked): the indicators of a month read them from the sealed blocks instead of every audit
row of the month's events and every event's receipt per request (0.7–0.8 s, and up to 6 s on a
busy machine, on the 1 M-event year; docs/decisions/0018). Triggers keep them in the writing
transaction: ``stats_audit`` on ``event_audit`` (each registration, void and review),
``stats_public_report`` on ``public_report`` (a verification), ``stats_event`` (v3) on ``event``
(a new report, a link, a move); ``stats_rebuild`` v4 recomputes them from the raw rows, and
fills them here. Defaults 0: the writers of the event counters (``stats_add``) leave them alone.

Chained after 0023 (main's head when this was written).

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-29 15:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0024"
down_revision: str | None = "0023"

COLUMNS = (
    "ever_registered",
    "registered_on_time",
    "voided_after_registration",
    "reviews",
    "reviews_on_time",
    "all_reports",
    "linked_reports",
    "public_reports",
    "verifications_done",
    "verified_on_time",
    "public_decided",
    "public_valid",
)


def upgrade() -> None:
    for table in ("stats_daily", "stats_counter_block"):
        op.execute(
            f"ALTER TABLE {table} "
            + ", ".join(f"ADD COLUMN {c} integer NOT NULL DEFAULT 0" for c in COLUMNS)
        )
    op.execute(read_sql("stats_audit_counts.type.v1"))
    op.execute(read_sql("stats_audit_counts.v1"))
    op.execute(read_sql("stats_audit_add.v1"))
    op.execute(read_sql("stats_audit_changed.v1"))
    op.execute(read_sql("stats_intake_counts.type.v1"))
    op.execute(read_sql("stats_intake_counts.v1"))
    op.execute(read_sql("stats_intake_add.v1"))
    op.execute(read_sql("stats_public_report_changed.v1"))
    op.execute(read_sql("stats_event_changed.v3"))
    op.execute(read_sql("stats_rebuild.v4"))
    op.execute("SELECT stats_rebuild()")  # the new counters of every day; blocks are resealed


def downgrade() -> None:
    op.execute("DROP TRIGGER stats_audit ON event_audit")
    op.execute("DROP FUNCTION stats_audit_changed()")
    op.execute("DROP TRIGGER stats_public_report ON public_report")
    op.execute("DROP FUNCTION stats_public_report_changed()")
    op.execute(read_sql("stats_event_changed.v2"))
    op.execute(read_sql("stats_rebuild.v3"))
    op.execute("DROP FUNCTION stats_intake_add(date, integer, integer, stats_intake_counts,"
               " stats_intake_counts)")  # fmt: skip
    op.execute("DROP FUNCTION stats_intake_counts(text, bigint, boolean, timestamptz,"
               " timestamptz, text)")  # fmt: skip
    op.execute("DROP TYPE stats_intake_counts")
    op.execute("DROP FUNCTION stats_audit_add(date, integer, integer, stats_audit_counts,"
               " stats_audit_counts)")  # fmt: skip
    op.execute("DROP FUNCTION stats_audit_counts(bigint, timestamptz, text)")
    op.execute("DROP TYPE stats_audit_counts")
    for table in ("stats_counter_block", "stats_daily"):
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {c}" for c in COLUMNS))
    op.execute("SELECT stats_rebuild()")
