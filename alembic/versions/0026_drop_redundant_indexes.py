"""drop two indexes that others already cover

``ix_event_status (status)`` is the leading column of ``ix_event_open_due (status, due_at)``, and
``ix_event_audit_event_id (event_id)`` of the unique ``(event_id, version)``: every lookup they
served the wider index serves as well, while each still cost an index insertion on every report,
every status change (no HOT update) and every audit row.

Revision ID: 0026
Revises: 0020
Create Date: 2026-11-29 15:10:00
"""

from alembic import op

revision: str = "0026"
down_revision: str | None = "0020"


def upgrade() -> None:
    op.drop_index("ix_event_status", table_name="event")
    op.drop_index("ix_event_audit_event_id", table_name="event_audit")


def downgrade() -> None:
    op.create_index("ix_event_audit_event_id", "event_audit", ["event_id"])
    op.create_index("ix_event_status", "event", ["status"])
