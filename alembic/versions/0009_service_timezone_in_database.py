"""the statistics' time zone from the service setting: wangge_timezone()

``stats_day()`` had the zone written in ('Asia/Shanghai'), a second copy of the setting
WANGGE_TIMEZONE. Now ``wangge_timezone()`` returns the setting as it was when this migration
ran, and ``stats_day()`` calls it. The planner inlines it to a constant, so the per-row cost
of the triggers does not change (why STABLE and not IMMUTABLE: see
alembic/sql/wangge_timezone.v1.sql). To change the zone later:
``kernel.sqlfiles.set_database_timezone``. When the setting is not the zone 0004 wrote in,
the statistics are recounted in the new zone (and again on downgrade).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:00:00
"""

from alembic import op
from kernel.settings import get_settings
from kernel.sqlfiles import database_timezone, read_sql, set_database_timezone

revision: str = "0009"
down_revision: str | None = "0008"

ZONE_OF_STATS_DAY_V1 = "Asia/Shanghai"


def upgrade() -> None:
    zone = get_settings().timezone
    set_database_timezone(op.get_bind(), zone)
    op.execute(read_sql("stats_day.v2"))
    if zone != ZONE_OF_STATS_DAY_V1:
        op.execute("SELECT stats_rebuild()")


def downgrade() -> None:
    zone = database_timezone(op.get_bind())
    op.execute(read_sql("stats_day.v1"))
    op.execute("DROP FUNCTION wangge_timezone()")
    if zone != ZONE_OF_STATS_DAY_V1:
        op.execute("SELECT stats_rebuild()")
