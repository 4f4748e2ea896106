"""Statistics fast path beside the naive SQL, on a simulated year of a 1,000-grid city.

    .venv/bin/python -m bench.stats [--events 1000000] [--grids 1000] [--runs 10] [--reload]

Loads the history once into its own database (``wangge_bench_stats``: bulk simulator, COPY)
and reuses it on later runs when it holds the same history (``--reload`` forces a new load).
Then, in the same run and on the same data, times p50 over ``--runs`` calls of:

- resolution by grid over the last 30 days and over the whole year: the service
  (``evaluation.service.resolution``: sealed histogram blocks merged with NumPy) beside
  the naive SQL (``percentile_cont`` over the event table, grouped by grid);
- the indicators for the last full calendar month: the service (sealed counters, patrol
  grid-days, the map's coverage) beside every counter they read recomputed from the event,
  audit, public-report and patrol tables (``evaluation.verify.raw_counter_totals``: the
  definitions ``wangge audit verify`` checks with), which must agree — and, with one counter
  tampered in a rolled-back transaction, must not;
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
from sqlalchemy import create_engine, text
from sqlmodel import Session

from bench.common import ROOT, bench_database, serve
from domain.evaluation.days import GroupBy
from evaluation.indicators import indicator_report
from evaluation.mapfigures import refresh_map_figures
from evaluation.resolution import ResolutionTable, resolution_table
from evaluation.scope import Scope, resolve_scope
from evaluation.sealing import seal, today_local
from evaluation.verify import RAW_COUNTERS, differing_counters, raw_counter_totals
from kernel.db import libpq_url
from kernel.settings import get_settings
from kernel.uow import UnitOfWork

DB = "wangge_bench_stats"
SEED = 20_240_101
DAYS = 365
GOAL_MS = 100.0
GOAL_RATIO = 20.0
#: ADR 0004's goal: ≤ 100 ms "where the naive ... takes seconds": the ratio is asked of the
#: queries whose naive SQL takes at least this long (a 30-day window's naive SQL reads one
#: month of the event table by its report-time index: a fraction of a second).
RATIO_FROM_NAIVE_MS = 1000.0

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

#: One counter changed behind the triggers' back, and the sealed blocks dropped so the served
#: figures read the day rows (the bench's own transaction, rolled back).
TAMPER = (
    """
    UPDATE stats_daily SET closed = closed + 1
     WHERE (day, grid_id, category_id) = (SELECT day, grid_id, category_id FROM stats_daily
                                           WHERE day BETWEEN :a AND :b LIMIT 1)
    """,
    "DELETE FROM stats_counter_sealed",
)


def agreement(served: dict[str, float], raw: dict[int, dict[str, float]]) -> str:
    differ = differing_counters(served, raw)
    if not differ:
        return "yes"
    return "NO " + ", ".join(f"{k} served {a:g} raw {b:g}" for k, (a, b) in differ.items())


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
            refresh_map_figures(UnitOfWork(session))  # as the worker does after a map change
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
    with Session(engine) as session:  # the simulator added grids: as the worker would
        refresh_map_figures(UnitOfWork(session))
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
        now = datetime.now(UTC)
        fast_ms, report = p50(
            lambda: indicator_report(session=session, scope=scope, now=now), args.runs
        )
        naive_ms, raw = p50(
            lambda: raw_counter_totals(session, scope, now=now, per_grid=False), args.runs
        )
        rows.append((f"indicators, month {month[0]:%Y-%m}", fast_ms, naive_ms))
        print(f"indicators {month[0]:%Y-%m}: {int(report.totals['reported']):,} events reported; "
              f"every counter ({len(RAW_COUNTERS)}) == raw SQL: "
              f"{agreement(report.totals, raw)}")  # fmt: skip
        # the same comparison with one counter tampered (rolled back): it must say NO
        for statement in TAMPER:
            session.execute(text(statement), {"a": month[0], "b": month[1]})
        tampered = indicator_report(session=session, scope=scope, now=now)
        print(f"  with stats_daily.closed + 1 on one day (seals dropped; rolled back): "
              f"{agreement(tampered.totals, raw)}")  # fmt: skip
        session.rollback()

    print()
    print(f"{'query':<34} {'fast p50':>10} {'naive p50':>11} {'ratio':>8}  goal")
    for label, fast_ms, naive_ms in rows:
        print(f"{label:<34} {fast_ms:>8.1f} ms {naive_ms:>8.1f} ms {naive_ms / fast_ms:>7.1f}x  "
              f"{_goal(fast_ms, naive_ms)[0]}")  # fmt: skip
    sys.stdout.flush()
    for label, ms in http_figures(env, month30, year, month, args.runs):
        print(f"{label:<34} {ms:>8.1f} ms")
    ok = all(_goal(f, n)[1] for _, f, n in rows)
    print(f"goal: p50 ≤ {GOAL_MS:.0f} ms, and ≥ {GOAL_RATIO:.0f}× the naive SQL where that "
          f"takes ≥ {RATIO_FROM_NAIVE_MS / 1000:.0f} s: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    engine.dispose()
    sys.exit(0)


def _goal(fast_ms: float, naive_ms: float) -> tuple[str, bool]:
    """One query's goal and whether it holds: the time, and the ratio where the naive SQL
    takes seconds."""
    asked = f"≤ {GOAL_MS:.0f} ms"
    ok = fast_ms <= GOAL_MS
    if naive_ms >= RATIO_FROM_NAIVE_MS:
        asked += f", ≥ {GOAL_RATIO:.0f}×"
        ok = ok and naive_ms / fast_ms >= GOAL_RATIO
    return f"{asked}: {'met' if ok else 'NOT met'}", ok


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
