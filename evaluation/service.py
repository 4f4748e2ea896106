"""All SQL of the statistics: resolution tables, indicators, drill-downs, scorecards, event
lists, sealing blocks and rebuilding (docs/decisions/0004-stats-histograms.md).

Reading resolution times: the window is tiled with sealed blocks (``stats_block``) where they
exist and with single days of ``stats_resolution`` where they do not; the packed entries are
merged with NumPy and each group's figures computed at once. A filter the block's projection
cannot express (say a category filter while grouping by grid) reads ``stats_resolution``
directly with the filter, which then touches few rows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation import (
    INDICATOR_BY_CODE,
    INDICATORS,
    LEVEL_NAMES,
    MAX_BLOCK_LEVEL,
    PERCENTILES,
    SMALL_SAMPLE,
    STATS_TZ,
    GroupBy,
    Indicator,
    IndicatorValue,
    Score,
    Scorecard,
    Source,
    children,
    cover,
    day_number,
    day_of_number,
    decompose,
    evaluate,
    periods,
    score,
)
from evaluation import histogram as hist
from evaluation.models import COUNTER_COLUMNS
from grids.service import Coverage as MapCoverage
from grids.service import coverage as map_coverage
from kernel.errors import Invalid, NotFound, TooLarge, field_error
from kernel.settings import get_settings

PROJ_GRID, PROJ_CATEGORY, PROJ_LEVEL = 1, 2, 3
COUNTERS = 0  # the counter blocks (stats_counter_block), sealed beside the histograms
_PROJ_KEY = {PROJ_GRID: "grid_id", PROJ_CATEGORY: "category_id", PROJ_LEVEL: "level"}
#: The longest window a request may ask for, and the days a window may cover.
MAX_WINDOW_DAYS = 3 * 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
#: Rows an export may hold.
EXPORT_MAX_ROWS = 200_000


# --- scope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A window of report days and optional grid / community / category filters."""

    since: date
    until: date
    grid: str | None = None
    community: str | None = None
    category: str | None = None
    grid_ids: tuple[int, ...] | None = None
    category_id: int | None = None

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def filtered_by_place(self) -> bool:
        return self.grid_ids is not None

    def filters(self) -> dict[str, str]:
        out = {"grid": self.grid, "community": self.community, "category": self.category}
        return {k: v for k, v in out.items() if v is not None}


def resolve_scope(
    session: Session,
    *,
    since: date,
    until: date,
    grid: str | None = None,
    community: str | None = None,
    category: str | None = None,
) -> Scope:
    """Check the window and turn codes into ids; 422 naming the parameter at fault."""
    for name, day in (("since", since), ("until", until)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid(field_error(name, f"{name} must be between {FIRST_DAY} and {LAST_DAY}"))
    if until < since:
        raise Invalid(field_error("until", "until is before since"))
    if (until - since).days + 1 > MAX_WINDOW_DAYS:
        raise Invalid(field_error("until", f"the window is longer than {MAX_WINDOW_DAYS} days"))
    if grid is not None and community is not None:
        raise Invalid(field_error("community", "give grid or community, not both"))
    grid_ids: tuple[int, ...] | None = None
    if grid is not None:
        row = session.execute(text("SELECT id FROM grid WHERE code = :c"), {"c": grid}).first()
        if row is None:
            raise Invalid(field_error("grid", f"no grid with code {grid!r}"))
        grid_ids = (int(row[0]),)
    if community is not None:
        row = session.execute(
            text("SELECT id FROM community WHERE code = :c OR name = :c"), {"c": community}
        ).first()
        if row is None:
            raise Invalid(field_error("community", f"no community with code or name {community!r}"))
        grid_ids = tuple(
            session.execute(
                text("SELECT id FROM grid WHERE community_id = :c ORDER BY id"), {"c": row[0]}
            ).scalars()
        )
    category_id: int | None = None
    if category is not None:
        row = session.execute(
            text("SELECT id FROM category WHERE code = :c"), {"c": category}
        ).first()
        if row is None:
            raise Invalid(field_error("category", f"no category {category!r}"))
        category_id = int(row[0])
    return Scope(since, until, grid, community, category, grid_ids, category_id)


def _bounds(scope: Scope) -> tuple[datetime, datetime]:
    """The UTC instants that bound the window's Asia/Shanghai days (start inclusive)."""
    start = datetime.combine(scope.since, time(), tzinfo=STATS_TZ)
    end = datetime.combine(scope.until + timedelta(days=1), time(), tzinfo=STATS_TZ)
    return start, end


# --- resolution times ------------------------------------------------------------------------


@dataclass(slots=True)
class ResolutionRow:
    group: str
    name: str
    count: int
    mean: float | None
    p50: int | None
    p90: int | None
    p95: int | None
    max: int | None
    on_time: int
    on_time_rate: float | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def small_sample(self) -> bool:
        return self.count < SMALL_SAMPLE

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            **self.extra,
            "count": self.count,
            "mean": self.mean,
            "p50": self.p50,
            "p90": self.p90,
            "p95": self.p95,
            "max": self.max,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "small_sample": self.small_sample,
        }


@dataclass(frozen=True)
class ResolutionTable:
    scope: Scope
    group_by: GroupBy
    rows: list[ResolutionRow]
    total: ResolutionRow
    path: str  # "blocks" or "rows": how the figures were read


