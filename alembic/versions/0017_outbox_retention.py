"""outbox retention: an index on processed rows, so the worker finds expired ones cheaply

Processed outbox rows are deleted after ``WANGGE_OUTBOX_RETENTION_DAYS`` (the audit log stays
the permanent record); rows still pending or failing are kept until handled.

Revision ID: 0017
Revises: 0009
Create Date: 2026-11-29 09:40:00
"""

from alembic import op

revision: str = "0017"
down_revision: str | None = "0009"


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_outbox_processed ON outbox (processed_at)"
        " WHERE processed_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_outbox_processed")
