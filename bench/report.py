"""Reporting throughput: authenticated ``POST /api/v1/events`` beside a bare FastAPI insert.

    .venv/bin/python -m bench.report [--seconds 6] [--rounds 3] [--workers 2] [--pool 6]

* The real app (2 uvicorn workers, no RQ worker) on the bench database: wrk at concurrency 10
  and 50, each request a new report (random UUID ``client_id``, a random point inside the
  jurisdiction, half of them sent in GCJ-02, a random ordinary category), signed in as a grid
  member through ``POST /api/v1/auth/token``.
* The bare baseline (bench/bare.py ``POST /bare/insert``: a sync FastAPI endpoint inserting one
  row through SQLAlchemy + psycopg into the same database), the same way, in the same run. (The
  app reports through psycopg's async pool, one statement per report: ADR 0005.)
* The two alternate (api, bare, api, bare...) and the medians are printed, so a noisy
  neighbour on the machine hits both sides alike.
* Prints req/s and p50/p90/p99 of both, the ratio, and whether the goals hold
  (ratio ≥ 0.6, p99 ≤ 50 ms at c=10). Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics

import httpx
import psycopg
import shapely
from shapely.geometry import shape
from sqlalchemy import create_engine

from bench.bare import create_table
from bench.common import ROOT, LoadResult, bench_database, serve, wrk
from domain.coords import wgs84_to_gcj02
from kernel.db import libpq_url

POINTS = 1000
SEED = 11
CONCURRENCY = (10, 50)
GOAL_RATIO = 0.6
GOAL_P99_MS = 50.0
BENCH_DB = "wangge_bench_report"  # its own database: other benchmarks may run meanwhile


def interior_points(count: int = POINTS, seed: int = SEED) -> list[tuple[float, float, str]]:
    """Random points inside the map, kept 5 m clear of its outer edge; every other one
    converted to GCJ-02 (what Amap-based phones send)."""
    fc = json.loads((ROOT / "data" / "grids.geojson").read_text(encoding="utf-8"))
    union = shapely.unary_union([shape(f["geometry"]) for f in fc["features"]])
    inner = union.buffer(-0.00005)
    shapely.prepare(inner)
    minx, miny, maxx, maxy = inner.bounds
    rng = random.Random(seed)
    points: list[tuple[float, float, str]] = []
    while len(points) < count:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(inner, lon, lat):
            continue
        if len(points) % 2:
            glon, glat = wgs84_to_gcj02(lon, lat)
            points.append((glon, glat, "gcj02"))
        else:
            points.append((lon, lat, "wgs84"))
    return points


def report_lua(points: list[tuple[float, float, str]], categories: list[str], token: str) -> str:
    """A wrk script: every request a new report. Client ids are random UUIDv4 whose last
    group carries the wrk thread and a counter, so no two requests of a run share one."""
    rows = ",\n".join(f'{{{lon:.7f}, {lat:.7f}, "{coord}"}}' for lon, lat, coord in points)
    cats = ", ".join(f'"{c}"' for c in categories)
    return f"""
local points = {{
{rows}
}}
local categories = {{ {cats} }}
local headers = {{
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer {token}",
}}
local thread_counter = 0
local n = 0
setup = function(thread)
  thread:set("tid", thread_counter)
  thread_counter = thread_counter + 1
end
init = function(args)
  math.randomseed(os.time() * 131 + (tid or 0) * 7919)
end
local function client_id()
  n = n + 1
  return string.format("%08x-%04x-4%03x-%04x-%04x%08x",
    math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff), tid or 0, n)
