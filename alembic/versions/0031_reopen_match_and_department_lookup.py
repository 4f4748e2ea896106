"""closed events found by category, close and point (automatic reopening); assignment rows of
the audit log found by event (the department that held a case)

``ix_event_closed_category_geog``: the closed, unlinked events by category, point and close
time (GiST; ``btree_gist`` holds the integer and the instant), so the reopen match of a
confirmed public report (``dispatch.public.duplicates.CLOSED_SQL``: closed events of the
report's category within metres of it, closed since the reopen window's start) visits only that
category's closures near it, not every closed event of the year. Measured on 1 M synthetic
closed events (10 categories over ~60 km², a year of closes; 1,000 random lookups, warm):
0.12 ms a lookup with this column order; 1.0 ms with (category, close, point); 0.20 ms with
(category, point); 125–140 ms with none (docs/decisions/0025).

``ix_event_audit_department``: the audit rows that change an event's ``department`` (its
dispatches, escalations, returns, reopenings to or from a department: a small share of the log),
by event and version, so ``/stats/process?group_by=department`` finds the department that held
the case at each process action (the last such row before it) and the cases each department
held, without reading the whole log of the window's events (docs/decisions/0025).

Revision ID: 0031
Revises: 0028
Create Date: 2026-11-29 21:00:00
"""

from alembic import op

revision: str = "0031"
down_revision: str | None = "0028"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "CREATE INDEX ix_event_closed_category_geog ON event"
        " USING gist (category_id, (geom::geography), closed_at)"
        " WHERE status = 'closed' AND duplicate_of IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_event_audit_department ON event_audit (event_id, version)"
        " WHERE data ? 'department'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_event_audit_department")
    op.execute("DROP INDEX ix_event_closed_category_geog")
