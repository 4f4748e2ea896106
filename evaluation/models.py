"""Tables of the statistics fast path (docs/decisions/0004-stats-histograms.md).

All of them are derived from ``event`` and ``patrol`` and kept current by PostgreSQL triggers in
the transaction of the change (migration 0004 creates the triggers and the SQL functions that
define every counter); ``wangge stats rebuild`` recomputes them from the raw rows.

- ``stats_daily``: per (report day × grid × category) counters for the indicators;
- ``stats_resolution``: per (report day × grid × category × closing level × minutes) the number
  of closed events whose report → close time is that many whole minutes, and how many of them
  were on time: an exact histogram, so percentiles are exact to the minute;
- ``stats_resolution_working``: the same histogram of the report → close time in working
  minutes on the category's calendar (``event.resolution_working_time``, migration 0028);
- ``stats_block``: sealed roll-ups of both histograms over aligned blocks of 2^k days, one
  packed binary histogram per block and projection (by grid, by category, by level; wall time
  1–3, working time 4–6);
- ``stats_patrol_walked``: patrols that walked (a track or at least one GPS point), by day/grid;
- ``stats_counter_block`` / ``stats_counter_sealed``: the counters (and patrolled days) summed
  per grid over the same aligned blocks of days, and which blocks are sealed;
- ``stats_map_cache``: ``grids.service.coverage`` (the map and roster), kept with a fingerprint of
  the grid, subdistrict and staff tables and recomputed when it changes;
- ``stats_setting``: values the SQL definitions read (the dispatch time limit).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, Index, LargeBinary, SmallInteger, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class StatsCounters(SQLModel):
    """The counters of ``stats_daily`` and ``stats_counter_block``, in column order (the SQL type
    ``stats_counts`` plus the act-based ``dispatched_on_time``, then the audit log's counters,
    the type ``stats_audit_counts``, then the intake counters, ``stats_intake_counts``). Their
    definitions live in SQL (``stats_counts_of``, ``stats_audit_counts``,
    ``stats_intake_counts``)."""

    reported: int = 0
    voided: int = 0
    registered: int = 0
    public_registered: int = 0
    dispatched: int = 0
    dispatched_on_time: int = 0
    redispatches: int = 0
    escalations: int = 0
    handled: int = 0
    handled_on_time: int = 0
    reworks: int = 0
    closed: int = 0
    closed_on_time: int = 0
    closed_level0: int = 0
    closed_le2: int = 0
    handled_on_promise: int = 0
    # the audit counters (domain.evaluation.indicators.AUDIT_COUNTERS: 立案, 核查), kept per audit
    # row by the trigger stats_audit (stats_audit_counts, migration 0024)
    ever_registered: int = 0
    registered_on_time: int = 0
    voided_after_registration: int = 0
    reviews: int = 0
    reviews_on_time: int = 0
    # the process counters (延期, 挂账, 回退, 重开 and the dispatched cases they are rates of), kept
    # by the triggers stats_audit and stats_event (stats_audit_counts v2, migration 0028)
    dispatched_cases: int = 0
    extended_cases: int = 0
    parked_cases: int = 0
    returned_cases: int = 0
    reopened_cases: int = 0
    # the intake counters (domain.evaluation.intake) on the day each report was received, kept by
    # the triggers stats_event and stats_public_report (stats_intake_counts, migration 0024): a
    # verification done; one due because its deadline passed is counted when asked
    all_reports: int = 0
    linked_reports: int = 0
    public_reports: int = 0
    verifications_done: int = 0
    verified_on_time: int = 0
    public_decided: int = 0
    public_valid: int = 0


COUNTER_COLUMNS: tuple[str, ...] = tuple(StatsCounters.model_fields)


class StatsDaily(StatsCounters, table=True):
    """Counters of the events reported on ``day`` (Asia/Shanghai) in a grid and category."""

    __tablename__ = "stats_daily"
    __table_args__ = (Index("ix_stats_daily_grid_day", "grid_id", "day"),)

    day: date = Field(primary_key=True)
    grid_id: int = Field(primary_key=True)
    category_id: int = Field(primary_key=True)


class ResolutionHistogram(SQLModel):
    """How many events reported on ``day`` and closed at ``level`` took ``minutes`` whole
    minutes from report to close (``ontime`` of them within the category's target)."""

    day: date = Field(primary_key=True)
    grid_id: int = Field(primary_key=True)
    category_id: int = Field(primary_key=True)
    level: int = Field(sa_type=SmallInteger, primary_key=True)
    minutes: int = Field(primary_key=True)
    n: int
    ontime: int


class StatsResolution(ResolutionHistogram, table=True):
    """The histogram in wall-clock minutes."""

    __tablename__ = "stats_resolution"
    __table_args__ = (Index("ix_stats_resolution_grid_day", "grid_id", "day"),)


class StatsResolutionWorking(ResolutionHistogram, table=True):
    """The histogram with ``minutes`` the report → close time in whole working minutes on the
    category's calendar (``event.resolution_working_time``); events closed without it (before
    migration 0028 on a working calendar) are not in it."""

    __tablename__ = "stats_resolution_working"
    __table_args__ = (Index("ix_stats_resolution_working_grid_day", "grid_id", "day"),)


class ResolutionClock(StrEnum):
    """Which resolution minutes a histogram counts: wall-clock or working time."""

    wall = "wall"
    working = "working"


#: Each clock's histogram table.
RESOLUTION_TABLES = {
    ResolutionClock.wall: "stats_resolution",
    ResolutionClock.working: "stats_resolution_working",
}

#: ``stats_block.proj``: the key a sealed histogram is projected on, and its column in
#: ``stats_resolution``; ``COUNTERS`` stands for the counter blocks, sealed beside them. The
#: working-time histogram's projections are the same keys, ``WORKING_PROJ`` further.
PROJ_GRID, PROJ_CATEGORY, PROJ_LEVEL = 1, 2, 3
WORKING_PROJ = 3
COUNTERS = 0
PROJECTION_KEYS = {PROJ_GRID: "grid_id", PROJ_CATEGORY: "category_id", PROJ_LEVEL: "level"}
#: Every sealed histogram projection: (proj, its clock, its key's base projection).
PROJECTIONS: tuple[tuple[int, ResolutionClock, int], ...] = tuple(
    (base + offset, clock, base)
    for clock, offset in ((ResolutionClock.wall, 0), (ResolutionClock.working, WORKING_PROJ))
    for base in (PROJ_GRID, PROJ_CATEGORY, PROJ_LEVEL)
)


class StatsBlock(SQLModel, table=True):
    """A sealed histogram of ``stats_resolution`` over days ``[start, start + 2^lvl)`` (day
    numbers since 1970-01-01), projected on one key (``proj``: 1 grid, 2 category, 3 level; 4–6
    the same of ``stats_resolution_working``).
    ``hist`` packs records of four big-endian uint32: key, minutes, n, ontime. A row exists
    only while it is exact: a change to any of its days deletes it (trigger)."""

    __tablename__ = "stats_block"

    lvl: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    start: int = Field(primary_key=True)
    proj: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    hist: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class StatsPatrolWalked(SQLModel, table=True):
    """A patrol that walked (track or GPS points), on the day it started, in its grid."""

    __tablename__ = "stats_patrol_walked"
    __table_args__ = (Index("ix_stats_patrol_walked_day_grid", "day", "grid_id"),)

    patrol_id: int = Field(primary_key=True)
    day: date
    grid_id: int


class StatsSetting(SQLModel, table=True):
    """Numbers the SQL definitions of the counters read (``dispatch_limit_minutes``)."""

    __tablename__ = "stats_setting"

    key: str = Field(sa_column=Column(Text, primary_key=True))
    value: float


class StatsCounterBlock(StatsCounters, table=True):
    """The counters of ``stats_daily`` of one grid summed over days ``[start, start + 2^lvl)``,
    with the number of those days on which the grid was patrolled."""

    __tablename__ = "stats_counter_block"

    lvl: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    start: int = Field(primary_key=True)
    grid_id: int = Field(primary_key=True)
    patrolled_days: int = 0


class StatsCounterSealed(SQLModel, table=True):
    """A counter block that is sealed (its rows, possibly none, are exact)."""

    __tablename__ = "stats_counter_sealed"

    lvl: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    start: int = Field(primary_key=True)


class StatsMapCache(SQLModel, table=True):
    """``grids.service.coverage`` for the map whose tables have this fingerprint."""

    __tablename__ = "stats_map_cache"

    fingerprint: str = Field(sa_column=Column(Text, primary_key=True))
    figures: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    computed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
