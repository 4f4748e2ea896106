"""Statistics fast path beside the naive SQL, on a simulated year of a 1,000-grid city.

    .venv/bin/python -m bench.stats [--events 1000000] [--grids 1000] [--runs 10] [--reload]

Loads the history once into its own database (``wangge_bench_stats``: bulk simulator, COPY)
and reuses it on later runs when it holds the same history (``--reload`` forces a new load).
Then, in the same run and on the same data, times p50 over ``--runs`` calls of:

- resolution by grid over the last 30 days and over the whole year: the service
  (``evaluation.service.resolution``: sealed histogram blocks merged with NumPy) beside
  the naive SQL (``percentile_cont`` over the event table, grouped by grid);
- the indicators for the last full calendar month: the service (``stats_daily`` counters,
  patrol grid-days, the map's coverage) beside the same figures computed from the event,
  audit and patrol tables;
- the resolution and indicators endpoints over HTTP (uvicorn, one worker), for the record.

It also checks that the fast path's figures equal ``percentile_disc`` over the raw events
(the same definition), and prints every figure. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine
from sqlmodel import Session

from bench.common import ROOT, bench_database, serve
from domain.evaluation.days import GroupBy
from evaluation.indicators import indicator_report
from evaluation.resolution import ResolutionTable, resolution_table
from evaluation.scope import Scope, resolve_scope
from evaluation.sealing import seal, today_local
from kernel.db import libpq_url
from kernel.settings import get_settings
from kernel.uow import UnitOfWork

DB = "wangge_bench_stats"
SEED = 20_240_101
DAYS = 365
GOAL_MS = 100.0
GOAL_RATIO = 20.0

NAIVE_RESOLUTION = """
SELECT g.code, count(*), avg(x.m),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY x.m),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY x.m),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY x.m),
       max(x.m), avg(x.on_time::int)
  FROM (SELECT e.grid_id, extract(epoch FROM e.closed_at - e.created_at) / 60 AS m,
               extract(epoch FROM e.closed_at - e.created_at) <= c.resolve_minutes * 60 AS on_time
          FROM event e JOIN category c ON c.id = e.category_id
         WHERE e.status = 'closed' AND e.created_at >= %(start)s AND e.created_at < %(end)s) x
  JOIN grid g ON g.id = x.grid_id
 GROUP BY g.code
"""

# The same definition as the fast path (floor minutes, nearest rank): used to check equality.
EXACT_RESOLUTION = """
SELECT g.code, count(*),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY stats_minutes(e.created_at, e.closed_at)),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY stats_minutes(e.created_at, e.closed_at)),
       percentile_disc(0.95) WITHIN GROUP (ORDER BY stats_minutes(e.created_at, e.closed_at)),
       max(stats_minutes(e.created_at, e.closed_at))
  FROM event e JOIN grid g ON g.id = e.grid_id
 WHERE e.status = 'closed' AND e.created_at >= %(start)s AND e.created_at < %(end)s
 GROUP BY g.code
"""

NAIVE_INDICATORS = """
WITH ev AS (
  SELECT e.*, c.resolve_minutes, fd.at AS first_dispatch
    FROM event e JOIN category c ON c.id = e.category_id
    LEFT JOIN LATERAL (SELECT a.at FROM event_audit a
                        WHERE a.event_id = e.id AND a.action = 'dispatch'
                          AND a.from_status = 'registered'
                        ORDER BY a.version LIMIT 1) fd ON true
   WHERE e.created_at >= %(start)s AND e.created_at < %(end)s)
SELECT count(*) AS reported,
       count(*) FILTER (WHERE status = 'voided') AS voided,
       count(*) FILTER (WHERE status NOT IN ('pending_verification', 'voided')) AS registered,
       count(*) FILTER (WHERE source <> 'staff'
                        AND status NOT IN ('pending_verification', 'voided')) AS public_registered,
       count(*) FILTER (WHERE dispatched_at IS NOT NULL) AS dispatched,
       count(*) FILTER (WHERE dispatched_at IS NOT NULL
                        AND first_dispatch - created_at <= interval '10 minutes')
         AS dispatched_on_time,
       coalesce(sum(redispatch_count), 0) AS redispatches,
       count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS handled,
       count(*) FILTER (WHERE status IN ('resolved', 'closed') AND resolved_at <= due_at)
         AS handled_on_time,
       coalesce(sum(rework_count), 0) AS reworks,
       count(*) FILTER (WHERE status = 'closed') AS closed,
       count(*) FILTER (WHERE status = 'closed'
                        AND closed_at - created_at <= resolve_minutes * interval '1 minute')
         AS closed_on_time,
       count(*) FILTER (WHERE status = 'closed' AND level = 0) AS closed_level0,
       count(*) FILTER (WHERE status = 'closed' AND level <= 2) AS closed_le2,
       (SELECT count(*) FROM (
          SELECT DISTINCT p.grid_id, (p.started_at AT TIME ZONE 'Asia/Shanghai')::date
            FROM patrol p
           WHERE p.started_at >= %(start)s AND p.started_at < %(end)s
             AND (p.track IS NOT NULL
                  OR EXISTS (SELECT 1 FROM patrol_point pp WHERE pp.patrol_id = p.id))) d)
         AS patrolled_grid_days
  FROM ev
