"""refresh-token families; no per-account lock

A refresh token belongs to a family: the tokens one sign-in's rotations made. Replaying a
rotated (revoked) token revokes the whole family, so a stolen token stops working for the thief
and the victim alike (docs/decisions/0008-hardening.md). Rows from before get a family of their
own.

The per-account lock (``users.failed_logins``, ``users.locked_until``) is dropped: five wrong
passwords from anywhere locked anyone out. Failed sign-ins are now throttled per account and
source in Redis (``staff.auth``).

Revision ID: 0010 (the number this branch was given; chained after main's 0017 when main was
merged in — the lead may renumber it)
Revises: 0015
Create Date: 2026-11-29 09:00:00
"""

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0015"


def upgrade() -> None:
    op.add_column("refresh_token", sa.Column("family", sa.String(length=32), nullable=True))
    op.execute("UPDATE refresh_token SET family = md5(id::text)")
    op.alter_column("refresh_token", "family", nullable=False)
    op.create_index("ix_refresh_token_family", "refresh_token", ["family"])
    op.drop_column("users", "failed_logins")
    op.drop_column("users", "locked_until")


def downgrade() -> None:
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users",
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    )
    op.alter_column("users", "failed_logins", server_default=None)
    op.drop_index("ix_refresh_token_family", table_name="refresh_token")
    op.drop_column("refresh_token", "family")
