"""the process counters (延期, 挂账, 回退, 重开) kept per day and sealed; 按时派遣 and 按时核查
by the stored stage deadlines

``stats_daily`` and ``stats_counter_block`` gain ``dispatched_cases``, ``extended_cases``,
``parked_cases``, ``returned_cases`` and ``reopened_cases`` (``domain.evaluation.indicators.
AUDIT_COUNTERS``, on the day the event was reported), which the indicators read from the sealed
blocks instead of the audit log of the window's events per request (docs/decisions/0022): the
type ``stats_audit_counts`` v2 holds them; the trigger ``stats_audit`` (``stats_audit_changed``
v2) adds an event to a case counter at its first approved extension, approved parking, return
or reopening; ``stats_event`` (v4) follows ``dispatched_at``; ``stats_audit_counts`` v2 (now of
the event row) and ``stats_rebuild`` v5 recompute them.

按时派遣 compares the first dispatch with the event's ``dispatch_due_at`` and 按时核查 each review
with the ``review_due_at`` logged with the fix it decides (both working time on the category's
calendar, migration 0027: ``stats_dispatch_on_time`` v2, ``stats_event_changed`` v4,
``stats_audit_changed`` v2); an event or fix from before 0027 has no stored deadline and keeps
the global limit of ``stats_setting`` (wall time). The rebuild at the end recounts every day.

Chained after 0027 (main's head when this was written).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-29 18:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0028"
down_revision: str | None = "0027"

COLUMNS = ("dispatched_cases", "extended_cases", "parked_cases", "returned_cases", "reopened_cases")


def upgrade() -> None:
    for table in ("stats_daily", "stats_counter_block"):
        op.execute(
            f"ALTER TABLE {table} "
            + ", ".join(f"ADD COLUMN {c} integer NOT NULL DEFAULT 0" for c in COLUMNS)
        )
    op.execute(
        "ALTER TYPE stats_audit_counts " + ", ".join(f"ADD ATTRIBUTE {c} integer" for c in COLUMNS)
    )
    op.execute(read_sql("stats_audit_add.v2"))
    op.execute(read_sql("stats_audit_counts.v2"))
    op.execute(read_sql("stats_audit_changed.v2"))
    op.execute(read_sql("stats_dispatch_on_time.v2"))
    op.execute(read_sql("stats_event_changed.v4"))
    op.execute("DROP FUNCTION stats_audit_counts(bigint, timestamptz, text)")
    op.execute(read_sql("stats_rebuild.v5"))
    op.execute("SELECT stats_rebuild()")  # the new counters of every day; blocks are resealed


def downgrade() -> None:
    # plpgsql bodies are checked when run, SQL ones when created: the old SQL functions after
    # the type has its old shape again
    op.execute(read_sql("stats_event_changed.v3"))
    op.execute("DROP FUNCTION stats_audit_counts(event)")
    op.execute(read_sql("stats_audit_changed.v1"))
    op.execute(read_sql("stats_dispatch_on_time.v1"))
    op.execute(read_sql("stats_rebuild.v4"))
    op.execute("ALTER TYPE stats_audit_counts " + ", ".join(f"DROP ATTRIBUTE {c}" for c in COLUMNS))
    op.execute(read_sql("stats_audit_counts.v1"))
    op.execute(read_sql("stats_audit_add.v1"))
    for table in ("stats_counter_block", "stats_daily"):
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {c}" for c in COLUMNS))
    op.execute("SELECT stats_rebuild()")
