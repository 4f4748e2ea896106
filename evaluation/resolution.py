"""Resolution-time tables: report → close minutes per group (grid, community, subdistrict,
category, level, day, week, month), in wall-clock or working time (``ResolutionClock``: each
has its histogram, ``evaluation.models``), from the sealed histogram blocks where they cover
the window and from the day rows where they do not; the packed entries are merged with NumPy
and each group's figures computed at once. A filter the block's projection cannot express (a
category filter while grouping by grid) reads ``stats_resolution`` directly with the filter,
touching few rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.days import (
    GroupBy,
    children,
    day_number,
    day_of_number,
    decompose,
    periods,
)
from domain.evaluation.resolution import PERCENTILES, Resolution
from domain.roles import LEVEL_LABELS
from evaluation import histogram as hist
from evaluation.indicators import counter_sums
from evaluation.models import (
    PROJ_CATEGORY,
    PROJ_GRID,
    PROJ_LEVEL,
    PROJECTION_KEYS,
    RESOLUTION_TABLES,
    WORKING_PROJ,
    ResolutionClock,
)
from evaluation.scope import Scope, no_jit
from kernel.db import driver_connection


@dataclass(frozen=True)
class ResolutionRow(Resolution):
    """One group's figures, with its labels (``extra``: the community of a grid, the days of a
    period)."""

    group: str = ""
    name: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Events reported in the window in the group, and those of them still open (neither
    #: closed nor voided) now; None for the level grouping (an event's level moves).
    reported: int | None = None
    open: int | None = None

    def as_dict(self) -> dict[str, Any]:
        figures = {f.name: getattr(self, f.name) for f in fields(Resolution)}
        return {
            "group": self.group,
            "name": self.name,
            **self.extra,
            "reported": self.reported,
            "open": self.open,
            **figures,
            "small_sample": self.small_sample,
        }


@dataclass(frozen=True)
class ResolutionTable:
    scope: Scope
    group_by: GroupBy
    rows: list[ResolutionRow]
    total: ResolutionRow
    path: str  # "blocks" or "rows": how the figures were read
    clock: ResolutionClock = ResolutionClock.wall


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
    if group_by.is_place:
        raw = driver_connection(session)
        with raw.cursor() as cursor:  # plain tuples: a thousand grids are read on every call
            cursor.execute(
                """
                SELECT g.id, g.code, g.name, c.id, c.code, c.name, s.id, s.code, s.name
                  FROM grid g JOIN community c ON c.id = g.community_id
                  JOIN subdistrict s ON s.id = g.subdistrict_id
                 WHERE %(ids)s::integer[] IS NULL OR g.id = ANY(%(ids)s)
                 ORDER BY g.code
                """,
                {"ids": None if scope.grid_ids is None else list(scope.grid_ids)},
            )
            places = cursor.fetchall()
        if group_by is GroupBy.grid:
            for gid, code, name, _, _, cname, *_ in places:
                index[gid] = len(keys)
                keys.append(code)
                names.append(name)
                extra.append({"community": cname})
        else:  # a community or subdistrict: its grids map to it (codes order the groups)
            at = 3 if group_by is GroupBy.community else 6
            seen: dict[int, int] = {}
            for row in places:
                gid, (pid, pcode, pname) = row[0], row[at : at + 3]
                if pid not in seen:
                    seen[pid] = len(keys)
                    keys.append(pcode)
                    names.append(pname)
                    extra.append({})
                index[gid] = seen[pid]
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
        for level, name in LEVEL_LABELS.items():
            index[level] = len(keys)
            keys.append(str(level))
            names.append(name)
            extra.append({})
    else:
        for i, period in enumerate(periods(scope.since, scope.until, group_by)):
            keys.append(period.label)
            names.append(period.label)
            extra.append(
                {"first_day": period.first, "last_day": period.last}  # dates: date cells
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
    if group_by.is_place:
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


def _fetch_blocks(
    session: Session, proj: int, blocks: Sequence[tuple[int, int]], clock: ResolutionClock
) -> dict[tuple[int, int], hist.Entries]:
    """The sealed blocks among ``blocks`` (the others are not sealed)."""
    # Binary protocol: bytea as text is hex, twice the bytes and four times the time.
    raw = driver_connection(session)
    with raw.cursor(binary=True) as cursor:
        cursor.execute(
            """
            SELECT b.lvl, b.start, b.hist FROM stats_block b
              JOIN unnest(%s::smallint[], %s::integer[]) AS u(lvl, start)
                ON b.lvl = u.lvl AND b.start = u.start
             WHERE b.proj = %s
            """,
            (
                [b[0] for b in blocks],
                [b[1] for b in blocks],
                proj + (WORKING_PROJ if clock is ResolutionClock.working else 0),
            ),
        )
        return {(int(lvl), int(start)): hist.decode(blob) for lvl, start, blob in cursor}


def _read_blocks(
    session: Session, proj: int, ranges: Sequence[tuple[int, int]], clock: ResolutionClock
) -> list[hist.Entries]:
    """Entries (keys: the projection's) of each day range: the range's aligned blocks where
    they are sealed; where one is not, its two halves, down to single days, which are read from
    ``stats_resolution``. Usually one round trip; one more per level of unsealed blocks."""
    frontier = {block: i for i, (a, b) in enumerate(ranges) for block in decompose(a, b)}
    found: list[list[hist.Entries]] = [[] for _ in ranges]
    leaves: dict[int, int] = {}  # day number -> range
    while frontier:
        blobs = _fetch_blocks(session, proj, sorted(frontier), clock)
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
        key = PROJECTION_KEYS[proj]
        rows = session.execute(
            text(f"""
            SELECT day - DATE '1970-01-01', {key}, minutes, sum(n), sum(ontime)
              FROM {RESOLUTION_TABLES[clock]} WHERE day = ANY(:days)
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


def _read_rows(
    session: Session, scope: Scope, group_by: GroupBy, clock: ResolutionClock
) -> hist.Entries:
    """Entries keyed for ``group_by`` (grid id — also for communities, whose groups map grids
    —, category id, level or day number) straight from ``stats_resolution`` with the scope's
    filters."""
    no_jit(session)
    key = {
        GroupBy.grid: "r.grid_id",
        GroupBy.community: "r.grid_id",
        GroupBy.subdistrict: "r.grid_id",
        GroupBy.category: "r.category_id",
        GroupBy.level: "r.level",
    }.get(group_by, "r.day - DATE '1970-01-01'")
    rows = session.execute(
        text(f"""
        SELECT {key}, r.minutes, sum(r.n), sum(r.ontime)
          FROM {RESOLUTION_TABLES[clock]} r
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
            rows.append(ResolutionRow(0, None, None, None, None, None, 0, None, key, name, extra))
            continue
        rows.append(
            ResolutionRow(
                group=key, name=name, count=n, mean=round(total[i] / n, 2), p50=p50[i],
                p90=p90[i], p95=p95[i], max=biggest[i], on_time=on_time[i],
                on_time_rate=round(on_time[i] / n, 4), extra=extra,
            )
        )  # fmt: skip
    return rows


def resolution_table(
    *,
    session: Session,
    scope: Scope,
    group_by: GroupBy,
    clock: ResolutionClock = ResolutionClock.wall,
) -> ResolutionTable:
    """Report → close minutes of the events reported in the window and closed, per group, in
    wall-clock or working time (``clock``; working: the events closed with their working
    minutes — every one closed since migration 0028, and those before it on 24x7 calendars)."""
    groups = _group_labels(session, scope, group_by)
    proj = _projection(scope, group_by)
    first, last = day_number(scope.since), day_number(scope.until)
    if proj is None:
        entries = _regroup(_read_rows(session, scope, group_by, clock), groups.index)
    elif group_by.is_time:
        spans = periods(scope.since, scope.until, group_by)
        parts = _read_blocks(
            session, proj, [(day_number(p.first), day_number(p.last)) for p in spans], clock
        )
        kept = [_keep(scope, proj, part) for part in parts]
        entries = hist.concat(
            [part.with_keys(np.full(len(part), i, dtype=np.int64)) for i, part in enumerate(kept)]
        )
    else:
        (part,) = _read_blocks(session, proj, [(first, last)], clock)
        entries = _regroup(_keep(scope, proj, part), groups.index)
    rows = _rows(groups, hist.figures(entries, len(groups.keys)))
    (total,) = _rows(_Groups(["total"], ["合计"], [{}], {}), hist.overall(entries))
    if group_by is not GroupBy.level:
        flows = _flows(session, scope, group_by, groups)
        rows = [
            replace(r, reported=f["reported"], open=f["open"])
            for i, r in enumerate(rows)
            for f in (flows.get(i, _NO_FLOW),)
        ]
        total = replace(
            total,
            reported=sum(f["reported"] for f in flows.values()),
            open=sum(f["open"] for f in flows.values()),
        )
    path = "rows" if proj is None else "blocks"
    return ResolutionTable(scope, group_by, rows, total, path, clock)


_NO_FLOW: Mapping[str, int] = {"reported": 0, "open": 0}


def _flows(
    session: Session, scope: Scope, group_by: GroupBy, groups: _Groups
) -> dict[int, dict[str, int]]:
    """Per group index: the events reported in the window (``reported``) and those of them
    neither closed nor voided now (``reported − voided − closed``), from the day counters (a
    report linked as another's duplicate counts in neither): per place (grid, community,
    subdistrict) from the sealed counter blocks and the unsealed days (``counter_sums``: a year
    of 1,000 grids is a few thousand block rows instead of a million day rows); otherwise from
    ``stats_daily``, whose rows carry the category and the day the blocks do not."""
    if group_by.is_place and scope.category_id is None:
        sums = counter_sums(session, scope, per_grid=True, columns=("reported", "voided", "closed"))
        return _by_group(
            groups,
            (
                (g, c["reported"], c["reported"] - c["voided"] - c["closed"])
                for g, c in sums.items()
            ),
        )
    key = {
        GroupBy.grid: "grid_id",
        GroupBy.community: "grid_id",
        GroupBy.subdistrict: "grid_id",
        GroupBy.category: "category_id",
    }.get(group_by, "stats_daynum(day)")
    rows = session.execute(
        text(f"""
        SELECT {key}, sum(reported), sum(reported - voided - closed)
          FROM stats_daily
         WHERE day BETWEEN :since AND :until
           AND (CAST(:grids AS integer[]) IS NULL OR grid_id = ANY(:grids))
           AND (CAST(:category AS integer) IS NULL OR category_id = :category)
         GROUP BY 1
        """),
        {
            "since": scope.since,
            "until": scope.until,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "category": scope.category_id,
        },
    ).all()
    return _by_group(groups, rows)


def _by_group(groups: _Groups, rows: Iterable[tuple[Any, Any, Any]]) -> dict[int, dict[str, int]]:
    """The flows of each group index from (key, reported, open) rows."""
    out: dict[int, dict[str, int]] = {}
    for k, reported, still_open in rows:
        i = groups.index.get(int(k))
        if i is None:
            continue
        flow = out.setdefault(i, {"reported": 0, "open": 0})
        flow["reported"] += int(reported)
        flow["open"] += int(still_open)
    return out


def _keep(scope: Scope, proj: int, entries: hist.Entries) -> hist.Entries:
    """Apply the scope's filter on the projection's own key."""
    if proj == PROJ_GRID and scope.grid_ids is not None:
        return entries.take(np.isin(entries.k, np.array(scope.grid_ids, dtype=np.int64)))
    if proj == PROJ_CATEGORY and scope.category_id is not None:
        return entries.take(entries.k == scope.category_id)
    return entries
