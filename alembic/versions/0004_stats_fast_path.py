"""statistics fast path: counters, resolution histograms, sealed blocks, triggers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 18:28:01.979921
"""

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    op.create_table(
        "stats_block",
        sa.Column("lvl", sa.SmallInteger(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("proj", sa.SmallInteger(), nullable=False),
        sa.Column("hist", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("lvl", "start", "proj"),
    )
    op.create_table(
        "stats_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
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
        sa.PrimaryKeyConstraint("day", "grid_id", "category_id"),
    )
    op.create_index("ix_stats_daily_grid_day", "stats_daily", ["grid_id", "day"], unique=False)
    op.create_table(
        "stats_patrol_walked",
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("patrol_id"),
    )
    op.create_index(
        "ix_stats_patrol_walked_day_grid", "stats_patrol_walked", ["day", "grid_id"], unique=False
    )
    op.create_table(
        "stats_resolution",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("ontime", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "grid_id", "category_id", "level", "minutes"),
    )
    op.create_index(
        "ix_stats_resolution_grid_day", "stats_resolution", ["grid_id", "day"], unique=False
    )
    op.create_table(
        "stats_setting",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.execute("ALTER TABLE stats_block ALTER COLUMN hist SET STORAGE EXTERNAL")
    op.execute("INSERT INTO stats_setting (key, value) VALUES ('dispatch_limit_minutes', 10)")
    for name in SQL_FILES:
        op.execute(read_sql(name))
    op.execute("SELECT stats_rebuild()")


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
    op.drop_table("stats_setting")
    op.drop_index("ix_stats_resolution_grid_day", table_name="stats_resolution")
    op.drop_table("stats_resolution")
    op.drop_index("ix_stats_patrol_walked_day_grid", table_name="stats_patrol_walked")
    op.drop_table("stats_patrol_walked")
    op.drop_index("ix_stats_daily_grid_day", table_name="stats_daily")
    op.drop_table("stats_daily")
    op.drop_table("stats_block")


# The definitions of every counter live in SQL (alembic/sql/), so that the triggers
# (incremental, in the transaction of each change) and stats_rebuild() (from the raw rows)
# cannot disagree. Days are the report's (created_at) calendar days; see
# docs/decisions/0004-stats-histograms.md. In the order of creation (a LANGUAGE sql body is
# checked against what exists when it is created).
SQL_FILES = [
    "stats_day.v1",
    "stats_daynum.v1",
    "stats_minutes.v1",
    "stats_closed_on_time.v1",
    "stats_dispatch_limit.v1",
    "stats_counts.type.v1",
    "stats_counts_of.v1",
    "stats_first_dispatch_on_time.v1",
    "stats_add.v1",
    "stats_hist_add.v1",
    "stats_event_changed.v1",
    "stats_event_truncated.v1",
    "stats_patrol_walks.v1",
    "stats_patrol_changed.v1",
    "stats_patrol_points_added.v1",
    "stats_patrol_points_removed.v1",
    "stats_patrol_truncated.v1",
    "stats_rebuild.v1",
]

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS stats_patrol_truncate ON patrol;
DROP TRIGGER IF EXISTS stats_patrol_points_delete ON patrol_point;
DROP TRIGGER IF EXISTS stats_patrol_points_insert ON patrol_point;
DROP TRIGGER IF EXISTS stats_patrol ON patrol;
DROP TRIGGER IF EXISTS stats_event_truncate ON event;
DROP TRIGGER IF EXISTS stats_event ON event;
DROP FUNCTION IF EXISTS stats_rebuild();
DROP FUNCTION IF EXISTS stats_patrol_truncated();
DROP FUNCTION IF EXISTS stats_patrol_points_removed();
DROP FUNCTION IF EXISTS stats_patrol_points_added();
DROP FUNCTION IF EXISTS stats_patrol_changed();
DROP FUNCTION IF EXISTS stats_patrol_walks(patrol);
DROP FUNCTION IF EXISTS stats_event_truncated();
DROP FUNCTION IF EXISTS stats_event_changed();
DROP FUNCTION IF EXISTS stats_hist_add(date, integer, integer, integer, integer, integer, integer);
DROP FUNCTION IF EXISTS stats_add(date, integer, integer, stats_counts, stats_counts, integer);
DROP FUNCTION IF EXISTS stats_first_dispatch_on_time(event);
DROP FUNCTION IF EXISTS stats_counts_of(event);
DROP TYPE IF EXISTS stats_counts;
DROP FUNCTION IF EXISTS stats_dispatch_limit();
DROP FUNCTION IF EXISTS stats_closed_on_time(event);
DROP FUNCTION IF EXISTS stats_minutes(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS stats_daynum(date);
DROP FUNCTION IF EXISTS stats_day(timestamptz);
"""