@dataclass(frozen=True)
class _Groups:
    """The groups of a table: labels, and how a projection key maps to a group index."""

    keys: list[str]
    names: list[str]
    extra: list[dict[str, Any]]
    index: dict[int, int]  # projection key (or day number for time groupings) -> group


def _group_labels(session: Session, scope: Scope, group_by: GroupBy) -> _Groups:
    keys: list[str] = []
    names: list[str] = []
    extra: list[dict[str, Any]] = []
    index: dict[int, int] = {}
    if group_by in (GroupBy.grid, GroupBy.community):
        raw = session.connection().connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:  # plain tuples: a thousand grids are read on every call
            cursor.execute(
                """
                SELECT g.id, g.code, g.name, c.id, c.code, c.name
                  FROM grid g JOIN community c ON c.id = g.community_id
                 WHERE %(ids)s::integer[] IS NULL OR g.id = ANY(%(ids)s)
                 ORDER BY g.code
                """,
                {"ids": None if scope.grid_ids is None else list(scope.grid_ids)},
            )
            rows = cursor.fetchall()
        if group_by is GroupBy.grid:
            for gid, code, name, _, _, cname in rows:
                index[gid] = len(keys)
                keys.append(code)
                names.append(name)
                extra.append({"community": cname})
        else:
            seen: dict[int, int] = {}
            for gid, _, _, cid, ccode, cname in rows:
                if cid not in seen:
                    seen[cid] = len(keys)
                    keys.append(ccode)
                    names.append(cname)
                    extra.append({})
                index[gid] = seen[cid]
    elif group_by is GroupBy.category:
        rows = session.execute(
            text("""
            SELECT id, code, name FROM category
             WHERE CAST(:id AS integer) IS NULL OR id = :id ORDER BY code
            """),
            {"id": scope.category_id},
        ).all()
        for cid, code, name in rows:
            index[cid] = len(keys)
            keys.append(code)
            names.append(name)
            extra.append({})
    elif group_by is GroupBy.level:
        for level, name in LEVEL_NAMES.items():
            index[level] = len(keys)
            keys.append(str(level))
            names.append(name)
            extra.append({})
    else:
        for i, period in enumerate(periods(scope.since, scope.until, group_by)):
            keys.append(period.label)
            names.append(period.label)
            extra.append(
                {"first_day": period.first.isoformat(), "last_day": period.last.isoformat()}
            )
            for dn in range(day_number(period.first), day_number(period.last) + 1):
                index[dn] = i
    return _Groups(keys, names, extra, index)


def _lookup(index: Mapping[int, int]) -> np.ndarray[Any, np.dtype[np.int64]]:
    keys = np.fromiter(index.keys(), dtype=np.int64, count=len(index))
    table = np.full(int(keys.max()) + 1 if len(keys) else 1, -1, dtype=np.int64)
    table[keys] = np.fromiter(index.values(), dtype=np.int64, count=len(index))
    return table


def _regroup(entries: hist.Entries, index: Mapping[int, int]) -> hist.Entries:
    """Entries with their keys replaced by group indexes (entries outside the groups dropped)."""
    if len(entries) == 0:
        return entries
    table = _lookup(index)
    k = entries.k
    inside = k < table.shape[0]
    groups = np.full(k.shape[0], -1, dtype=np.int64)
    groups[inside] = table[k[inside]]
    keep = groups >= 0
    return hist.Entries(groups[keep], entries.m[keep], entries.n[keep], entries.o[keep])


def _projection(scope: Scope, group_by: GroupBy) -> int | None:
    """The sealed projection that can answer, or None when the filters need the base rows."""
    dims = set()
    if group_by in (GroupBy.grid, GroupBy.community):
        dims.add("place")
    elif group_by is GroupBy.category:
        dims.add("category")
    elif group_by is GroupBy.level:
        dims.add("level")
    if scope.filtered_by_place:
        dims.add("place")
    if scope.category_id is not None:
        dims.add("category")
    if not dims:
        return PROJ_LEVEL  # the smallest projection: four keys per entry at most
    if dims == {"place"}:
        return PROJ_GRID
    if dims == {"category"}:
        return PROJ_CATEGORY
    if dims == {"level"}:
        return PROJ_LEVEL
    return None


def _sealed(session: Session, proj: int, first: int, last: int) -> set[tuple[int, int]]:
    rows = session.execute(
        text("SELECT lvl, start FROM stats_block WHERE proj = :p AND start BETWEEN :a AND :b"),
        {"p": proj, "a": first - (1 << MAX_BLOCK_LEVEL), "b": last},
    ).all()
    return {(int(r[0]), int(r[1])) for r in rows}


def _fetch_blocks(
    session: Session, proj: int, blocks: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], hist.Entries]:
    """The sealed blocks among ``blocks`` (the others are not sealed)."""
    # Binary protocol: bytea as text is hex, twice the bytes and four times the time.
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor(binary=True) as cursor:
        cursor.execute(
            """
            SELECT b.lvl, b.start, b.hist FROM stats_block b
              JOIN unnest(%s::smallint[], %s::integer[]) AS u(lvl, start)
                ON b.lvl = u.lvl AND b.start = u.start
             WHERE b.proj = %s
            """,
            ([b[0] for b in blocks], [b[1] for b in blocks], proj),
        )
        return {(int(lvl), int(start)): hist.decode(blob) for lvl, start, blob in cursor}


