"""per-level calendars on the category; a calendar load changes the categories' reference data

``category.level_calendars``: a level's own calendar by level (``{"0": "24x7", "3": "cn"}``),
empty for every existing category (each level on the category's ``calendar``, as before). The
codes are checked by the application when a category is written (a JSON object cannot carry a
foreign key), and calendars are never deleted. ``reference_changed`` v2 adds a trigger on
``work_calendar`` bumping the ``category`` reference version, so the API's in-memory categories
are re-read with their calendars after a load (docs/decisions/0023).

Revision ID: 0029
Revises: 0030
Create Date: 2026-11-29 18:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0029"
down_revision: str | None = "0030"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE category ADD COLUMN level_calendars jsonb NOT NULL DEFAULT '{}'::jsonb
            CHECK (jsonb_typeof(level_calendars) = 'object');
        """
    )
    op.execute(read_sql("reference_changed.v2"))


def downgrade() -> None:
    op.execute("DROP TRIGGER work_calendar_reference_changed ON work_calendar")
    op.execute(read_sql("reference_changed.v1"))
    op.execute("ALTER TABLE category DROP COLUMN level_calendars")
