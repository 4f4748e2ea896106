"""bench/escalation: how late do escalations fire, and how soon is a report assigned?

    .venv/bin/python -m bench.escalation                # the issue's setting (~13 minutes)
    .venv/bin/python -m bench.escalation --spread 120   # a shorter trial

Set-up (its own database ``wangge_bench_escalation`` and a private redis-server on a free
port, so nothing else is disturbed): 10,000 open events, dispatched now, whose acknowledgement
deadlines are spread evenly over a 10-minute window starting ``--lead`` (120) seconds later, plus a
burst of 1,000 whose deadlines fall in one and the same second in the middle of the window.
They are bulk-inserted with their audit rows and their ``timer.set`` outbox rows (COPY); the
relays of ``--workers`` real ``wangge worker`` processes move the 66,000 timers to RQ, their
promoters and RQ workers fire them. Meanwhile ~200 events are reported through HTTP (uvicorn,
2 processes) at 10 per second, and dispatched by the same workers.

Printed: the lateness of the escalations (audit ``at`` of the breach minus the deadline),
p50/p99/max for the sparse events and the burst, and report → assigned (dispatch audit ``at``
minus register ``at``) p50/p95, against the goals: sparse p99 ≤ 1 s, the whole burst within
5 s, report → assigned p95 ≤ 1 s. The baseline beside it: RQ's own scheduler alone polls once
a second on whole seconds, so its lateness is uniform in [0, 1) s plus the job's run time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from psycopg.types.json import Jsonb
from redis import Redis

from bench.common import ROOT, bench_database, free_port, percentile, serve
from dispatch.engine.sweep import TIMERS_SYNCED_KEY
from dispatch.store import state_columns, timer_values
from domain.lifecycle import (
    Action,
    Assignment,
    Command,
    SlaPolicy,
    TimerOp,
    apply,
    open_event,
)
from domain.lifecycle import Category as CategoryValues
from domain.roles import Role
from kernel.db import libpq_url

DB_NAME = "wangge_bench_escalation"
CATEGORY = "bench_escalation"
REPORT_CATEGORY = "exposed_garbage"
GOAL_SPARSE_P99 = 1.0
GOAL_BURST_MAX = 5.0
GOAL_ASSIGN_P95 = 1.0


# --- servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of the bench's own on a free port (no persistence)."""
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("bench.escalation needs redis-server (scripts/bootstrap.sh installs it)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="wangge-bench-redis-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(Exception):
                if Redis.from_url(url).ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def workers(env: dict[str, str], n: int) -> Iterator[None]:
    exe = str(ROOT / ".venv" / "bin" / "wangge")
    procs = [
        subprocess.Popen([exe, "worker"], env=env, cwd=ROOT, start_new_session=True)
        for _ in range(n)
    ]
    try:
        yield
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


# --- the bulk set-up --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    id: int
    code: str
    community_id: int
    lon: float
    lat: float
    members: tuple[int, ...]


def _grids(conn: psycopg.Connection) -> list[Grid]:
    rows = conn.execute(
        "SELECT g.id, g.code, g.community_id, ST_X(ST_PointOnSurface(g.geom)),"
        " ST_Y(ST_PointOnSurface(g.geom)),"
        " array_agg(s.id ORDER BY s.id) FILTER (WHERE s.role = 'member')"
        " FROM grid g JOIN staff s ON s.grid_id = g.id GROUP BY g.id ORDER BY g.code"
    ).fetchall()
    return [Grid(r[0], r[1], r[2], r[3], r[4], tuple(r[5])) for r in rows]


def _category(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "INSERT INTO category (code, name, ack_minutes, resolve_minutes, big, department, active)"
        " VALUES (%s, '压测类别', 15, 60, false, '城管', true)"
        " ON CONFLICT (code) DO UPDATE SET active = true RETURNING id",
        (CATEGORY,),
    ).fetchone()
    assert row is not None
    return int(row[0])


_EVENT_BASE = (
    "id", "client_id", "request_hash", "category_id", "grid_id", "community_id", "description",
    "geom", "coord", "orig_lon", "orig_lat", "accuracy_m", "snapped", "distance_m", "source",
    "occurred_at", "received_at",
)  # fmt: skip


def copy_events(
    conn: psycopg.Connection,
    columns: Iterable[str],
    events: Sequence[Sequence[object]],
    audits: Sequence[Sequence[object]],
) -> None:
    """COPY event rows (``_EVENT_BASE`` then ``columns``) and their audit rows; no commit."""
    names = ", ".join((*_EVENT_BASE, *columns))
    with conn.cursor() as cur:
        with cur.copy(f"COPY event ({names}) FROM STDIN") as copy:
            for row in events:
                copy.write_row(row)
        with cur.copy(
            "COPY event_audit (event_id, version, action, from_status, to_status, from_level,"
            " to_level, actor, at, note, data) FROM STDIN"
        ) as copy:
            for row in audits:
                copy.write_row(row)


def bulk_insert(
    conn: psycopg.Connection, deadlines: list[datetime], now: datetime, category_id: int
) -> list[int]:
    """Events dispatched at ``now`` with the given acknowledgement deadlines (each its own
    allowance, so warnings at 50 % and 75 % fall ahead of it), their register and dispatch
    audit rows and the ``timer.set`` outbox rows of their six timers. Returns their ids."""
    grids = _grids(conn)
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT nextval(pg_get_serial_sequence('event', 'id')) FROM generate_series(1, %s)",
            (len(deadlines),),
        ).fetchall()
    ]
    events, audits, outbox = [], [], []
    for i, (event_id, deadline) in enumerate(zip(ids, deadlines, strict=True)):
        grid = grids[i % len(grids)]
        reporter, assignee = grid.members[0], grid.members[i // len(grids) % len(grid.members)]
        allowance = deadline - now
        policy = SlaPolicy(
            category=CategoryValues(
                code=CATEGORY,
                ack_minutes=allowance.total_seconds() / 60,
                resolve_minutes=60,
                department="城管",
            )
        )
        registered = open_event(
            event_id=str(event_id),
            policy=policy,
            now=now - timedelta(seconds=1),
            reporter_id=str(reporter),
            grid=grid.code,
        )
        dispatched = apply(
            registered.state,
            Command(
                action=Action.DISPATCH,
                actor="system",
                note="bench",
                assignment=Assignment(
                    level=0, assignee_id=str(assignee), role=Role.MEMBER, reason="bench"
                ),
            ),
            now=now,
            policy=policy,
        )
        columns = state_columns(dispatched.state)
        events.append(
            (event_id, uuid.uuid4(), "0" * 64, category_id, grid.id, grid.community_id,
             "压测事件", f"SRID=4326;POINT({grid.lon} {grid.lat})", "wgs84", grid.lon, grid.lat,
             5.0, False, 0.0, "staff", None, now - timedelta(seconds=1),
             *columns.values())
        )  # fmt: skip
        for decision in (registered, dispatched):
            a = decision.audit
            assert a is not None
            audits.append(
                (event_id, a.version, a.action.value,
                 a.from_status.value if a.from_status else None, a.to_status.value,
                 a.from_level, a.to_level, a.actor, a.at, a.note, Jsonb(dict(a.data)))
            )  # fmt: skip
        # the six handling timers only: the dispatch clock's timers were never armed here, so
        # their cancellations (ADR 0021) would add rows the measured workload never had
        armed = [t for t in dispatched.timers if t.op is TimerOp.SET]
        for e, topic, payload, at in timer_values(event_id, armed, now=now):
            outbox.append((e, topic, Jsonb(payload), at, at, 0))
    copy_events(conn, columns.keys(), events, audits)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY outbox (event_id, topic, payload, created_at, available_at, attempts) FROM STDIN"
        ) as copy:
            for row in outbox:
                copy.write_row(row)
    conn.commit()
    return ids


