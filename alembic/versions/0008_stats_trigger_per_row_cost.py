"""statistics trigger: cheaper per row (it was most of a report's cost in PostgreSQL)

Measured on the report bench (ADR 0005): with the trigger a report cost ~1.27 ms of
PostgreSQL CPU, without it ~0.70 ms; a profile showed the parser and planner at work in every
transaction. The trigger now reads the category's minutes itself and evaluates the counters as
an expression PL/pgSQL keeps per transaction (see alembic/sql/stats_event_changed.v2.sql), and
skips the first-dispatch lookup for events never dispatched (0 anyway). Same counts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 22:05:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0008"
down_revision: str | None = "0007"


def upgrade() -> None:
    op.execute(read_sql("stats_event_changed.v2"))


def downgrade() -> None:
    op.execute(read_sql("stats_event_changed.v1"))
