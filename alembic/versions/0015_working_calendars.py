"""working calendars; categories choose one; the timer marks stored on the event row

Calendars (``work_calendar``) are data: the JSON form of ``domain.calendar`` (``spec``) with a
``revision`` bumped by each load, so processes re-read a calendar only when it changed. The
``24x7`` calendar is created here and every existing category uses it (wall-clock time, as
before). Working time is not linear in wall time, so the 50 % and 75 % marks can no longer be
derived from the deadline and the allowance in SQL: the event row stores them, filled here with
the old rule (``deadline - allowance × (1 - fraction)``) for rows that have deadlines.

Revision ID: 0015
Revises: 0017
Create Date: 2026-11-29 09:30:00
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from alembic import op

revision: str = "0015"
down_revision: str | None = "0017"

_MARKS = (
    ("ack_warn50_at", "ack_due_at", "ack_allowance", 0.5),
    ("ack_warn75_at", "ack_due_at", "ack_allowance", 0.25),
    ("resolve_warn50_at", "due_at", "resolve_allowance", 0.5),
    ("resolve_warn75_at", "due_at", "resolve_allowance", 0.25),
)


def upgrade() -> None:
    op.create_table(
        "work_calendar",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("spec", JSONB(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.execute(
        """INSERT INTO work_calendar (code, name, spec) VALUES ('24x7', '全天候 (24×7)',
        '{"code": "24x7", "time_zone": "Asia/Shanghai", "continuous": true}')"""
    )
    op.add_column(
        "category",
        sa.Column(
            "calendar",
            sa.String(32),
            sa.ForeignKey("work_calendar.code"),
            nullable=False,
            server_default="24x7",
        ),
    )
    for name, _, _, _ in _MARKS:
        op.add_column("event", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "event",
        sa.Column("clock_fallback", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    sets = ", ".join(
        f"{name} = CASE WHEN {due} IS NOT NULL AND {allowance} IS NOT NULL "
        f"THEN {due} - {allowance} * {share} END"
        for name, due, allowance, share in _MARKS
    )
    op.execute(f"UPDATE event SET {sets} WHERE ack_due_at IS NOT NULL OR due_at IS NOT NULL")


def downgrade() -> None:
    op.drop_column("event", "clock_fallback")
    for name, _, _, _ in _MARKS:
        op.drop_column("event", name)
    op.drop_column("category", "calendar")
    op.drop_table("work_calendar")
