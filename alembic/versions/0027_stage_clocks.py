"""派遣 and 核查 stage clocks: their marks on the event, their allowances on the category

``event.dispatch_warn50_at`` / ``dispatch_warn75_at`` / ``dispatch_due_at``: the dispatch
clock's marks (50 %, 75 %, 100 % of the category's ``dispatch_minutes`` on its calendar, from
registration); ``event.review_warn50_at`` / ``review_warn75_at`` / ``review_due_at``: the review
clock's (of ``review_minutes``, from the resolution). Stored so SQL compares instants, as the
acknowledgement and resolution marks are (0015). Events registered or resolved before this
migration have none: their stage clocks do not run (NULL marks are never reached), which the
statistics treat as "no deadline" (docs/decisions/0021).

``category.dispatch_minutes`` (default 5) and ``category.review_minutes`` (default 60).
``supervision.clock`` admits the new clocks' notices.

Revision ID: 0027
Revises: 0024
Create Date: 2026-11-29 15:30:00
"""

from alembic import op

revision: str = "0027"
down_revision: str | None = "0024"

_MARKS = (
    "dispatch_warn50_at",
    "dispatch_warn75_at",
    "dispatch_due_at",
    "review_warn50_at",
    "review_warn75_at",
    "review_due_at",
)


def upgrade() -> None:
    columns = ", ".join(f"ADD COLUMN {name} timestamptz" for name in _MARKS)
    op.execute(
        f"""
        ALTER TABLE event {columns};
        ALTER TABLE category
            ADD COLUMN dispatch_minutes double precision NOT NULL DEFAULT 5
                CHECK (dispatch_minutes > 0),
            ADD COLUMN review_minutes double precision NOT NULL DEFAULT 60
                CHECK (review_minutes > 0);
        ALTER TABLE supervision DROP CONSTRAINT supervision_clock_check;
        ALTER TABLE supervision ADD CONSTRAINT supervision_clock_check
            CHECK (clock IN ('ack', 'resolve', 'dispatch', 'review'));
        """
    )


def downgrade() -> None:
    columns = ", ".join(f"DROP COLUMN {name}" for name in _MARKS)
    op.execute(
        f"""
        DELETE FROM supervision WHERE clock IN ('dispatch', 'review');
        ALTER TABLE supervision DROP CONSTRAINT supervision_clock_check;
        ALTER TABLE supervision ADD CONSTRAINT supervision_clock_check
            CHECK (clock IN ('ack', 'resolve'));
        ALTER TABLE category DROP COLUMN dispatch_minutes, DROP COLUMN review_minutes;
        ALTER TABLE event {columns};
        """
    )
