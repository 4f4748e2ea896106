"""The PostGIS extension, which every spatial table needs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def downgrade() -> None:
    # The extension may predate us (created by the set-up as superuser); dropping it
    # would break other users of the database, so the downgrade leaves it in place.
    pass
