"""Sealing: the finished days' statistics rolled up into aligned blocks of 2^k days (histograms
per projection, counters per grid), and rebuilding everything from the raw rows
(docs/decisions/0004-stats-histograms.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.days import MAX_BLOCK_LEVEL, children, day_number, day_of_number
from evaluation import histogram as hist
from evaluation.indicators import COUNTER_SUMS, COUNTER_ZEROS
from evaluation.models import (
    COUNTER_COLUMNS,
    COUNTERS,
    PROJECTION_KEYS,
    PROJECTIONS,
    RESOLUTION_TABLES,
)
from kernel.settings import get_settings
from kernel.sqlfiles import set_database_timezone
from kernel.uow import UnitOfWork


def today_local(now: datetime) -> date:
    """The day ``now`` falls on in the service's time zone (days before it can be sealed)."""
    return now.astimezone(get_settings().tz).date()


def seal(*, uow: UnitOfWork, today: date) -> int:
    """Build the missing sealed blocks (histograms and counters) of the days before ``today``
    (whole blocks only). Each level of each kind is one short transaction that holds writers of
    the day tables off while it reads (so no change can slip between read and write).
    Returns the number of blocks written."""
    bounds = uow.session.execute(
        text("""
        SELECT least((SELECT min(day) FROM stats_resolution), (SELECT min(day) FROM stats_daily),
                     (SELECT min(day) FROM stats_patrol_walked),
                     (SELECT min(day) FROM stats_resolution_working))
        """)
    ).scalar_one()
    uow.commit()
    if bounds is None:
        return 0
    lo = day_number(bounds)
    lo -= lo % (1 << MAX_BLOCK_LEVEL)
    hi = day_number(today) - 1
    written = 0
    for kind in (*(p for p, _, _ in PROJECTIONS), COUNTERS):
        for lvl in range(MAX_BLOCK_LEVEL + 1):
            size = 1 << lvl
            first = lo + (-lo % size)
            starts = [s for s in range(first, hi + 1, size) if s + size - 1 <= hi]
            if not starts:
                break
            if kind == COUNTERS:
                written += _seal_counters(uow, lvl, starts)
            else:
                written += _seal_level(uow, kind, lvl, starts)
    return written


def _seal_counters(uow: UnitOfWork, lvl: int, starts: Sequence[int]) -> int:
    uow.session.execute(text("LOCK TABLE stats_daily, stats_patrol_walked IN SHARE MODE"))
    have = set(
        uow.session.execute(
            text("SELECT start FROM stats_counter_sealed WHERE lvl = :l"), {"l": lvl}
        ).scalars()
    )
    missing = [s for s in starts if s not in have]
    if lvl > 0:
        below = set(
            uow.session.execute(
                text("SELECT start FROM stats_counter_sealed WHERE lvl = :l"), {"l": lvl - 1}
            ).scalars()
        )
        missing = [s for s in missing if all(c[1] in below for c in children(lvl, s))]
    if not missing:
        uow.commit()
        return 0
    columns = ", ".join(COUNTER_COLUMNS)
    uow.session.execute(
        text("DELETE FROM stats_counter_block WHERE lvl = :l AND start = ANY(:s)"),
        {"l": lvl, "s": missing},
    )
    if lvl == 0:
        uow.session.execute(
            text(f"""
            INSERT INTO stats_counter_block (lvl, start, grid_id, {columns}, patrolled_days)
            SELECT 0, dn, grid_id, {COUNTER_SUMS}, sum(p) FROM (
              SELECT day - DATE '1970-01-01' AS dn, grid_id, {columns}, 0 AS p
                FROM stats_daily WHERE day = ANY(:days)
              UNION ALL
              SELECT DISTINCT day - DATE '1970-01-01', grid_id, {COUNTER_ZEROS}, 1
                FROM stats_patrol_walked WHERE day = ANY(:days)
            ) x GROUP BY dn, grid_id
            """),
            {"days": [day_of_number(d) for d in missing]},
        )
    else:
        uow.session.execute(
            text(f"""
            INSERT INTO stats_counter_block (lvl, start, grid_id, {columns}, patrolled_days)
            SELECT :l, start - start % :size, grid_id, {COUNTER_SUMS}, sum(patrolled_days)
              FROM stats_counter_block
             WHERE lvl = :l - 1 AND start - start % :size = ANY(:s)
             GROUP BY 2, grid_id
            """),
            {"l": lvl, "size": 1 << lvl, "s": missing},
        )
    uow.session.execute(
        text("""
        INSERT INTO stats_counter_sealed (lvl, start)
        SELECT :l, unnest(CAST(:s AS integer[])) ON CONFLICT DO NOTHING
        """),
        {"l": lvl, "s": missing},
    )
    uow.commit()
    return len(missing)


def _seal_level(uow: UnitOfWork, proj: int, lvl: int, starts: Sequence[int]) -> int:
    uow.session.execute(text("LOCK TABLE stats_resolution, stats_resolution_working IN SHARE MODE"))
    have = {
        int(s)
        for s in uow.session.execute(
            text("SELECT start FROM stats_block WHERE proj = :p AND lvl = :l"),
            {"p": proj, "l": lvl},
        ).scalars()
    }
    missing = [s for s in starts if s not in have]
    if not missing:
        uow.commit()
        return 0
    if lvl == 0:
        blobs = _base_blobs(uow.session, proj, missing)
    else:
        blobs = _merged_blobs(uow.session, proj, lvl, missing)
    if blobs:
        uow.session.execute(
            text("""
            INSERT INTO stats_block (lvl, start, proj, hist)
            SELECT :l, s, :p, h FROM unnest(CAST(:starts AS integer[]), CAST(:hists AS bytea[]))
                   AS u(s, h)
            ON CONFLICT DO NOTHING
            """),
            {"l": lvl, "p": proj, "starts": list(blobs), "hists": list(blobs.values())},
        )
    uow.commit()
    return len(blobs)


def _base_blobs(session: Session, proj: int, days: Sequence[int]) -> dict[int, bytes]:
    _, clock, base = next(p for p in PROJECTIONS if p[0] == proj)
    key = PROJECTION_KEYS[base]
    rows = session.execute(
        text(f"""
        SELECT dn, string_agg(int4send(k) || int4send(minutes) || int4send(n) || int4send(o),
                              ''::bytea ORDER BY k, minutes)
          FROM (SELECT day - DATE '1970-01-01' AS dn, {key} AS k, minutes,
                       sum(n)::int AS n, sum(ontime)::int AS o
                  FROM {RESOLUTION_TABLES[clock]} WHERE day = ANY(:days)
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


def rebuild(*, uow: UnitOfWork, today: date) -> int:
    """Recompute every counter and histogram from the raw rows, then seal. Writers wait
    meanwhile. The days are counted in the service's time zone (``WANGGE_TIMEZONE``; the
    database is aligned with it first). Returns the number of blocks sealed."""
    set_database_timezone(uow.session.connection(), get_settings().timezone)
    uow.session.execute(text("SELECT stats_rebuild()"))
    uow.commit()
    return seal(uow=uow, today=today)