end
request = function()
  local p = points[math.random(#points)]
  local body = string.format(
    '{{"client_id":"%s","category":"%s","description":"bench: 路边垃圾堆放",' ..
    '"location":{{"lon":%.7f,"lat":%.7f,"coord":"%s","accuracy_m":10}}}}',
    client_id(), categories[math.random(#categories)], p[1], p[2], p[3])
  return wrk.format("POST", nil, headers, body)
end
"""


def sign_in(base: str, username: str = "g01m1") -> str:
    """A real access token from the running service (OAuth2 password flow)."""
    from kernel.settings import get_settings

    r = httpx.post(
        base + "/api/v1/auth/token",
        data={"username": username, "password": get_settings().dev_password},
        timeout=10,
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def ordinary_categories(env: dict[str, str]) -> list[str]:
    with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"])) as conn:
        rows = conn.execute(
            "SELECT code FROM category WHERE active AND NOT big ORDER BY code"
        ).fetchall()
    return [r[0] for r in rows]


def count_rows(env: dict[str, str], table: str) -> int:
    with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"])) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def median_result(results: list[LoadResult]) -> LoadResult:
    """The median of each figure over alternating rounds (robust to a noisy neighbour)."""

    def med(values: list[float]) -> float:
        return statistics.median(values)

    return LoadResult(
        rps=med([r.rps for r in results]),
        p50_ms=med([r.p50_ms for r in results]),
        p90_ms=med([r.p90_ms for r in results]),
        p99_ms=med([r.p99_ms for r in results]),
        max_ms=max(r.max_ms for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        non2xx=sum(r.non2xx for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=6, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=6, help="DB pool size per process")
    args = parser.parse_args()

    env = bench_database(fresh=True, name=BENCH_DB)
    # PostgreSQL allows 100 connections on these machines and other runs share it: each of
    # the 2 x 2 server processes gets a pool of 6 + 6 overflow (the same for both apps).
    env["WANGGE_DB_POOL_SIZE"] = str(args.pool)
    os.environ.update({k: v for k, v in env.items() if k.startswith("WANGGE_")})
    engine = create_engine(env["WANGGE_DATABASE_URL"])
    create_table(engine)
    engine.dispose()

    points = interior_points()
    categories = ordinary_categories(env)
    print(
        f"report bench: POST /api/v1/events, {len(points)} random interior points "
        f"(half GCJ-02), {len(categories)} categories; {args.rounds} alternating rounds of "
        f"{args.seconds} s per side and concurrency (after a 2 s warm-up each), medians; "
        f"uvicorn --workers {args.workers}, no RQ worker; {os.cpu_count()} CPUs shared by "
        "wrk, the servers and PostgreSQL"
    )
    results: dict[int, tuple[LoadResult, LoadResult]] = {}
    with (
        serve(
            "service.api.app:app_factory", env=env, workers=args.workers, start_timeout=180
        ) as api,
        serve("bench.bare:create_app", env=env, workers=args.workers, start_timeout=180) as bare,
    ):
        token = sign_in(api)
        lua = report_lua(points, categories, token)
        for c in CONCURRENCY:
            wrk(api + "/api/v1/events", connections=c, seconds=2, lua=lua)  # warm up
            wrk(bare + "/bare/insert", connections=c, seconds=2, lua=lua)
            reals, bases = [], []
            for _ in range(args.rounds):
                reals.append(
                    wrk(api + "/api/v1/events", connections=c, seconds=args.seconds, lua=lua)
                )
                bases.append(
                    wrk(bare + "/bare/insert", connections=c, seconds=args.seconds, lua=lua)
                )
            real, base = median_result(reals), median_result(bases)
            results[c] = (real, base)
            print(real.line(f"POST /api/v1/events      c={c}"))
            print(base.line(f"bare insert (baseline)   c={c}"))
            print(f"{'ratio events / bare':<34} {real.rps / base.rps:9.2f}")

    events, bare_rows = count_rows(env, "event"), count_rows(env, "bench_bare")
    print(f"rows written: {events} events (with audit and outbox rows), {bare_rows} bare rows")
    real10, base10 = results[10]
    ratios = {c: r.rps / b.rps for c, (r, b) in results.items()}
    ok_ratio = all(v >= GOAL_RATIO for v in ratios.values())
    ok_p99 = real10.p99_ms <= GOAL_P99_MS
    clean = all(r.errors == r.non2xx == 0 for pair in results.values() for r in pair)
    print(
        f"goal ratio ≥ {GOAL_RATIO} at every concurrency: {'met' if ok_ratio else 'MISSED'} "
        f"(c=10: {ratios[10]:.2f}, c=50: {ratios[50]:.2f}); "
        f"goal p99 ≤ {GOAL_P99_MS:.0f} ms at c=10: {'met' if ok_p99 else 'MISSED'} "
        f"({real10.p99_ms:.1f} ms); errors/non-2xx: {'none' if clean else 'SOME'}"
    )


if __name__ == "__main__":
    main()
