"""立案/核实 stage clock: the verification clock's marks on the event

``event.verify_warn50_at`` / ``verify_warn75_at`` / ``verify_due_at``: the marks (50 %, 75 %,
100 %) of a public or hotline report's verification clock, the category's ``verify_minutes``
of working time on the grid level's calendar from receipt (docs/decisions/0026). The report's
``public_report.verify_due_at`` holds the same deadline from now on (written from the same
plan): 按时核实 keeps its one definition.

Backfill: reports still pending verification get their marks from
``public_report.verify_due_at`` — the deadline they were promised, wall-clock minutes from
receipt under the old rule, so the warning marks at 50 %/75 % of that span are exact for it.
Their audit rows do not carry the marks (``wangge audit verify`` compares them where the log
does). Their breach, when overdue, is recorded by the reconciliation sweep like any breach
Redis never fired (with its 督办); their warnings are armed by the next re-arm of the timers.
Decided and staff reports keep NULL marks (no clock ran for them).

``supervision.clock`` admits ``verify``.

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-29 21:00:00
"""

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"

_MARKS = ("verify_warn50_at", "verify_warn75_at", "verify_due_at")

BACKFILL_SQL = """
UPDATE event e
   SET verify_warn50_at = e.received_at + (p.verify_due_at - e.received_at) * 0.5,
       verify_warn75_at = e.received_at + (p.verify_due_at - e.received_at) * 0.75,
       verify_due_at = p.verify_due_at
  FROM public_report p
 WHERE p.event_id = e.id AND e.status = 'pending_verification' AND e.verify_due_at IS NULL
"""


def upgrade() -> None:
    columns = ", ".join(f"ADD COLUMN {name} timestamptz" for name in _MARKS)
    op.execute(
        f"""
        ALTER TABLE event {columns};
        ALTER TABLE supervision DROP CONSTRAINT supervision_clock_check;
        ALTER TABLE supervision ADD CONSTRAINT supervision_clock_check
            CHECK (clock IN ('ack', 'resolve', 'dispatch', 'review', 'verify'));
        """
    )
    op.execute(BACKFILL_SQL)


def downgrade() -> None:
    columns = ", ".join(f"DROP COLUMN {name}" for name in _MARKS)
    op.execute(
        f"""
        DELETE FROM supervision WHERE clock = 'verify';
        ALTER TABLE supervision DROP CONSTRAINT supervision_clock_check;
        ALTER TABLE supervision ADD CONSTRAINT supervision_clock_check
            CHECK (clock IN ('ack', 'resolve', 'dispatch', 'review'));
        ALTER TABLE event {columns};
        """
    )
