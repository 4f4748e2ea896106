"""Grid lookup throughput: ``GET /api/v1/grids/locate`` beside a bare FastAPI GET, and the
PostGIS covering query alone.

    .venv/bin/python -m bench.locate [--seconds 8] [--rounds 3] [--connections 10] [--workers 2]

* HTTP: wrk at concurrency 10 against the real app (2 uvicorn workers, access log off),
  rotating through random interior points of the map, authenticated as a roster grid
  member, and against the bare FastAPI GET of bench/bare.py (2 workers), both servers up in
  the same run. The runs alternate (lookup, bare, lookup, bare...) so that load from other
  processes on the machine hits both alike; each round and the medians are printed, with
  the ratio (goal: lookup >= 0.5x bare).
* SQL: the PostGIS covering query alone (grids.service.COVERING_SQL, the boundary rule's
  reference statement; the endpoint itself answers from its in-memory index, ADR 0005),
  prepared, on one psycopg connection, over the same points: queries/s, p50/p99.

Uses a bench database of its own (``wangge_bench_locate``, re-created), never the test one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

import psycopg
import shapely
from shapely.geometry import shape

from bench.common import ROOT, LoadResult, bench_database, percentile, serve, wrk
from kernel.db import libpq_url

BENCH_DB = "wangge_bench_locate"  # its own database: other benches re-create wangge_bench
POINTS = 2000
SEED = 7


def interior_points(count: int = POINTS, seed: int = SEED) -> list[tuple[float, float]]:
    """Uniform random WGS-84 points inside the map (rejection sampling in its bounds)."""
    fc = json.loads((ROOT / "data" / "grids.geojson").read_text(encoding="utf-8"))
    union = shapely.unary_union([shape(f["geometry"]) for f in fc["features"]])
    shapely.prepare(union)
    minx, miny, maxx, maxy = union.bounds
    rng = random.Random(seed)
    points: list[tuple[float, float]] = []
    while len(points) < count:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(union, lon, lat):
            points.append((round(lon, 7), round(lat, 7)))
    return points


def rotating_paths_lua(points: list[tuple[float, float]]) -> str:
    """A wrk script whose every request asks for the next point (each thread from its own
    offset, so the two wrk threads do not walk in step)."""
    paths = ",\n".join(
        f'"/api/v1/grids/locate?lon={lon}&lat={lat}&coord=wgs84"' for lon, lat in points
    )
    return f"""
local paths = {{
{paths}
}}
local i = 0
local thread_counter = 0
setup = function(thread)
  thread:set("offset", thread_counter * 997)
  thread_counter = thread_counter + 1
end
init = function(args)
  i = offset or 0
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def bearer_for(env: dict[str, str], username: str = "g01m1") -> str:
    """A real access token for a roster user of the bench database, signed with the
    server's secret (the bench process reads the same settings)."""
    os.environ.update(
        {k: v for k, v in env.items() if k.startswith("WANGGE_")}  # same secret as the server
    )
    from sqlmodel import Session, col, select

    from kernel.db import get_engine
    from kernel.settings import get_settings
    from staff.auth import claims_of, principal_for
    from staff.models import User
    from staff.security import create_access_token

    get_settings.cache_clear()
    get_engine.cache_clear()
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(col(User.username) == username)).one()
        p = principal_for(session, user)
    get_engine().dispose()
    return create_access_token(user_id=p.user_id, role=p.role.value, extra=claims_of(p))


def sql_alone(
    env: dict[str, str], points: list[tuple[float, float]], seconds: float
) -> tuple[float, float, float, int]:
    """The lookup statement, prepared, on one connection: (queries/s, p50 ms, p99 ms, n)."""
    from grids.lookup import COVERING_SQL

    lat_ms: list[float] = []
    with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"]), autocommit=True) as conn:
        for lon, lat in points[:50]:  # warm up and let the statement be prepared
            conn.execute(COVERING_SQL, {"lon": lon, "lat": lat}, prepare=True).fetchone()
        start = time.perf_counter()
        deadline = start + seconds
        k = 0
        while True:
            lon, lat = points[k % len(points)]
            t0 = time.perf_counter()
            row = conn.execute(COVERING_SQL, {"lon": lon, "lat": lat}, prepare=True).fetchone()
            t1 = time.perf_counter()
            assert row is not None, (lon, lat)
            lat_ms.append((t1 - t0) * 1000)
            k += 1
            if t1 > deadline:
                break
        elapsed = time.perf_counter() - start
    return k / elapsed, percentile(lat_ms, 50), percentile(lat_ms, 99), k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating lookup/bare runs")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = bench_database(fresh=True, name=BENCH_DB)
    points = interior_points()
    headers = {"Authorization": f"Bearer {bearer_for(env)}"}
    lua = rotating_paths_lua(points)
    print(
        f"grid lookup bench: {len(points)} random interior points, wrk -c {args.connections}, "
        f"{args.rounds} alternating rounds of {args.seconds} s, uvicorn --workers {args.workers},"
        f" {os.cpu_count()} CPUs shared by client, servers and PostgreSQL"
    )
    lookups: list[LoadResult] = []
    bares: list[LoadResult] = []
    with (
        serve(
            "service.api.app:app_factory", env=env, workers=args.workers, start_timeout=180
        ) as app_url,
        serve(
            "bench.bare:create_app",
            env=env,
            workers=args.workers,
            ready_path="/bare",
            start_timeout=180,
        ) as bare,
    ):
        locate_url = app_url + "/api/v1/grids/locate"
        probe = wrk(locate_url, seconds=2, lua=lua, headers=headers)  # warm-up: pools, plans
        if probe.non2xx or probe.errors:
            raise SystemExit(f"lookup answered errors during warm-up: {probe}")
        wrk(bare + "/bare", seconds=2)
        for k in range(1, args.rounds + 1):
            c, s = args.connections, args.seconds
            lookups.append(wrk(locate_url, connections=c, seconds=s, lua=lua, headers=headers))
            bares.append(wrk(bare + "/bare", connections=c, seconds=s))
            print(lookups[-1].line(f"round {k}: GET /api/v1/grids/locate"))
            print(bares[-1].line(f"round {k}: bare FastAPI GET"))
            if lookups[-1].non2xx or lookups[-1].errors:
                raise SystemExit("lookup answered errors; figures are void")
    qps, p50, p99, n = sql_alone(env, points, 5)

    lookup, base = median_run(lookups), median_run(bares)
    ratio = lookup.rps / base.rps
    print("--- medians of the rounds")
    print(lookup.line("GET /api/v1/grids/locate"))
    print(base.line("bare FastAPI GET (baseline)"))
    verdict = "goal met" if ratio >= 0.5 else "goal MISSED"
    print(f"{'ratio lookup / bare':<34} {ratio:>9.2f}     (goal >= 0.50: {verdict})")
    print(
        f"{'PostGIS covering query alone':<34} {qps:>9.0f} q/s     p50 {p50:6.3f} ms   "
        f"p99 {p99:6.3f} ms   (1 connection, prepared, {n} queries)"
    )


def median_run(runs: list[LoadResult]) -> LoadResult:
    """The run with the median throughput."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


if __name__ == "__main__":
    main()