def _read_blocks(
    session: Session, proj: int, ranges: Sequence[tuple[int, int]]
) -> list[hist.Entries]:
    """Entries (keys: the projection's) of each day range: the range's aligned blocks where
    they are sealed; where one is not, its two halves, down to single days, which are read from
    ``stats_resolution``. Usually one round trip; one more per level of unsealed blocks."""
    frontier = {block: i for i, (a, b) in enumerate(ranges) for block in decompose(a, b)}
    found: list[list[hist.Entries]] = [[] for _ in ranges]
    leaves: dict[int, int] = {}  # day number -> range
    while frontier:
        blobs = _fetch_blocks(session, proj, sorted(frontier))
        below: dict[tuple[int, int], int] = {}
        for block, i in frontier.items():
            if block in blobs:
                found[i].append(blobs[block])
            elif block[0] == 0:
                leaves[block[1]] = i
            else:
                below.update(dict.fromkeys(children(*block), i))
        frontier = below
    if leaves:
        no_jit(session)
        key = _PROJ_KEY[proj]
        rows = session.execute(
            text(f"""
            SELECT day - DATE '1970-01-01', {key}, minutes, sum(n), sum(ontime)
              FROM stats_resolution WHERE day = ANY(:days)
             GROUP BY 1, 2, 3
            """),
            {"days": [day_of_number(d) for d in leaves]},
        ).all()
        if rows:
            arr = np.array(rows, dtype=np.int64)
            for dn in np.unique(arr[:, 0]):
                part = arr[arr[:, 0] == dn]
                found[leaves[int(dn)]].append(
                    hist.Entries.of(part[:, 1], part[:, 2], part[:, 3], part[:, 4])
                )
    return [hist.concat(parts) for parts in found]


