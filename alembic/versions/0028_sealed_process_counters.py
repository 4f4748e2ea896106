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

Resolution time in working time beside wall time: ``event.resolution_working_time`` (report →
close in working time on the category's calendar, set by the lifecycle at the close)
and its histogram ``stats_resolution_working`` (the shape of ``stats_resolution``; sealed as
projections 4–6), kept by ``stats_event`` v4 through ``stats_hist_add`` v2, emptied by
``stats_event_truncated`` v2, rebuilt by ``stats_rebuild`` v5. Events closed before this
migration on a ``24x7`` category get the wall time (the same thing there); on a working
calendar they get none (the calendar is not in SQL: no estimate) and stay out of the working
figures.

``ix_event_audit_process``: the process actions' audit rows by event (a few per cent of the
log), which ``/stats/process`` counts per request and the trigger looks up (an event's first
approval of each kind).

Chained after 0029 (main's head when this was merged; written after 0027).

Revision ID: 0028
Revises: 0029
Create Date: 2026-11-29 18:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0028"
down_revision: str | None = "0029"

#: The process actions (evaluation.auditcounts.PROCESS_ACTIONS when this was written).
PROCESS_ACTIONS = (
    "request_extension", "approve_extension", "refuse_extension", "request_parking",
    "approve_parking", "refuse_parking", "unpark", "return", "reopen",
)  # fmt: skip
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
    op.execute("ALTER TABLE event ADD COLUMN resolution_working_time interval")
    op.execute(
        """
        CREATE TABLE stats_resolution_working (
          day date NOT NULL, grid_id integer NOT NULL, category_id integer NOT NULL,
          level smallint NOT NULL, minutes integer NOT NULL, n integer NOT NULL,
          ontime integer NOT NULL,
          PRIMARY KEY (day, grid_id, category_id, level, minutes));
        CREATE INDEX ix_stats_resolution_working_grid_day
            ON stats_resolution_working (grid_id, day);
        ALTER TABLE event DISABLE TRIGGER stats_event;  -- the rebuild below counts them
        UPDATE event e SET resolution_working_time = e.closed_at - e.created_at
          FROM category c
         WHERE c.id = e.category_id AND c.calendar = '24x7' AND e.status = 'closed';
        ALTER TABLE event ENABLE TRIGGER stats_event;
        """
    )
    op.execute(read_sql("stats_hist_add.v2"))
    op.execute("DROP FUNCTION stats_hist_add(date, integer, integer, integer, integer, integer,"
               " integer)")  # fmt: skip
    op.execute(read_sql("stats_event_truncated.v2"))
    op.execute(read_sql("stats_audit_add.v2"))
    op.execute(read_sql("stats_audit_counts.v2"))
    op.execute(read_sql("stats_audit_changed.v2"))
    op.execute(read_sql("stats_dispatch_on_time.v2"))
    op.execute(read_sql("stats_event_changed.v4"))
    op.execute("DROP FUNCTION stats_audit_counts(bigint, timestamptz, text)")
    op.execute(read_sql("stats_rebuild.v5"))
    op.execute(
        "CREATE INDEX ix_event_audit_process ON event_audit (event_id) INCLUDE (action)"
        f" WHERE action IN ({', '.join(repr(a) for a in PROCESS_ACTIONS)})"
    )
    op.execute("SELECT stats_rebuild()")  # the new counters of every day; blocks are resealed


def downgrade() -> None:
    op.execute("DROP INDEX ix_event_audit_process")
    op.execute("DELETE FROM stats_block WHERE proj > 3")  # the working-time projections
    op.execute(read_sql("stats_hist_add.v1"))
    op.execute(read_sql("stats_event_truncated.v1"))
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
    op.execute("DROP FUNCTION stats_hist_add(date, integer, integer, integer, integer, integer,"
               " integer, boolean)")  # fmt: skip
    op.execute("DROP TABLE stats_resolution_working")
    op.execute("ALTER TABLE event DROP COLUMN resolution_working_time")
    op.execute("SELECT stats_rebuild()")
