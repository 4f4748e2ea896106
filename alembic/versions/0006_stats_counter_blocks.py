"""statistics: sealed counter blocks, map coverage cache

The counters summed per grid over aligned blocks of days (as the histograms are), so the
indicators of a month read a few thousand rows instead of every grid-day-category; and
grids.service.coverage (a union of every grid) kept with a fingerprint of the map tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 19:39:52.264515
"""

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from sqlalchemy.dialects import postgresql

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0006"
down_revision: str | None = "0005"


def upgrade() -> None:
    op.create_table(
        "stats_counter_block",
        sa.Column("lvl", sa.SmallInteger(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.Column("voided", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.Column("public_registered", sa.Integer(), nullable=False),
        sa.Column("dispatched", sa.Integer(), nullable=False),
        sa.Column("dispatched_on_time", sa.Integer(), nullable=False),
        sa.Column("redispatches", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("handled_on_time", sa.Integer(), nullable=False),
        sa.Column("reworks", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("closed_on_time", sa.Integer(), nullable=False),
        sa.Column("closed_level0", sa.Integer(), nullable=False),
        sa.Column("closed_le2", sa.Integer(), nullable=False),
        sa.Column("patrolled_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lvl", "start", "grid_id"),
    )
    op.create_table(
        "stats_counter_sealed",
        sa.Column("lvl", sa.SmallInteger(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lvl", "start"),
    )
    op.create_table(
        "stats_map_cache",
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.execute(read_sql("stats_counter_days_changed.v1"))
    op.execute(read_sql("stats_counter_days_truncated.v1"))


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
    op.drop_table("stats_map_cache")
    op.drop_table("stats_counter_sealed")
    op.drop_table("stats_counter_block")


DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS stats_patrol_walked_truncated ON stats_patrol_walked;
DROP TRIGGER IF EXISTS stats_patrol_walked_deleted ON stats_patrol_walked;
DROP TRIGGER IF EXISTS stats_patrol_walked_updated ON stats_patrol_walked;
DROP TRIGGER IF EXISTS stats_patrol_walked_inserted ON stats_patrol_walked;
DROP TRIGGER IF EXISTS stats_daily_truncated ON stats_daily;
DROP TRIGGER IF EXISTS stats_daily_deleted ON stats_daily;
DROP TRIGGER IF EXISTS stats_daily_updated ON stats_daily;
DROP TRIGGER IF EXISTS stats_daily_inserted ON stats_daily;
DROP FUNCTION IF EXISTS stats_counter_days_truncated();
DROP FUNCTION IF EXISTS stats_counter_days_changed();
"""