def _read_rows(session: Session, scope: Scope, group_by: GroupBy) -> hist.Entries:
    """Entries keyed for ``group_by`` (grid id — also for communities, whose groups map grids
    —, category id, level or day number) straight from ``stats_resolution`` with the scope's
    filters."""
    no_jit(session)
    key = {
        GroupBy.grid: "r.grid_id",
        GroupBy.community: "r.grid_id",
        GroupBy.category: "r.category_id",
        GroupBy.level: "r.level",
    }.get(group_by, "r.day - DATE '1970-01-01'")
    rows = session.execute(
        text(f"""
        SELECT {key}, r.minutes, sum(r.n), sum(r.ontime)
          FROM stats_resolution r
         WHERE r.day BETWEEN :since AND :until
           AND (CAST(:grids AS integer[]) IS NULL OR r.grid_id = ANY(:grids))
           AND (CAST(:category AS integer) IS NULL OR r.category_id = :category)
         GROUP BY 1, 2
        """),
        {
            "since": scope.since,
            "until": scope.until,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "category": scope.category_id,
        },
    ).all()
    if not rows:
        return hist.Entries.empty()
    arr = np.array(rows, dtype=np.int64)
    return hist.Entries.of(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


def _rows(groups: _Groups, f: hist.Figures) -> list[ResolutionRow]:
    """One row per group (plain Python numbers, converted once per column)."""
    count, total, on_time, biggest = (
        f.count.tolist(),
        f.total.tolist(),
        f.on_time.tolist(),
        f.max.tolist(),
    )
    p50, p90, p95 = (f.percentiles[p].tolist() for p in PERCENTILES)
    rows: list[ResolutionRow] = []
    for i, (key, name, extra) in enumerate(
        zip(groups.keys, groups.names, groups.extra, strict=True)
    ):
        n = count[i]
        if n == 0:
            rows.append(ResolutionRow(key, name, 0, None, None, None, None, None, 0, None, extra))
            continue
        rows.append(
            ResolutionRow(
                group=key, name=name, count=n, mean=round(total[i] / n, 2), p50=p50[i],
                p90=p90[i], p95=p95[i], max=biggest[i], on_time=on_time[i],
                on_time_rate=round(on_time[i] / n, 4), extra=extra,
            )
        )  # fmt: skip
    return rows


def no_jit(session: Session) -> None:
    """These reads are short: PostgreSQL's JIT compiling them costs more than it saves."""
    session.execute(text("SET LOCAL jit = off"))


def resolution(*, session: Session, scope: Scope, group_by: GroupBy) -> ResolutionTable:
    """Report → close minutes of the events reported in the window and closed, per group."""
    groups = _group_labels(session, scope, group_by)
    proj = _projection(scope, group_by)
    first, last = day_number(scope.since), day_number(scope.until)
    if proj is None:
        entries = _regroup(_read_rows(session, scope, group_by), groups.index)
    elif group_by.is_time:
        spans = periods(scope.since, scope.until, group_by)
        parts = _read_blocks(
            session, proj, [(day_number(p.first), day_number(p.last)) for p in spans]
        )
        kept = [_keep(scope, proj, part) for part in parts]
        entries = hist.concat(
            [part.with_keys(np.full(len(part), i, dtype=np.int64)) for i, part in enumerate(kept)]
        )
    else:
        (part,) = _read_blocks(session, proj, [(first, last)])
        entries = _regroup(_keep(scope, proj, part), groups.index)
    rows = _rows(groups, hist.figures(entries, len(groups.keys)))
    (total,) = _rows(_Groups(["total"], ["合计"], [{}], {}), hist.overall(entries))
    return ResolutionTable(scope, group_by, rows, total, "rows" if proj is None else "blocks")


def _keep(scope: Scope, proj: int, entries: hist.Entries) -> hist.Entries:
    """Apply the scope's filter on the projection's own key."""
    if proj == PROJ_GRID and scope.grid_ids is not None:
        return entries.take(np.isin(entries.k, np.array(scope.grid_ids, dtype=np.int64)))
    if proj == PROJ_CATEGORY and scope.category_id is not None:
        return entries.take(entries.k == scope.category_id)
    return entries


# --- indicators ------------------------------------------------------------------------------


_COUNTER_SUMS = ", ".join(f"sum({c})" for c in COUNTER_COLUMNS)
_COUNTER_ZEROS = ", ".join("0" for _ in COUNTER_COLUMNS)


def counter_sums(session: Session, scope: Scope, *, per_grid: bool) -> dict[int, dict[str, float]]:
    """The counters (and patrolled days) of the window per grid (or, key 0, all grids in scope),
    from sealed counter blocks and, for days not sealed, the day rows."""
    first, last = day_number(scope.since), day_number(scope.until)
    sealed = {
        (int(r[0]), int(r[1]))
        for r in session.execute(
            text("SELECT lvl, start FROM stats_counter_sealed WHERE start BETWEEN :a AND :b"),
            {"a": first - (1 << MAX_BLOCK_LEVEL), "b": last},
        ).all()
    }
    use, leaves = cover(first, last, sealed)
    key = "grid_id" if per_grid else "0"
    rows = session.execute(
        text(f"""
        SELECT {key}, {_COUNTER_SUMS}, sum(patrolled_days) FROM (
          SELECT b.grid_id, {", ".join(f"b.{c}" for c in COUNTER_COLUMNS)}, b.patrolled_days
            FROM stats_counter_block b
            JOIN unnest(CAST(:lvls AS smallint[]), CAST(:starts AS integer[])) AS u(lvl, start)
              ON b.lvl = u.lvl AND b.start = u.start
          UNION ALL
          SELECT grid_id, {", ".join(COUNTER_COLUMNS)}, 0
            FROM stats_daily WHERE day = ANY(:days)
          UNION ALL
          SELECT grid_id, {_COUNTER_ZEROS}, count(DISTINCT day)
            FROM stats_patrol_walked WHERE day = ANY(:days) GROUP BY grid_id
        ) x
         WHERE CAST(:grids AS integer[]) IS NULL OR grid_id = ANY(:grids)
         GROUP BY 1
        """),
        {
            "lvls": [u[0] for u in use],
            "starts": [u[1] for u in use],
            "days": [day_of_number(d) for d in leaves],
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
        },
    ).all()
    out: dict[int, dict[str, float]] = {}
    for row in rows:
        values = {c: float(v or 0) for c, v in zip(COUNTER_COLUMNS, row[1:-1], strict=True)}
        values["patrolled_grid_days"] = float(row[-1] or 0)
        out[int(row[0])] = values
    return out


_FINGERPRINT_SQL = """
SELECT concat_ws(':',
  (SELECT count(*) || '/' || coalesce(max(xmin::text::bigint), 0) || '/'
          || coalesce(sum(area_m2), 0) FROM grid),
  (SELECT count(*) || '/' || coalesce(max(xmin::text::bigint), 0) FROM subdistrict),
  (SELECT count(*) || '/' || coalesce(max(xmin::text::bigint), 0) FROM staff))
"""


def map_figures(session: Session) -> MapCoverage:
    """``grids.service.coverage`` (a union of every grid: ~0.5 s for a 1,000-grid map), kept in
    ``stats_map_cache`` under a fingerprint of the grid, subdistrict and staff tables (row
    counts, newest row versions, total area), so a changed map or roster is recomputed."""
    fingerprint = str(session.execute(text(_FINGERPRINT_SQL)).scalar_one())
    cached = session.execute(
        text("SELECT figures FROM stats_map_cache WHERE fingerprint = :f"), {"f": fingerprint}
    ).scalar_one_or_none()
    if cached is not None:
        return MapCoverage(**cached)
    figures = map_coverage(session=session)
    session.execute(text("DELETE FROM stats_map_cache WHERE fingerprint <> :f"), {"f": fingerprint})
    session.execute(
        text("""
        INSERT INTO stats_map_cache (fingerprint, figures, computed_at)
        VALUES (:f, CAST(:figures AS jsonb), now()) ON CONFLICT DO NOTHING
        """),
        {"f": fingerprint, "figures": json.dumps(asdict(figures))},
    )
    session.commit()
    return figures


def _totals(session: Session, scope: Scope) -> dict[str, float]:
    cov = map_figures(session)
    no_jit(session)
    sums = counter_sums(session, scope, per_grid=False)
    totals = sums.get(0) or dict.fromkeys((*COUNTER_COLUMNS, "patrolled_grid_days"), 0.0)
    totals["grid_days"] = float(_grid_count(session, scope) * scope.days)
    totals["covered_area_km2"] = cov.covered_area_km2
    totals["jurisdiction_area_km2"] = cov.jurisdiction_area_km2
    if scope.grid_ids is None:
        totals["staffed_grids"] = float(cov.fully_staffed_grids)
        totals["grids"] = float(cov.grid_count)
    else:
        totals["staffed_grids"] = float(_staffed(session, scope.grid_ids))
        totals["grids"] = float(len(scope.grid_ids))
    return totals


def _grid_count(session: Session, scope: Scope) -> int:
    if scope.grid_ids is not None:
        return len(scope.grid_ids)
    return int(session.execute(text("SELECT count(*) FROM grid")).scalar_one())


_STAFFED_SQL = """
SELECT g.id FROM grid g
 WHERE (CAST(:grids AS integer[]) IS NULL OR g.id = ANY(:grids))
   AND (SELECT count(*) FILTER (WHERE s.role = 'head') >= 1
           AND count(*) FILTER (WHERE s.role = 'member') >= 2
          FROM staff s WHERE s.grid_id = g.id)
"""


def _staffed(session: Session, grid_ids: Sequence[int] | None) -> int:
    return len(
        session.execute(
            text(_STAFFED_SQL), {"grids": None if grid_ids is None else list(grid_ids)}
        ).all()
    )


@dataclass(frozen=True)
class IndicatorReport:
    scope: Scope
    values: list[IndicatorValue]
    totals: dict[str, float]


def indicators(*, session: Session, scope: Scope) -> IndicatorReport:
    """Every DESIGN §7 indicator for the window (events reported in it, as they stand now)."""
    if scope.category_id is not None:
        raise Invalid(field_error("category", "indicators take grid or community"))
    totals = _totals(session, scope)
    return IndicatorReport(scope, [evaluate(i, totals) for i in INDICATORS], totals)


# --- drill-downs -----------------------------------------------------------------------------

#: Per-event SQL of each counter (the definitions of migration 0005; ``fd.at`` is the time of
#: the event's first dispatch, joined only when asked for).
_COUNTER_SQL: Mapping[str, str] = {
    **{
        name: f"(stats_counts(e, cat.resolve_minutes)).{name}"
        for name in COUNTER_COLUMNS
        if name != "dispatched_on_time"
    },
    "dispatched_on_time": "stats_dispatch_on_time(e, fd.at, stats_dispatch_limit())",
}
_FIRST_DISPATCH_JOIN = """
  LEFT JOIN LATERAL (SELECT a.at FROM event_audit a
                      WHERE a.event_id = e.id AND a.action = 'dispatch'
                        AND a.from_status = 'registered'
                      ORDER BY a.version LIMIT 1) fd ON true
"""

EVENT_COLUMNS: tuple[str, ...] = (
    "id", "client_id", "grid_code", "grid_name", "community", "category", "category_name",
    "status", "level", "source", "reporter_id", "assignee_id", "assignee_role", "department",
    "created_at", "dispatched_at", "acknowledged_at", "resolved_at", "closed_at", "voided_at",
    "due_at", "resolution_minutes", "closed_on_time", "rework_count", "redispatch_count",
    "escalation_count",
)  # fmt: skip

_EVENT_SELECT = """
SELECT e.id, e.client_id, g.code, g.name, cm.name, cat.code, cat.name, e.status, e.level,
       e.source, e.reporter_id, e.assignee_id, e.assignee_role, e.department, e.created_at,
       e.dispatched_at, e.acknowledged_at, e.resolved_at, e.closed_at, e.voided_at, e.due_at,
       CASE WHEN e.status = 'closed' THEN stats_minutes(e.created_at, e.closed_at) END,
       CASE WHEN e.status = 'closed' THEN stats_on_time(e, cat.resolve_minutes) END,
       e.rework_count, e.redispatch_count, e.escalation_count
  FROM event e
  JOIN grid g ON g.id = e.grid_id
  JOIN community cm ON cm.id = g.community_id
  JOIN category cat ON cat.id = e.category_id
"""


def _local(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(STATS_TZ).isoformat()
    return value


def _event_dict(row: Sequence[Any]) -> dict[str, Any]:
    out = {name: _local(value) for name, value in zip(EVENT_COLUMNS, row, strict=True)}
    out["client_id"] = str(out["client_id"])
    return out


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    columns: tuple[str, ...]


def _encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> Any:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(field_error("cursor", "not a cursor this API gave out")) from exc


def _check_limit(limit: int | None, export: bool) -> int:
    if export:
        return EXPORT_MAX_ROWS
    if limit is None:
        return 50
    if not 1 <= limit <= 500:
        raise Invalid(field_error("limit", "limit must be between 1 and 500"))
    return limit


def _event_page(
    session: Session,
    *,
    where: str,
    params: dict[str, Any],
    cursor: str | None,
    limit: int,
    export: bool,
    first_dispatch: bool = False,
) -> Page:
    after = _decode_cursor(cursor)
    if after is not None and (
        not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63
    ):
        raise Invalid(field_error("cursor", "not a cursor this API gave out"))
    rows = session.execute(
        text(f"""
        {_EVENT_SELECT}
        {_FIRST_DISPATCH_JOIN if first_dispatch else ""}
         WHERE {where} AND (CAST(:after AS bigint) IS NULL OR e.id > :after)
         ORDER BY e.id LIMIT :limit
        """),
        {**params, "after": after, "limit": limit + 1},
    ).all()
    if export and len(rows) > limit:
        raise TooLarge(f"more than {limit} rows: narrow the window or the filters")
    more = len(rows) > limit
    items = [_event_dict(r) for r in rows[:limit]]
    return Page(items, _encode_cursor(items[-1]["id"]) if more else None, EVENT_COLUMNS)


def _scope_sql(scope: Scope) -> tuple[str, dict[str, Any]]:
    start, end = _bounds(scope)
    where = (
        "e.created_at >= :start AND e.created_at < :end"
        " AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))"
        " AND (CAST(:category AS integer) IS NULL OR e.category_id = :category)"
    )
    params = {
        "start": start,
        "end": end,
        "grids": None if scope.grid_ids is None else list(scope.grid_ids),
        "category": scope.category_id,
    }
    return where, params


def numerator_sql(indicator: Indicator) -> str:
    """The per-event SQL of an event indicator's numerator (its events are those where > 0)."""
    return " + ".join(f"({k}) * {_COUNTER_SQL[name]}" for name, k in indicator.numerator.items())


def drilldown(
    *,
    session: Session,
    code: str,
    scope: Scope,
    cursor: str | None = None,
    limit: int | None = None,
    export: bool = False,
) -> Page:
    """What stands behind an indicator's numerator: its events, or its grid-days / grids."""
    indicator = INDICATOR_BY_CODE.get(code)
    if indicator is None:
        raise NotFound({"loc": ["code"], "msg": f"no indicator {code!r}"})
    size = _check_limit(limit, export)
    if indicator.source is Source.events:
        where, params = _scope_sql(scope)
        where += f" AND ({numerator_sql(indicator)}) > 0"
        return _event_page(
            session,
            where=where,
            params=params,
            cursor=cursor,
            limit=size,
            export=export,
            first_dispatch="dispatched_on_time" in indicator.numerator,
        )
    if indicator.source is Source.patrols:
        return _patrol_days(session, scope, cursor, size, export)
    return _grids(session, scope, staffed_only=code == "staffing", cursor=cursor, limit=size)


def _patrol_days(
    session: Session, scope: Scope, cursor: str | None, limit: int, export: bool
) -> Page:
    after = _decode_cursor(cursor)
    after_day: date | None = None
    if after is not None:
        try:
            after_day = date.fromisoformat(after[0])
            if len(after) != 2 or not isinstance(after[1], str):
                raise ValueError("not a pair")
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise Invalid(field_error("cursor", "not a cursor this API gave out")) from exc
    rows = session.execute(
        text("""
        SELECT w.day, g.code, g.name, c.name, count(*) AS patrols, g.id
          FROM stats_patrol_walked w JOIN grid g ON g.id = w.grid_id
          JOIN community c ON c.id = g.community_id
         WHERE w.day BETWEEN :since AND :until
           AND (CAST(:grids AS integer[]) IS NULL OR w.grid_id = ANY(:grids))
           AND (CAST(:after_day AS date) IS NULL OR (w.day, g.code) > (:after_day, :after_code))
         GROUP BY w.day, g.id, c.name ORDER BY w.day, g.code LIMIT :limit
        """),
        {
            "since": scope.since,
            "until": scope.until,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "after_day": after_day,
            "after_code": None if after is None else after[1],
            "limit": limit + 1,
        },
    ).all()
    if export and len(rows) > limit:
        raise TooLarge(f"more than {limit} rows: narrow the window or the filters")
    items = [
        {"day": r[0].isoformat(), "grid_code": r[1], "grid_name": r[2], "community": r[3],
         "patrols": int(r[4])}
        for r in rows[:limit]
    ]  # fmt: skip
    more = len(rows) > limit
    nxt = _encode_cursor([items[-1]["day"], items[-1]["grid_code"]]) if more else None
    return Page(items, nxt, ("day", "grid_code", "grid_name", "community", "patrols"))


def _grids(
    session: Session, scope: Scope, *, staffed_only: bool, cursor: str | None, limit: int
) -> Page:
    after = _decode_cursor(cursor)
    if after is not None and not isinstance(after, str):
        raise Invalid(field_error("cursor", "not a cursor this API gave out"))
    staffed = set(
        session.execute(
            text(_STAFFED_SQL),
            {"grids": None if scope.grid_ids is None else list(scope.grid_ids)},
        ).scalars()
    )
    rows = session.execute(
        text("""
        SELECT g.id, g.code, g.name, c.name, round((g.area_m2 / 1e6)::numeric, 6)
          FROM grid g JOIN community c ON c.id = g.community_id
         WHERE (CAST(:grids AS integer[]) IS NULL OR g.id = ANY(:grids))
           AND (CAST(:after AS text) IS NULL OR g.code > :after)
         ORDER BY g.code
        """),
        {"grids": None if scope.grid_ids is None else list(scope.grid_ids), "after": after},
    ).all()
    items = [
        {"grid_code": r[1], "grid_name": r[2], "community": r[3], "area_km2": float(r[4]),
         "staffed": r[0] in staffed}
        for r in rows if not staffed_only or r[0] in staffed
    ]  # fmt: skip
    more = len(items) > limit
    items = items[:limit]
    nxt = _encode_cursor(items[-1]["grid_code"]) if more else None
    return Page(items, nxt, ("grid_code", "grid_name", "community", "area_km2", "staffed"))


def event_list(
    *,
    session: Session,
    scope: Scope,
    status: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    export: bool = False,
) -> Page:
    """The events reported in the window, with the scope's filters (for the roles that see
    every event: dispatcher, evaluator, admin)."""
    size = _check_limit(limit, export)
    where, params = _scope_sql(scope)
    if status is not None:
        where += " AND e.status = :status"
        params["status"] = status
    return _event_page(
        session, where=where, params=params, cursor=cursor, limit=size, export=export
    )


# --- scorecard -------------------------------------------------------------------------------


def load_scorecard(path: Path | None = None) -> tuple[Scorecard, dict[str, Any]]:
    path = path or get_settings().data_dir / "scorecard.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return Scorecard.from_data(data), data


@dataclass(frozen=True)
class ScoredUnit:
    kind: str  # grid | community
    code: str
    name: str
    community: str | None
    totals: dict[str, float]
    values: dict[str, float | None]
    result: Score


def scorecard(*, session: Session, scope: Scope) -> tuple[list[ScoredUnit], Scorecard]:
    """The 100-point score of every grid and community for the window."""
    card, _ = load_scorecard()
    grids = session.execute(
        text("""
        SELECT g.id, g.code, g.name, c.id, c.code, c.name
          FROM grid g JOIN community c ON c.id = g.community_id ORDER BY g.code
        """)
    ).all()
    no_jit(session)
    per_grid = counter_sums(session, scope, per_grid=True)
    empty = dict.fromkeys((*COUNTER_COLUMNS, "patrolled_grid_days"), 0.0)
    staffed = set(session.execute(text(_STAFFED_SQL), {"grids": None}).scalars())
    units: list[ScoredUnit] = []
    by_community: dict[int, tuple[str, str, dict[str, float]]] = {}
    for gid, gcode, gname, cid, ccode, cname in grids:
        totals = dict(per_grid.get(gid, empty))
        totals["grid_days"] = float(scope.days)
        totals["grids"] = 1.0
        totals["staffed_grids"] = 1.0 if gid in staffed else 0.0
        units.append(_scored(card, "grid", gcode, gname, cname, totals))
        agg = by_community.setdefault(cid, (ccode, cname, {}))[2]
        for k, v in totals.items():
            agg[k] = agg.get(k, 0.0) + v
    for ccode, cname, totals in sorted(by_community.values()):
        units.append(_scored(card, "community", ccode, cname, None, totals))
    return units, card


def _scored(
    card: Scorecard, kind: str, code: str, name: str, community: str | None,
    totals: dict[str, float],
) -> ScoredUnit:  # fmt: skip
    values = {i.code: evaluate(i, totals).value for i in INDICATORS if i.source is not Source.map}
    values["staffing"] = evaluate(INDICATOR_BY_CODE["staffing"], totals).value
    return ScoredUnit(kind, code, name, community, totals, values, score(card, values))


# --- sealing and rebuilding ------------------------------------------------------------------


def today_local(now: datetime) -> date:
    return now.astimezone(STATS_TZ).date()


def seal(*, session: Session, today: date) -> int:
    """Build the missing sealed blocks (histograms and counters) of the days before ``today``
    (whole blocks only). Each level of each kind is one short transaction that holds writers of
    the day tables off while it reads (so no change can slip between read and write).
    Returns the number of blocks written."""
    bounds = session.execute(
        text("""
        SELECT least((SELECT min(day) FROM stats_resolution), (SELECT min(day) FROM stats_daily),
                     (SELECT min(day) FROM stats_patrol_walked))
        """)
    ).scalar_one()
    session.commit()
    if bounds is None:
        return 0
    lo = day_number(bounds)
    lo -= lo % (1 << MAX_BLOCK_LEVEL)
    hi = day_number(today) - 1
    written = 0
    for kind in (PROJ_GRID, PROJ_CATEGORY, PROJ_LEVEL, COUNTERS):
        for lvl in range(MAX_BLOCK_LEVEL + 1):
            size = 1 << lvl
            first = lo + (-lo % size)
            starts = [s for s in range(first, hi + 1, size) if s + size - 1 <= hi]
            if not starts:
                break
            if kind == COUNTERS:
                written += _seal_counters(session, lvl, starts)
            else:
                written += _seal_level(session, kind, lvl, starts)
    return written


def _seal_counters(session: Session, lvl: int, starts: Sequence[int]) -> int:
    session.execute(text("LOCK TABLE stats_daily, stats_patrol_walked IN SHARE MODE"))
    have = set(
        session.execute(
            text("SELECT start FROM stats_counter_sealed WHERE lvl = :l"), {"l": lvl}
        ).scalars()
    )
    missing = [s for s in starts if s not in have]
    if lvl > 0:
        below = set(
            session.execute(
                text("SELECT start FROM stats_counter_sealed WHERE lvl = :l"), {"l": lvl - 1}
            ).scalars()
        )
        missing = [s for s in missing if all(c[1] in below for c in children(lvl, s))]
    if not missing:
        session.commit()
        return 0
    columns = ", ".join(COUNTER_COLUMNS)
    session.execute(
        text("DELETE FROM stats_counter_block WHERE lvl = :l AND start = ANY(:s)"),
        {"l": lvl, "s": missing},
    )
    if lvl == 0:
        session.execute(
            text(f"""
            INSERT INTO stats_counter_block (lvl, start, grid_id, {columns}, patrolled_days)
            SELECT 0, dn, grid_id, {_COUNTER_SUMS}, sum(p) FROM (
              SELECT day - DATE '1970-01-01' AS dn, grid_id, {columns}, 0 AS p
                FROM stats_daily WHERE day = ANY(:days)
              UNION ALL
              SELECT DISTINCT day - DATE '1970-01-01', grid_id, {_COUNTER_ZEROS}, 1
                FROM stats_patrol_walked WHERE day = ANY(:days)
            ) x GROUP BY dn, grid_id
            """),
            {"days": [day_of_number(d) for d in missing]},
        )
    else:
        session.execute(
            text(f"""
            INSERT INTO stats_counter_block (lvl, start, grid_id, {columns}, patrolled_days)
            SELECT :l, start - start % :size, grid_id, {_COUNTER_SUMS}, sum(patrolled_days)
              FROM stats_counter_block
             WHERE lvl = :l - 1 AND start - start % :size = ANY(:s)
             GROUP BY 2, grid_id
            """),
            {"l": lvl, "size": 1 << lvl, "s": missing},
        )
    session.execute(
        text("""
        INSERT INTO stats_counter_sealed (lvl, start)
        SELECT :l, unnest(CAST(:s AS integer[])) ON CONFLICT DO NOTHING
        """),
        {"l": lvl, "s": missing},
    )
    session.commit()
    return len(missing)


def _seal_level(session: Session, proj: int, lvl: int, starts: Sequence[int]) -> int:
    session.execute(text("LOCK TABLE stats_resolution IN SHARE MODE"))
    have = {
        int(s)
        for s in session.execute(
            text("SELECT start FROM stats_block WHERE proj = :p AND lvl = :l"),
            {"p": proj, "l": lvl},
        ).scalars()
    }
    missing = [s for s in starts if s not in have]
    if not missing:
        session.commit()
        return 0
    if lvl == 0:
        blobs = _base_blobs(session, proj, missing)
    else:
        blobs = _merged_blobs(session, proj, lvl, missing)
    if blobs:
        session.execute(
            text("""
            INSERT INTO stats_block (lvl, start, proj, hist)
            SELECT :l, s, :p, h FROM unnest(CAST(:starts AS integer[]), CAST(:hists AS bytea[]))
                   AS u(s, h)
            ON CONFLICT DO NOTHING
            """),
            {"l": lvl, "p": proj, "starts": list(blobs), "hists": list(blobs.values())},
        )
    session.commit()
    return len(blobs)


def _base_blobs(session: Session, proj: int, days: Sequence[int]) -> dict[int, bytes]:
    key = _PROJ_KEY[proj]
    rows = session.execute(
        text(f"""
        SELECT dn, string_agg(int4send(k) || int4send(minutes) || int4send(n) || int4send(o),
                              ''::bytea ORDER BY k, minutes)
          FROM (SELECT day - DATE '1970-01-01' AS dn, {key} AS k, minutes,
                       sum(n)::int AS n, sum(ontime)::int AS o
                  FROM stats_resolution WHERE day = ANY(:days)
                 GROUP BY 1, 2, 3 HAVING sum(n) > 0) x
         GROUP BY dn
        """),
        {"days": [day_of_number(d) for d in days]},
    ).all()
    found = {int(r[0]): bytes(r[1]) for r in rows}
    return {d: found.get(d, b"") for d in days}


def _merged_blobs(session: Session, proj: int, lvl: int, starts: Sequence[int]) -> dict[int, bytes]:
    kids = [child for s in starts for child in children(lvl, s)]
    rows = session.execute(
        text("""
        SELECT start, hist FROM stats_block
         WHERE proj = :p AND lvl = :l AND start = ANY(:starts)
        """),
        {"p": proj, "l": lvl - 1, "starts": [c[1] for c in kids]},
    ).all()
    have = {int(r[0]): bytes(r[1]) for r in rows}
    out: dict[int, bytes] = {}
    for s in starts:
        (_, left), (_, right) = children(lvl, s)
        if left not in have or right not in have:
            continue  # a child was invalidated (or never sealed): this block waits
        if not have[left]:
            out[s] = have[right]
        elif not have[right]:
            out[s] = have[left]
        else:
            out[s] = hist.encode(hist.concat([hist.decode(have[left]), hist.decode(have[right])]))
    return out


def rebuild(*, session: Session, today: date) -> int:
    """Recompute every counter and histogram from the raw rows, then seal. Writers wait
    meanwhile. Returns the number of blocks sealed."""
    session.execute(text("SELECT stats_rebuild()"))
    session.commit()
    return seal(session=session, today=today)
