"""Duplicate candidates: how fast with a million events stored, and how right on labelled data.

    .venv/bin/python -m bench.duplicates [--events 1000000] [--queries 2000] [--days 60]

* Quality: the simulator's labelled report stream (``tools.simulate.reports``: problems,
  their first reports by staff, the public and the hotline, reports again while open, GPS
  and description offsets, clustered problems of a category, false reports) is replayed in
  time order on an empty store: before each report the problems that closed meanwhile are
  closed, the candidate search (``dispatch.public.duplicates.CANDIDATES_SQL``, the rule of
  ``domain.intake.DuplicateRule``: same category, ≤ 50 m, ≤ 24 h, open, nearest first, ≤ 5)
  runs, then the report is stored as an open event. A report is a true duplicate when an
  event of its problem is open; precision = flagged reports whose candidates hold an event
  of their problem / flagged reports; recall = true duplicates so found / true duplicates.
* Speed: ``--events`` events COPYed (a year, 3 % open, the rest closed, categories skewed),
  ANALYZEd, then ``--queries`` candidate searches at random points of the map, prepared, on
  one connection: p50 / p95 / p99 in ms (goal: p95 ≤ 20 ms with 1 M events).

Uses a database of its own (``wangge_bench_duplicates``, re-created); the statistics
triggers are off for its loads (``session_replication_role = replica``).
"""

from __future__ import annotations

import argparse
import heapq
import io
import math
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import bench_database, percentile
from bench.locate import interior_points
from dispatch.public.duplicates import CANDIDATES_SQL
from domain.intake import DuplicateRule
from kernel.db import libpq_url
from tools.simulate.reports import reports

DB = "wangge_bench_duplicates"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RULE = DuplicateRule()
_COLUMNS = (
    "id, client_id, request_hash, category_id, grid_id, community_id, description, geom, coord,"
    " orig_lon, orig_lat, snapped, distance_m, source, received_at, status, level, version,"
    " created_at, deadline_version, rework_count, redispatch_count, escalation_count"
)
_OPEN = ("registered", "dispatched", "acknowledged", "pending_verification")


def _params(lon: float, lat: float, category: int, now: datetime) -> dict[str, object]:
    return {
        "lon": lon,
        "lat": lat,
        "distance": RULE.distance_m,
        "category_id": category,
        "since": now - RULE.window,
        "exclude": 0,
        "limit": RULE.limit,
    }


def _row(
    event_id: int, category: int, grid: tuple[int, int], lon: float, lat: float,
    source: str, status: str, at: datetime,
) -> str:  # fmt: skip
    gid, cid = grid
    return "\t".join(
        (
            str(event_id), str(uuid.uuid4()), "", str(category), str(gid), str(cid), "bench",
            f"SRID=4326;POINT({lon:.7f} {lat:.7f})", "wgs84", f"{lon:.7f}", f"{lat:.7f}", "f",
            "0", source, at.isoformat(), status, "0", "1", at.isoformat(), "0", "0", "0", "0",
        )
    ) + "\n"  # fmt: skip


def _copy(conn: psycopg.Connection, lines: list[str]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY event ({_COLUMNS}) FROM STDIN") as copy:
        buf = io.StringIO()
        for i, line in enumerate(lines, 1):
            buf.write(line)
            if i % 20_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def quality(conn: psycopg.Connection, days: float, per_day: float) -> dict[str, float]:
    """Replay the labelled stream; precision and recall of the candidate search."""
    cats = [r[0] for r in conn.execute("SELECT id FROM category WHERE NOT big ORDER BY id")]
    grids = conn.execute("SELECT id, community_id FROM grid ORDER BY code LIMIT 1").fetchone()
    assert grids is not None
    lon0, lat0 = conn.execute(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) c FROM grid) s"
    ).fetchone() or (0.0, 0.0)
    extent = 2500.0
    per_lon = 111_320.0 * math.cos(math.radians(lat0))
    stream = reports(seed=5, days=days, per_day=per_day, categories=len(cats), extent_m=extent)
    open_by_problem: dict[int, set[int]] = {}
    closing: list[tuple[float, int, int]] = []  # (closes_at, event id, problem)
    event_id, counts = 0, dict.fromkeys(("reports", "flagged", "right", "true", "found"), 0)
    for report in stream:
        to_close: list[int] = []
        while closing and closing[0][0] <= report.at:
            _, eid, problem = heapq.heappop(closing)
            to_close.append(eid)
            open_by_problem.get(problem, set()).discard(eid)
        if to_close:
            conn.execute("UPDATE event SET status = 'closed' WHERE id = ANY(%s)", (to_close,))
        lon = lon0 + (report.x - extent / 2) / per_lon
        lat = lat0 + (report.y - extent / 2) / 111_320.0
        now = T0 + timedelta(seconds=report.at)
        category = cats[report.category]
        found = conn.execute(CANDIDATES_SQL, _params(lon, lat, category, now)).fetchall()
        ids = {int(r[0]) for r in found}
        mine = open_by_problem.get(report.problem, set())
        counts["reports"] += 1
        if ids:
            counts["flagged"] += 1
            counts["right"] += bool(ids & mine)
        if mine:
            counts["true"] += 1
            counts["found"] += bool(ids & mine)
        event_id += 1
        _copy(conn, [_row(event_id, category, grids, lon, lat, report.source, "registered", now)])
        open_by_problem.setdefault(report.problem, set()).add(event_id)
        heapq.heappush(closing, (report.closes_at, event_id, report.problem))
    return {
        **{k: float(v) for k, v in counts.items()},
        "precision": counts["right"] / max(1, counts["flagged"]),
        "recall": counts["found"] / max(1, counts["true"]),
    }


