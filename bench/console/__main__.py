"""Benchmark of the browser console on localhost, in headless Chromium:

- time to a usable map and board on a first load with a cold cache (a fresh browser context
  each run), with the 44 grids and 2,000 open events: from navigation start to the console's
  own ``performance.mark`` (map: polygons drawn, every open event loaded and placed; board:
  the board's figures shown);
- an SSE-driven change shown on the board and on the map: the time from sending a report
  (its commit happens before the answer) to the page showing the new count, over 100 changes;
- the built bundle's size, gzip, of what the first screen (the map) loads, and of the whole.

The data: a database of its own (``--database``, default ``wangge_bench_console``) with the map
and roster loaded and 2,000 events reported through the API by the grids' members (the dispatch
engine assigns them), served by the API (one uvicorn process, as ``make run``) and the worker.

    .venv/bin/python -m bench.console [--events 2000] [--changes 100] [--runs 5]

Needs the console built and its Node packages (``make test`` or ``make run`` does both) and
Debian's Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import shapely
from shapely.geometry import shape

from bench.common import ROOT, bench_database, percentile, serve

CONSOLE = ROOT / "console"
GOALS = {"load_s": 1.5, "sse_p95_s": 1.0, "first_screen_kb": 600}
PASSWORD = "wangge-demo"


def sign_in(client: httpx.Client, user: str) -> str:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["access_token"])


async def report_all(base: str, count: int, seed: int = 1) -> int:
    """``count`` reports through the API, each by a member of the grid it lies in."""
    with httpx.Client(base_url=base) as c:
        auth = {"Authorization": f"Bearer {sign_in(c, 'dispatch1')}"}
        fc = c.get("/api/v1/grids", headers=auth).json()
    grids = [
        (f["properties"]["code"], shape(f["geometry"]).buffer(-0.0001)) for f in fc["features"]
    ]
    rng = random.Random(seed)
    categories = ["exposed_garbage", "illegal_parking", "road_damage", "street_light", "small_ads"]
    with httpx.Client(base_url=base) as c:
        members: dict[str, list[str]] = {}
        for i in range(1, len(grids) + 1):
            for m in (1, 2):
                token = sign_in(c, f"g{i:02d}m{m}")
                me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
                members.setdefault(me.json()["grid_code"], []).append(token)
    jobs: list[tuple[str, dict[str, object]]] = []
    for n in range(count):
        code, poly = grids[n % len(grids)]
        minx, miny, maxx, maxy = poly.bounds
        while True:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(poly, lon, lat):
                break
        token = members[code][n % 2]
        body: dict[str, object] = {
            "client_id": str(uuid.uuid4()),
            "category": categories[n % len(categories)],
            "description": f"基准测试事件 {n}",
            "location": {"lon": lon, "lat": lat, "coord": "wgs84", "accuracy_m": 5},
        }
        jobs.append((token, body))
    sem = asyncio.Semaphore(8)
    made = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as ac:

        async def one(token: str, body: dict[str, object]) -> None:
            nonlocal made
            async with sem:
                r = await ac.post(
                    "/api/v1/events", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                r.raise_for_status()
                made += 1

        await asyncio.gather(*(one(t, b) for t, b in jobs))
    return made


def wait_dispatched(base: str, expected: int, timeout: float = 180) -> int:
    """Wait until the engine has handled every report (none left registered)."""
    with httpx.Client(base_url=base) as c:
        deadline = time.monotonic() + timeout
        while True:
            token = sign_in(c, "dispatch1")
            board = c.get("/api/v1/dispatch/board", headers={"Authorization": f"Bearer {token}"})
            tally = board.json()["open"]
            if tally["by_status"].get("registered", 0) == 0 and tally["total"] >= expected:
                return int(tally["total"])
            if time.monotonic() > deadline:
                return int(tally["total"])
            time.sleep(1)


def bundle_sizes(first_screen: list[str]) -> tuple[float, float, list[tuple[str, float]]]:
    """gzip sizes (KB, level 9) of the first screen's files and of every built file."""
    dist = CONSOLE / "dist"
    sizes: dict[str, float] = {}
    for path in dist.rglob("*"):
        if path.is_file():
            sizes[str(path.relative_to(dist))] = len(gzip.compress(path.read_bytes(), 9)) / 1024
    first = [(name, sizes[name]) for name in first_screen if name in sizes]
    return sum(s for _, s in first), sum(sizes.values()), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="cold loads of each screen")
    parser.add_argument("--database", default="wangge_bench_console")
    parser.add_argument("--redis-db", type=int, help="Redis database number (default: 14)")
    args = parser.parse_args()
    if not (CONSOLE / "dist" / "index.html").is_file() or not (CONSOLE / "node_modules").is_dir():
        sys.exit("build the console first: make run (or make test) builds it")
    if not Path("/usr/bin/chromium").exists():
        sys.exit("bench needs Debian's Chromium: apt-get install chromium")
    env = bench_database(name=args.database)
    if args.redis_db is not None:
        env["WANGGE_REDIS_URL"] = (
            urlsplit(env["WANGGE_REDIS_URL"])._replace(path=f"/{args.redis_db}").geturl()
        )
    env["WANGGE_LOG_LEVEL"] = "WARNING"
    print(f"database {args.database}: map and roster loaded", flush=True)
    worker = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "wangge"), "worker"],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with serve("service.api.app:app_factory", env=env, workers=1) as base:
            t0 = time.monotonic()
            made = asyncio.run(report_all(base, args.events))
            total = wait_dispatched(base, made)
            print(f"{made} events reported through the API in {time.monotonic() - t0:.1f} s; "
                  f"{total} open on the board", flush=True)  # fmt: skip
            out = subprocess.run(
                ["node", str(Path(__file__).with_name("measure.mjs"))],
                env={
                    **os.environ,
                    "BASE": base,
                    "RUNS": str(args.runs),
                    "CHANGES": str(args.changes),
                    "CONSOLE_DIR": str(CONSOLE),
                },
                capture_output=True,
                text=True,
                timeout=900,
            )
            if out.returncode != 0:
                sys.exit(f"measure.mjs failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    load1, load5, load15 = os.getloadavg()
    first_kb, all_kb, first = bundle_sizes(result["firstScreenFiles"])
    rows = [
        ("map usable, cold (s)", result["map"], GOALS["load_s"]),
        ("board usable, cold (s)", result["board"], GOALS["load_s"]),
        ("sign-in click → map usable (s)", result["signin"], GOALS["load_s"]),
    ]
    print(f"\nconsole bench — {result['open']} open events on 44 grids, headless Chromium "
          f"{result['browser']}, load average {load1:.2f} {load5:.2f} {load15:.2f}")  # fmt: skip
    print(f"{'':34} {'median':>8} {'p95':>8} {'max':>8}   goal (runs: {args.runs})")
    for label, values, goal in rows:
        med = percentile(values, 50)
        print(f"{label:34} {med:8.3f} {percentile(values, 95):8.3f} {max(values):8.3f}   "
              f"≤ {goal} s {'ok' if percentile(values, 95) <= goal else 'MISSED'}")  # fmt: skip
    for label, key in (("SSE change → board (s)", "sseBoard"), ("SSE change → map (s)", "sseMap")):
        values = result[key]
        p95 = percentile(values, 95)
        print(f"{label:34} {percentile(values, 50):8.3f} {p95:8.3f} {max(values):8.3f}   "
              f"p95 ≤ {GOALS['sse_p95_s']} s over {len(values)} changes "
              f"{'ok' if p95 <= GOALS['sse_p95_s'] else 'MISSED'}")  # fmt: skip
    verdict = "ok" if first_kb <= GOALS["first_screen_kb"] else "MISSED"
    print(f"first screen (map) bundle, gzip: {first_kb:.1f} KB "
          f"(goal ≤ {GOALS['first_screen_kb']} KB {verdict}); "
          f"all built files, gzip: {all_kb:.1f} KB")  # fmt: skip
    for name, kb in sorted(first, key=lambda x: -x[1]):
        print(f"    {kb:7.1f} KB  {name}")


if __name__ == "__main__":
    main()