# --- reports through HTTP ---------------------------------------------------------------------


def report_through_http(base: str, conn: psycopg.Connection, count: int, rate: float) -> list[int]:
    """Members of the first grids report ``count`` events at ``rate`` per second."""
    grids = _grids(conn)[:20]
    usernames: dict[int, str] = dict(
        conn.execute(
            "SELECT s.grid_id, u.username FROM users u JOIN staff s ON s.id = u.staff_id"
            " WHERE u.username LIKE 'g%%m1'"
        ).fetchall()
    )
    tokens: dict[int, str] = {}
    ids: list[int] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for grid in grids:
            r = http.post(
                "/api/v1/auth/token",
                data={"username": usernames[grid.id], "password": "wangge-demo"},
            )
            r.raise_for_status()
            tokens[grid.id] = r.json()["access_token"]
        started = time.monotonic()
        for i in range(count):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            grid = grids[i % len(grids)]
            r = http.post(
                "/api/v1/events",
                headers={"Authorization": f"Bearer {tokens[grid.id]}"},
                json={
                    "client_id": str(uuid.uuid4()),
                    "category": REPORT_CATEGORY,
                    "description": f"压测上报 {i}",
                    "location": {"lon": grid.lon, "lat": grid.lat, "coord": "wgs84"},
                },
            )
            if r.status_code == 201:
                ids.append(int(r.json()["id"]))
    return ids