def load(conn: psycopg.Connection, events: int, first_id: int) -> int:
    """``events`` events of a year at random points of the map; 3 % open. Returns how many
    are open."""
    rng = random.Random(11)
    cats = [r[0] for r in conn.execute("SELECT id FROM category ORDER BY id")]
    weights = [1.0 / (i + 1) for i in range(len(cats))]
    grids = [(int(g), int(c)) for g, c in conn.execute("SELECT id, community_id FROM grid")]
    points = interior_points(20_000, seed=3)
    end = T0 + timedelta(days=365)
    lines: list[str] = []
    opened = 0
    for i in range(events):
        lon, lat = points[rng.randrange(len(points))]
        lon += rng.gauss(0, 0.0005)
        lat += rng.gauss(0, 0.0005)
        is_open = rng.random() < 0.03
        opened += is_open
        back = rng.expovariate(1 / 8.0) if is_open else rng.uniform(0, 365)
        at = end - timedelta(days=min(back, 365))
        status = rng.choice(_OPEN) if is_open else "closed"
        category = rng.choices(cats, weights)[0]
        grid = grids[rng.randrange(len(grids))]
        lines.append(_row(first_id + i, category, grid, lon, lat, "staff", status, at))
        if len(lines) == 100_000:
            _copy(conn, lines)
            lines = []
    _copy(conn, lines)
    conn.execute("ANALYZE event")
    return opened


def speed(conn: psycopg.Connection, queries: int) -> list[float]:
    rng = random.Random(17)
    cats = [r[0] for r in conn.execute("SELECT id FROM category ORDER BY id")]
    weights = [1.0 / (i + 1) for i in range(len(cats))]
    now = T0 + timedelta(days=365)
    points = interior_points(queries, seed=23)
    timings: list[float] = []
    for _ in range(3):  # warm the plan cache and the index pages
        conn.execute(CANDIDATES_SQL, _params(*points[0], cats[0], now), prepare=True).fetchall()
    for lon, lat in points:
        category = rng.choices(cats, weights)[0]
        start = time.perf_counter()
        conn.execute(CANDIDATES_SQL, _params(lon, lat, category, now), prepare=True).fetchall()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--per-day", type=float, default=300)
    args = parser.parse_args()
    env = bench_database(name=DB, fresh=True)
    with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"]), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        started = time.perf_counter()
        q = quality(conn, args.days, args.per_day)
        print(
            f"quality: {int(q['reports'])} labelled reports over {args.days:g} days"
            f" ({time.perf_counter() - started:.0f} s): {int(q['true'])} true duplicates,"
            f" {int(q['flagged'])} flagged; precision {q['precision']:.3f},"
            f" recall {q['recall']:.3f}",
            flush=True,
        )
        first = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM event").fetchone()[0])  # type: ignore[index]
        started = time.perf_counter()
        opened = load(conn, args.events, first)
        total = int(conn.execute("SELECT count(*) FROM event").fetchone()[0])  # type: ignore[index]
        print(
            f"loaded {args.events} events ({opened} open) in"
            f" {time.perf_counter() - started:.0f} s; {total} stored",
            flush=True,
        )
        timings = speed(conn, args.queries)
        print(
            f"candidate search over {total} events, {args.queries} queries:"
            f" p50 {percentile(timings, 50):.2f} ms, p95 {percentile(timings, 95):.2f} ms,"
            f" p99 {percentile(timings, 99):.2f} ms, max {max(timings):.2f} ms (goal p95 <= 20)"
        )


if __name__ == "__main__":
    main()
