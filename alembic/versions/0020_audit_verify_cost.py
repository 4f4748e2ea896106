"""the year's ``wangge audit verify`` within a minute: the canonical text from the columns

``audit_canonical_of`` v1: the canonical text of an audit row from its columns, the one
definition; ``audit_canonical`` v2 applies it to a whole row (the same text as v1: the trigger,
``audit_chain_fill`` and every stored hash are unchanged). ``wangge audit verify`` calls it with
the columns, which the planner inlines: a whole-row value built per row cost a third of the
chain's time (docs/decisions/0016-audit-verify-cost.md).

Two partial indexes on ``event_audit`` covering what the counters read per event, so they are
read from the index alone: ``ix_event_audit_first_dispatch`` (the first dispatch from
``registered``: ``verify``'s recount of 按时派遣, the statistics trigger's
``stats_first_dispatch_on_time``, drill-downs) and ``ix_event_audit_counted`` (registrations,
fixes and reviews: the 立案/核查 counters of ``evaluation.auditcounts``, read on every indicator
and scorecard request). Measured on the 1 M-event year: 5.8 → 3.2 s and 6.6 → 4.5 s.

Revision ID: 0020
Revises: 0022
Create Date: 2026-11-29 13:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0020"
down_revision: str | None = "0022"


def upgrade() -> None:
    op.execute(read_sql("audit_canonical_of.v1"))
    op.execute(read_sql("audit_canonical.v2"))
    op.execute(
        "CREATE INDEX ix_event_audit_first_dispatch ON event_audit (event_id, version)"
        " INCLUDE (at) WHERE action = 'dispatch' AND from_status = 'registered'"
    )
    op.execute(
        "CREATE INDEX ix_event_audit_counted ON event_audit (event_id, version)"
        " INCLUDE (action, to_status, at)"
        " WHERE action IN ('resolve', 'review') OR to_status = 'registered'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_event_audit_counted")
    op.execute("DROP INDEX ix_event_audit_first_dispatch")
    op.execute(read_sql("audit_canonical.v1"))
    op.execute("DROP FUNCTION audit_canonical_of(bigint, bigint, integer, text, text, text,"
               " integer, integer, text, timestamptz, text, text, jsonb)")  # fmt: skip