# --- measuring --------------------------------------------------------------------------------


def first_breach(conn: psycopg.Connection, ids: list[int]) -> dict[int, datetime]:
    rows = conn.execute(
        "SELECT event_id, min(at) FROM event_audit"
        " WHERE action = 'breach' AND from_level = 0 AND event_id = ANY(%s) GROUP BY event_id",
        (ids,),
    ).fetchall()
    return {int(e): at for e, at in rows}


def lateness(deadlines: dict[int, datetime], breaches: dict[int, datetime]) -> list[float]:
    return [(breaches[e] - d).total_seconds() for e, d in deadlines.items() if e in breaches]


def assign_latency(conn: psycopg.Connection, ids: list[int]) -> list[float]:
    rows = conn.execute(
        "SELECT r.at, d.at FROM event_audit r JOIN event_audit d"
        " ON d.event_id = r.event_id AND d.action = 'dispatch' AND d.from_status = 'registered'"
        " WHERE r.action = 'register' AND r.event_id = ANY(%s)",
        (ids,),
    ).fetchall()
    return [(d - r).total_seconds() for r, d in rows]


def line(label: str, values: list[float], total: int, quantiles: tuple[int, ...]) -> str:
    if not values:
        return f"{label:<34} n=0 of {total}"
    qs = "  ".join(f"p{q} {percentile(values, q):6.3f} s" for q in quantiles)
    return f"{label:<34} n={len(values):>5} of {total:<5}  {qs}  max {max(values):6.3f} s"


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=10_000, help="sparse events")
    parser.add_argument("--spread", type=float, default=600, help="window of their deadlines, s")
    parser.add_argument("--burst", type=int, default=1_000, help="events due in one second")
    parser.add_argument("--lead", type=float, default=120, help="set-up time before the window, s")
    parser.add_argument("--workers", type=int, default=2, help="wangge worker processes")
    parser.add_argument("--reports", type=int, default=200, help="events reported through HTTP")
    args = parser.parse_args()
    began = time.monotonic()
    rng = random.Random(20240601)

    print(f"bench.escalation: {args.events} events over {args.spread:.0f} s + a burst of "
          f"{args.burst} in one second; {args.workers} workers; {args.reports} HTTP reports",
          flush=True)  # fmt: skip
    env = bench_database(fresh=True, name=DB_NAME)
    with private_redis() as redis_url:
        env.update(WANGGE_REDIS_URL=redis_url, WANGGE_LOG_LEVEL="WARNING", WANGGE_ENV="dev")
        redis = Redis.from_url(redis_url)
        redis.set(TIMERS_SYNCED_KEY, "bench")  # Redis starts empty on purpose: nothing to resync
        with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"])) as conn:
            category_id = _category(conn)
            conn.commit()
            now = datetime.now(UTC)
            t0 = now + timedelta(seconds=args.lead)
            sparse = [t0 + timedelta(seconds=args.spread * (i + 0.5) / args.events)
                      for i in range(args.events)]  # fmt: skip
            burst_second = t0 + timedelta(seconds=int(args.spread / 2))
            burst = [burst_second + timedelta(seconds=rng.random()) for _ in range(args.burst)]
            started = time.monotonic()
            ids = bulk_insert(conn, sparse + burst, now, category_id)
            pending = conn.execute("SELECT count(*) FROM outbox").fetchone()
            print(f"set-up: {len(ids)} events, {pending[0] if pending else 0} timer rows "
                  f"inserted in {time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
            sparse_deadlines = dict(zip(ids[: args.events], sparse, strict=True))
            burst_deadlines = dict(zip(ids[args.events :], burst, strict=True))

            with (
                workers(env, args.workers),
                serve("service.api.app:app_factory", env=env, workers=2, start_timeout=120) as base,
            ):
                relayed_at = None
                while datetime.now(UTC) < t0:
                    row = conn.execute(
                        "SELECT count(*) FROM outbox WHERE processed_at IS NULL"
                    ).fetchone()
                    conn.commit()
                    if relayed_at is None and row is not None and row[0] == 0:
                        relayed_at = datetime.now(UTC)
                        print(f"relay: every timer in RQ {(relayed_at - now).total_seconds():.1f}"
                              f" s after the insert ({(t0 - relayed_at).total_seconds():.1f} s "
                              "before the window)", flush=True)  # fmt: skip
                    time.sleep(1)
                if relayed_at is None:
                    print("relay: NOT drained when the window opened", flush=True)
                # the reports, a quarter into the window
                time.sleep(max(0.0, args.spread / 4 - (datetime.now(UTC) - t0).total_seconds()))
                reported = report_through_http(base, conn, args.reports, rate=10)
                end = t0 + timedelta(seconds=args.spread + 10)
                while datetime.now(UTC) < end:
                    time.sleep(1)
                # stragglers (the sweep's grace and period) get 30 s more, then we count
                give_up = time.monotonic() + 30
                while time.monotonic() < give_up:
                    if len(first_breach(conn, ids)) == len(ids):
                        break
                    conn.commit()
                    time.sleep(1)
                conn.commit()
            breaches = first_breach(conn, ids)
            sparse_late = lateness(sparse_deadlines, breaches)
            burst_late = lateness(burst_deadlines, breaches)
            assigned = assign_latency(conn, reported)
            warnings = conn.execute(
                "SELECT count(*) FROM event_audit WHERE action = 'warn'"
            ).fetchone()

    burst_in_5 = sum(1 for v in burst_late if v <= GOAL_BURST_MAX)
    print()
    print(line("sparse escalation lateness", sparse_late, args.events, (50, 99)))
    print(line("burst escalation lateness", burst_late, args.burst, (50, 99)))
    print(line("report -> assigned", assigned, args.reports, (50, 95)))
    print(f"{'warnings sent (50 % / 75 %)':<34} {warnings[0] if warnings else 0}")
    print(
        f"{'baseline: RQ scheduler alone':<34} lateness uniform in [0, 1) s on whole seconds "
        "(p50 ~0.5 s, p99 ~0.99 s) + run time; early by up to 1 s without exact scores"
    )
    sparse_p99 = percentile(sparse_late, 99) if sparse_late else float("inf")
    assign_p95 = percentile(assigned, 95) if assigned else float("inf")
    verdicts = [
        ("sparse p99 <= 1 s", sparse_p99 <= GOAL_SPARSE_P99 and len(sparse_late) == args.events),
        ("burst all escalated within 5 s", burst_in_5 == args.burst),
        ("report -> assigned p95 <= 1 s", assign_p95 <= GOAL_ASSIGN_P95),
    ]
    print("goals: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts))
    print(f"burst: {burst_in_5} of {args.burst} escalated within 5 s of their deadline")
    print(f"total run time {time.monotonic() - began:.0f} s")
    summary = {
        "sparse_p50": percentile(sparse_late, 50) if sparse_late else None,
        "sparse_p99": sparse_p99,
        "sparse_max": max(sparse_late, default=None),
        "burst_max": max(burst_late, default=None),
        "assign_p95": assign_p95,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