"""


def p50(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time (ms) of ``runs`` calls, after one warm-up call; and its last result."""
    result = fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def bounds(first: date, last: date) -> dict[str, datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=get_settings().tz)
    end = datetime(last.year, last.month, last.day, tzinfo=get_settings().tz) + timedelta(days=1)
    return {"start": start, "end": end}


def ensure_loaded(args: argparse.Namespace) -> tuple[dict[str, str], date]:
    """The bench database with the history loaded (reused when it is the same history)."""
    env = bench_database(fresh=False, name=DB)
    marker = f"{args.events}:{args.grids}:{SEED}"
    url = libpq_url(env["WANGGE_DATABASE_URL"])
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT value, (SELECT max(created_at) FROM event) FROM stats_setting"
            " WHERE key = 'bench_history'"
        ).fetchone()
        loaded = conn.execute(
            "SELECT key FROM stats_setting WHERE key = %s", (f"bench:{marker}",)
        ).fetchone()
    if loaded and row and not args.reload:
        last = row[1].astimezone(get_settings().tz).date()
        print(f"reusing the loaded history in {DB} ({marker}); --reload to load again")
        wangge = str(ROOT / ".venv" / "bin" / "wangge")
        subprocess.run([wangge, "migrate"], check=True, env=env, capture_output=True)
        started = time.perf_counter()
        engine = create_engine(env["WANGGE_DATABASE_URL"])
        with Session(engine) as session:
            sealed = seal(uow=UnitOfWork(session), today=today_local(datetime.now(UTC)))
        engine.dispose()
        if sealed:
            print(f"sealed {sealed} new blocks in {time.perf_counter() - started:.1f} s")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        return env, last
    env = bench_database(fresh=True, name=DB)
    from tools.simulate import bulk as simulate_bulk

    engine = create_engine(env["WANGGE_DATABASE_URL"])
    weekday_mean = (5 + 2 * 0.85) / 7
    per_day = args.events / DAYS / weekday_mean
    until = datetime.now(UTC).astimezone(get_settings().tz).date() - timedelta(days=1)
    print(f"loading ~{args.events:,} events over {DAYS} days on {args.grids} grids "
          f"(bulk simulator, COPY) into {DB}…", flush=True)  # fmt: skip
    summary = simulate_bulk.run(
        engine, days=DAYS, seed=SEED, per_day=per_day, grids=args.grids, until=until,
        progress=True,
    )  # fmt: skip
    print(f"loaded: {summary.line()}")
    print(f"        load {summary.extra['load_seconds']} s, statistics rebuild + seal "
          f"{summary.extra['rebuild_seconds']} s, {summary.extra['templates']} path templates, "
          f"{summary.extra['direct']} events run directly")  # fmt: skip
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO stats_setting (key, value) VALUES (%s, 1), ('bench_history', 1)"
            " ON CONFLICT DO NOTHING",
            (f"bench:{marker}",),
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    engine.dispose()
    return env, until


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()

    env, last = ensure_loaded(args)
    engine = create_engine(env["WANGGE_DATABASE_URL"])
    url = libpq_url(env["WANGGE_DATABASE_URL"])
    year = (last - timedelta(days=DAYS - 1), last)
    month30 = (last - timedelta(days=29), last)
    first_of_month = last.replace(day=1)
    prev_last = first_of_month - timedelta(days=1)
    month = (prev_last.replace(day=1), prev_last)

    with psycopg.connect(url) as conn, Session(engine) as session:
        total = conn.execute("SELECT count(*) FROM event").fetchone()
        grids = conn.execute("SELECT count(*) FROM grid").fetchone()
        print(f"data: {total[0] if total else 0:,} events, {grids[0] if grids else 0} grids; "
              f"p50 over {args.runs} runs after one warm-up; jit as configured")  # fmt: skip
        print()
        rows: list[tuple[str, float, float]] = []
        for label, (first, until) in (("resolution by grid, 30 days", month30),
                                      ("resolution by grid, 365 days", year)):  # fmt: skip
            scope = resolve_scope(session, since=first, until=until)
            params = bounds(first, until)

            def fast(s: Scope = scope) -> ResolutionTable:
                return resolution_table(session=session, scope=s, group_by=GroupBy.grid)

            def naive(p: dict[str, datetime] = params) -> list[Any]:
                return conn.execute(NAIVE_RESOLUTION, p).fetchall()

            fast_ms, table = p50(fast, args.runs)
            naive_ms, _ = p50(naive, args.runs)
            rows.append((label, fast_ms, naive_ms))
            exact = {r[0]: r[1:] for r in conn.execute(EXACT_RESOLUTION, params).fetchall()}
            mismatches = [
                r.group for r in table.rows
                if r.count and exact.get(r.group) != (r.count, r.p50, r.p90, r.p95, r.max)
            ]  # fmt: skip
            counted = sum(r.count for r in table.rows)
            print(f"{label}: {counted:,} closed events in {len(table.rows)} grids; fast path == "
                  f"percentile_disc over raw events for every grid: "
                  f"{'yes' if not mismatches else 'NO ' + str(mismatches[:5])}")  # fmt: skip
        scope = resolve_scope(session, since=month[0], until=month[1])
        fast_ms, report = p50(lambda: indicator_report(session=session, scope=scope), args.runs)
        params = bounds(*month)
        naive_ms, naive_row = p50(
            lambda: conn.execute(NAIVE_INDICATORS, params).fetchone(), args.runs
        )
        rows.append((f"indicators, month {month[0]:%Y-%m}", fast_ms, naive_ms))
        names = [d.name for d in conn.execute(NAIVE_INDICATORS, params).description or []]
        same = all(report.totals[n] == float(v) for n, v in zip(names, naive_row, strict=True))
        print(f"indicators {month[0]:%Y-%m}: {int(report.totals['reported']):,} events reported; "
              f"counters == raw SQL: {'yes' if same else 'NO'}")  # fmt: skip

    print()
    print(f"{'query':<34} {'fast p50':>10} {'naive p50':>11} {'ratio':>8}")
    for label, fast_ms, naive_ms in rows:
        print(f"{label:<34} {fast_ms:>8.1f} ms {naive_ms:>8.1f} ms {naive_ms / fast_ms:>7.1f}x")
    sys.stdout.flush()
    for label, ms in http_figures(env, month30, year, month, args.runs):
        print(f"{label:<34} {ms:>8.1f} ms")
    ok = all(f <= GOAL_MS and n / f >= GOAL_RATIO for _, f, n in rows)
    print(f"goal: p50 ≤ {GOAL_MS:.0f} ms and ≥ {GOAL_RATIO:.0f}× the naive SQL: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    engine.dispose()
    sys.exit(0)


def http_figures(
    env: dict[str, str],
    month30: tuple[date, date],
    year: tuple[date, date],
    month: tuple[date, date],
    runs: int,
) -> list[tuple[str, float]]:
    """The same reads through the API (one uvicorn worker), token for the evaluator."""
    from sqlmodel import col, select

    from staff.auth import claims_of, principal_for
    from staff.models import User
    from staff.security import create_access_token

    engine = create_engine(env["WANGGE_DATABASE_URL"])
    with Session(engine) as session:
        user = session.exec(select(User).where(col(User.username) == "evaluator")).one()
        principal = principal_for(session, user)
    engine.dispose()
    token = create_access_token(
        user_id=principal.user_id, role=principal.role.value, extra=claims_of(principal)
    )
    out: list[tuple[str, float]] = []
    with serve("service.api.app:app_factory", env=env, workers=1, start_timeout=180) as base:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        for label, path, (first, until) in (
            ("HTTP resolution by grid, 30 days", "/api/v1/stats/resolution", month30),
            ("HTTP resolution by grid, 365 days", "/api/v1/stats/resolution", year),
            ("HTTP indicators, one month", "/api/v1/stats/indicators", month),
        ):
            params = {"since": first.isoformat(), "until": until.isoformat()}

            def call(p: dict[str, str] = params, u: str = path) -> None:
                response = client.get(u, params=p, timeout=60)
                response.raise_for_status()

            ms, _ = p50(call, runs)
            out.append((label, ms))
    return out


if __name__ == "__main__":
    main()
