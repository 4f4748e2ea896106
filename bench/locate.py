"""Grid lookup throughput: ``GET /api/v1/grids/locate`` beside a bare FastAPI GET, and the
PostGIS lookup statement alone.

    .venv/bin/python -m bench.locate [--seconds 10] [--connections 10] [--workers 2]

* HTTP: wrk at concurrency 10 against the real app (2 uvicorn workers), rotating through
  random interior points of the map, authenticated as a roster grid member; then the bare
  FastAPI GET (bench/bare.py) the same way, in the same run; prints both and the ratio
  (goal: lookup ≥ 0.5× bare).
* SQL: the very statement the endpoint runs (grids.service.LOCATE_SQL), prepared, on one
  psycopg connection, over the same points: queries/s, p50/p99.

Uses the bench database (bench.common.bench_database), never the test database.
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

from bench.common import ROOT, bench_database, percentile, serve, wrk
from service.db import libpq_url

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

    from service.auth.models import User
    from service.auth.security import create_access_token
    from service.auth.service import principal_for
    from service.db import get_engine
    from service.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(col(User.username) == username)).one()
        p = principal_for(session, user)
    get_engine().dispose()
    return create_access_token(user_id=p.user_id, role=p.role.value, extra=p.claims())


def sql_alone(
    env: dict[str, str], points: list[tuple[float, float]], seconds: float
) -> tuple[float, float, float, int]:
    """The lookup statement, prepared, on one connection: (queries/s, p50 ms, p99 ms, n)."""
    from grids.service import COVERING_SQL

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
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="re-create the bench database")
    args = parser.parse_args()

    env = bench_database(fresh=args.fresh)
    points = interior_points()
    token = bearer_for(env)
    headers = {"Authorization": f"Bearer {token}"}
    lua = rotating_paths_lua(points)
    print(
        f"grid lookup bench: {len(points)} random interior points, wrk -c {args.connections}, "
        f"{args.seconds:.0f} s per run, uvicorn --workers {args.workers}, "
        f"{os.cpu_count()} CPUs (client, servers and PostgreSQL share them)"
    )

    with serve("service.app:app_factory", env=env, workers=args.workers) as base:
        probe = wrk(base + "/api/v1/grids/locate", seconds=1, lua=lua, headers=headers)
        if probe.non2xx or probe.errors:
            raise SystemExit(f"lookup answered errors during warm-up: {probe}")
        lookup = wrk(
            base + "/api/v1/grids/locate",
            connections=args.connections,
            seconds=args.seconds,
            lua=lua,
            headers=headers,
        )
    with serve("bench.bare:create_app", env=env, workers=args.workers, ready_path="/bare") as base:
        wrk(base + "/bare", seconds=1)
        bare = wrk(base + "/bare", connections=args.connections, seconds=args.seconds)
    qps, p50, p99, n = sql_alone(env, points, min(args.seconds, 5))

    print(lookup.line("GET /api/v1/grids/locate"))
    print(bare.line("bare FastAPI GET (baseline)"))
    ratio = lookup.rps / bare.rps if bare.rps else 0.0
    verdict = "goal met" if ratio >= 0.5 else "goal MISSED"
    print(f"{'ratio lookup / bare':<34} {ratio:>9.2f}     (goal >= 0.50: {verdict})")
    print(
        f"{'PostGIS lookup alone (1 conn)':<34} {qps:>9.0f} q/s     p50 {p50:6.3f} ms   "
        f"p99 {p99:6.3f} ms   ({n} prepared queries)"
    )


if __name__ == "__main__":
    main()
