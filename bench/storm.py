"""bench/storm: does dispatch keep up with intake, and does a breach storm leave the API alone?

    .venv/bin/python -m bench.storm                                    # the issue's setting
    .venv/bin/python -m bench.storm --arrival-seconds 10 --storm 3000 --year-events 50000

Its own database (``wangge_bench_storm``) and a private redis-server; the API (uvicorn, 2
processes) and ``--workers`` (2) ``wangge worker`` processes run throughout. Four phases:

1. **Backlog.** 10,000 registered events (bulk-inserted, reported oldest first), then one
   ``dispatch_backlog_job`` per worker: events dispatched per second per worker (each job's
   count over its own run time, and the whole backlog over the wall time / workers).
2. **Arrivals.** Reports through HTTP at ``--rate`` (200) per second for ``--arrival-seconds``
   (60) — wrk, each connection pausing between requests to hold the rate (the rate reached is
   printed). Report → dispatched p95/p99 (register audit ``at`` to dispatch audit ``at``; the
   dispatch assigns a handler or, when everyone is at the load cap, the level's queue), and the
   maximum order inversion: for an event, how many events of its grid reported after it were
   dispatched before it (dispatch audit order), the maximum over all events.
3. **Storm.** ``--storm`` (15,000) open events whose acknowledgement deadlines fall within one
   minute starting ``--lead`` seconds later (bulk-inserted with their ``timer.set`` outbox rows;
   the workers' relays arm them). The time from each deadline to its escalation (the maximum:
   all escalated), and ``GET /api/v1/grids/locate`` p99 (wrk, a light paced load) during the
   minute vs the same load before it, in the same run.
4. **A year of outbox.** ``--year-events`` (1,000,000) events' worth of processed outbox rows,
   a simulated day at a time (rows per event as measured in phase 2), with the worker's
   retention (``expire_outbox``) run at each day's end: the rows left and the largest count
   seen, against the bound retention × daily volume.

Every server listens on 127.0.0.1; every process started is stopped, the database dropped
(``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb
from redis import Redis
from rq import Queue
from rq.job import Job

from bench.common import bench_database, percentile, serve, wrk
from bench.escalation import _category, _grids, bulk_insert, copy_events, private_redis, workers
from bench.locate import bearer_for, interior_points, rotating_paths_lua
from bench.report import interior_points as report_points
from bench.report import ordinary_categories, report_lua, sign_in
from dispatch.engine.queue import timers_key
from dispatch.engine.sweep import TIMERS_SYNCED_KEY
from dispatch.store import state_columns
from domain.lifecycle import Category as CategoryValues
from domain.lifecycle import SlaPolicy, open_event
from kernel.db import libpq_url

DB_NAME = "wangge_bench_storm"
GOAL_DISPATCH_PER_WORKER = 500.0
GOAL_ASSIGN_P95 = 1.0
GOAL_ASSIGN_P99 = 2.0
GOAL_INVERSION = 0
GOAL_STORM_SECONDS = 60.0
GOAL_LOCATE_RATIO = 3.0


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def show(label: str, value: str, goal: str, ok: bool) -> None:
    print(f"  {label:<46} {value:>22}   goal {goal:<16} {verdict(ok)}", flush=True)


# --- phase 1: the backlog ---------------------------------------------------------------------


def insert_registered(conn: psycopg.Connection, count: int, now: datetime) -> list[int]:
    """``count`` registered events (not dispatched), reported a millisecond apart ending at
    ``now``, spread over the grids, with their register audit rows."""
    grids = _grids(conn)
    code, category_id = conn.execute(
        "SELECT code, id FROM category WHERE code = 'exposed_garbage'"
    ).fetchone() or ("", 0)
    policy = SlaPolicy(
        category=CategoryValues(code=code, ack_minutes=15, resolve_minutes=60, department="城管")
    )
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT nextval(pg_get_serial_sequence('event', 'id')) FROM generate_series(1, %s)",
            (count,),
        ).fetchall()
    ]
    events, audits = [], []
    columns: dict[str, object] = {}
    for i, event_id in enumerate(ids):
        grid = grids[i % len(grids)]
        at = now - timedelta(milliseconds=count - i)
        registered = open_event(
            event_id=str(event_id), policy=policy, now=at, reporter_id=str(grid.members[0]),
            grid=grid.code,
        )  # fmt: skip
        columns = state_columns(registered.state)
        events.append(
            (event_id, uuid.uuid4(), "0" * 64, category_id, grid.id, grid.community_id,
             "压测积压", f"SRID=4326;POINT({grid.lon} {grid.lat})", "wgs84", grid.lon, grid.lat,
             5.0, False, 0.0, "staff", None, at, *columns.values())
        )  # fmt: skip
        a = registered.audit
        assert a is not None
        audits.append(
            (event_id, a.version, a.action.value, None, a.to_status.value, a.from_level,
             a.to_level, a.actor, a.at, a.note, Jsonb(dict(a.data)))
        )  # fmt: skip
    copy_events(conn, columns.keys(), events, audits)
    conn.commit()
    return ids


def count(conn: psycopg.Connection, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def phase_backlog(conn: psycopg.Connection, redis: Redis, size: int, n_workers: int) -> bool:
    from dispatch.engine.jobs import dispatch_backlog_job

    print(f"\n[1] backlog: {size} registered events, one dispatch_backlog_job per worker",
          flush=True)  # fmt: skip
    insert_registered(conn, size, datetime.now(UTC))
    conn.execute("ANALYZE event")
    conn.commit()
    queue = Queue(os.environ.get("WANGGE_QUEUE_NAME", "wangge"), connection=redis)
    started = time.monotonic()
    job_ids = [f"bench-backlog-{i}-{uuid.uuid4().hex[:8]}" for i in range(n_workers)]
    for job_id in job_ids:
        queue.enqueue(dispatch_backlog_job, job_id=job_id, job_timeout=600, result_ttl=3600)
    while count(conn, "SELECT count(*) FROM event WHERE status = 'registered'"):
        if time.monotonic() - started > 600:
            print("  backlog NOT drained within 600 s", flush=True)
            break
        time.sleep(0.05)
    wall = time.monotonic() - started
    per_job: list[tuple[int, float]] = []
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=redis)
        deadline = time.monotonic() + 30
        while job.get_status(refresh=True) not in ("finished", "failed") and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        result = job.return_value()
        n = int(str(result).split()[-1]) if result else 0
        seconds = (
            (job.ended_at - job.started_at).total_seconds()
            if job.started_at and job.ended_at
            else 0.0
        )
        per_job.append((n, seconds))
        took = f"in {seconds:.2f} s = {n / seconds:.0f} events/s" if seconds else "(no run time)"
        print(f"  worker job {job_id} ({job.get_status()}, {job.worker_name}): {n} events {took}",
              flush=True)  # fmt: skip
    overall = size / wall / n_workers
    busy = [n / s for n, s in per_job if s > 0 and n > 0]
    best = min(busy) if busy else 0.0
    show("dispatch throughput per worker (wall)", f"{overall:.0f} events/s",
         f">= {GOAL_DISPATCH_PER_WORKER:.0f}/s", overall >= GOAL_DISPATCH_PER_WORKER)  # fmt: skip
    show("  slowest worker's own rate", f"{best:.0f} events/s",
         f">= {GOAL_DISPATCH_PER_WORKER:.0f}/s", best >= GOAL_DISPATCH_PER_WORKER)  # fmt: skip
    print(f"  backlog of {size} drained in {wall:.1f} s", flush=True)
    return overall >= GOAL_DISPATCH_PER_WORKER


# --- phase 2: arrivals ------------------------------------------------------------------------


def paced(lua: str, connections: int, rate: float) -> str:
    """Each wrk connection waits between requests so that together they hold ``rate``/s
    (the request's own time is not subtracted: the rate reached is measured and printed)."""
    pause = max(0.0, connections / rate * 1000 - 4)
    return lua + f"\ndelay = function() return {pause:.1f} end\n"


def max_inversion(conn: psycopg.Connection, first_id: int) -> tuple[int, int]:
    """(the largest number of later-reported events of the same grid dispatched before an
    event, events compared) over events with ids from ``first_id``."""
    rows = conn.execute(
        "SELECT e.grid_id, e.created_at, e.id, d.id FROM event e"
        " JOIN event_audit d ON d.event_id = e.id AND d.action = 'dispatch'"
        " AND d.from_status = 'registered' WHERE e.id >= %s",
        (first_id,),
    ).fetchall()
    conn.commit()
    by_grid: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    for grid_id, created, event_id, audit_id in rows:
        by_grid[grid_id].append((created, event_id, audit_id))
    worst = 0
    example = ""
    for events in by_grid.values():
        events.sort()
        audit_ids = [a for _, _, a in events]
        for i, mine in enumerate(audit_ids):
            overtaken = [j for j in range(i + 1, len(events)) if audit_ids[j] < mine]
            if len(overtaken) > worst:
                worst = len(overtaken)
                first = events[overtaken[0]]
                example = (
                    f"event {events[i][1]} (reported {events[i][0]:%H:%M:%S.%f}) dispatched"
                    f" after event {first[1]} (reported {first[0]:%H:%M:%S.%f})"
                )
    if example:
        print(f"  worst inversion: {example}", flush=True)
    return worst, len(rows)


def assign_latency(conn: psycopg.Connection, first_id: int) -> tuple[list[float], int]:
    rows = conn.execute(
        "SELECT r.at, d.at FROM event_audit r LEFT JOIN event_audit d"
        " ON d.event_id = r.event_id AND d.action = 'dispatch' AND d.from_status = 'registered'"
        " WHERE r.action = 'register' AND r.event_id >= %s",
        (first_id,),
    ).fetchall()
    conn.commit()
    done = [(d - r).total_seconds() for r, d in rows if d is not None]
    return done, len(rows)


def phase_arrivals(
    conn: psycopg.Connection, env: dict[str, str], base: str, rate: float, seconds: float
) -> tuple[bool, float]:
    print(f"\n[2] arrivals: reports at {rate:.0f}/s for {seconds:.0f} s through HTTP", flush=True)
    first_id = count(conn, "SELECT coalesce(max(id), 0) + 1 FROM event")
    token = sign_in(base)
    lua = report_lua(report_points(), ordinary_categories(env), token)
    connections = 20
    result = wrk(
        base + "/api/v1/events",
        connections=connections,
        seconds=int(seconds),
        lua=paced(lua, connections, rate),
    )
    # the last reports' dispatch: give the workers a few seconds
    deadline = time.monotonic() + 30
    while count(
        conn, "SELECT count(*) FROM event WHERE status = 'registered' AND id >= %s", first_id
    ):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    latency, reported = assign_latency(conn, first_id)
    inversion, compared = max_inversion(conn, first_id)
    rows = count(conn, "SELECT count(*) FROM outbox WHERE event_id >= %s", first_id)
    print(f"  {result.requests} reports sent ({result.requests / seconds:.0f}/s reached),"
          f" {result.non2xx} non-2xx, {result.errors} errors; report p99 {result.p99_ms:.1f} ms;"
          f" {len(latency)} of {reported} dispatched", flush=True)  # fmt: skip
    p95 = percentile(latency, 95) if latency else float("inf")
    p99 = percentile(latency, 99) if latency else float("inf")
    all_done = len(latency) == reported
    show("report -> dispatched p95", f"{p95:.3f} s", f"<= {GOAL_ASSIGN_P95:.0f} s",
         p95 <= GOAL_ASSIGN_P95 and all_done)  # fmt: skip
    show("report -> dispatched p99", f"{p99:.3f} s", f"<= {GOAL_ASSIGN_P99:.0f} s",
         p99 <= GOAL_ASSIGN_P99 and all_done)  # fmt: skip
    show("max order inversion in a grid", f"{inversion} (of {compared})",
         f"= {GOAL_INVERSION}", inversion == GOAL_INVERSION)  # fmt: skip
    per_event = rows / reported if reported else 10.0
    print(f"  outbox rows written per reported event: {per_event:.2f}", flush=True)
    return p95 <= GOAL_ASSIGN_P95 and p99 <= GOAL_ASSIGN_P99 and inversion == 0, per_event


# --- phase 3: the storm -----------------------------------------------------------------------


def phase_storm(
    conn: psycopg.Connection,
    redis: Redis,
    env: dict[str, str],
    base: str,
    size: int,
    lead: float,
) -> bool:
    print(f"\n[3] storm: {size} open events whose acknowledgement deadlines fall within one"
          f" minute, {lead:.0f} s from now", flush=True)  # fmt: skip
    category_id = _category(conn)
    conn.commit()
    now = datetime.now(UTC)
    t0 = now + timedelta(seconds=lead)
    rng = random.Random(14)
    deadlines = sorted(t0 + timedelta(seconds=rng.random() * 60) for _ in range(size))
    started = time.monotonic()
    ids = bulk_insert(conn, deadlines, now, category_id)
    conn.execute("ANALYZE event")
    conn.commit()
    print(f"  inserted in {time.monotonic() - started:.1f} s", flush=True)
    headers = {"Authorization": f"Bearer {bearer_for(env)}"}
    lua = rotating_paths_lua(interior_points())
    probe = lua + "\ndelay = function() return 10 end\n"
    url = base + "/api/v1/grids/locate"
    while count(conn, "SELECT count(*) FROM outbox WHERE processed_at IS NULL"):
        if datetime.now(UTC) > t0 - timedelta(seconds=25):
            print("  relay NOT drained 25 s before the deadlines", flush=True)
            break
        time.sleep(0.5)
    armed_at = datetime.now(UTC)
    print(f"  timers armed {(armed_at - now).total_seconds():.1f} s after the insert", flush=True)
    # their warnings (50 % and 75 % of each allowance) would fall in the quiet measurement:
    # disarmed, so the storm is the breaches alone and the quiet figure is quiet
    queue = Queue(os.environ.get("WANGGE_QUEUE_NAME", "wangge"), connection=redis)
    key = timers_key(queue)
    mine = {str(i) for i in ids}
    warnings = [
        m
        for m, _ in redis.zscan_iter(key, match="*-ack_warn*", count=5000)
        if m.decode().split("-")[1] in mine
    ]
    for start in range(0, len(warnings), 5000):
        redis.zrem(key, *warnings[start : start + 5000])
    conn.execute("UPDATE event SET warnings_sent = '{ack_warn50,ack_warn75}' WHERE id = ANY(%s)",
                 (ids,))  # fmt: skip
    conn.commit()
    print(f"  {len(warnings)} warning timers disarmed (escalations only)", flush=True)
    wrk(url, connections=4, seconds=2, lua=probe, headers=headers)  # warm-up
    quiet_seconds = int(max(5.0, min(20.0, (t0 - datetime.now(UTC)).total_seconds() - 2)))
    quiet = wrk(url, connections=4, seconds=quiet_seconds, lua=probe, headers=headers)
    time.sleep(max(0.0, (t0 - datetime.now(UTC)).total_seconds()))
    storm = wrk(url, connections=4, seconds=60, lua=probe, headers=headers)
    give_up = time.monotonic() + 120
    breaches: dict[int, datetime] = {}
    while time.monotonic() < give_up:
        breaches = dict(
            conn.execute(
                "SELECT event_id, min(at) FROM event_audit WHERE action = 'breach'"
                " AND from_level = 0 AND event_id = ANY(%s) GROUP BY event_id",
                (ids,),
            ).fetchall()
        )
        conn.commit()
        if len(breaches) == len(ids):
            break
        time.sleep(1)
    late = [(breaches[e] - d).total_seconds() for e, d in zip(ids, deadlines, strict=True)
            if e in breaches]  # fmt: skip
    worst = max(late) if late else float("inf")
    all_done = len(late) == len(ids)
    last = max(breaches.values()) if breaches else None
    span = (last - deadlines[-1]).total_seconds() if last else float("inf")
    print(f"  {len(late)} of {len(ids)} escalated; lateness p50 {percentile(late, 50):.2f} s,"
          f" p99 {percentile(late, 99):.2f} s; the last escalation {span:.1f} s after the last"
          " deadline" if late else "  none escalated", flush=True)  # fmt: skip
    show("escalated after the deadline: max lateness", f"{worst:.1f} s",
         f"<= {GOAL_STORM_SECONDS:.0f} s", worst <= GOAL_STORM_SECONDS and all_done)  # fmt: skip
    print(f"  locate quiet: {quiet.line('').strip()}", flush=True)
    print(f"  locate storm: {storm.line('').strip()}", flush=True)
    ratio = storm.p99_ms / quiet.p99_ms if quiet.p99_ms else float("inf")
    show("locate p99 storm / quiet", f"{storm.p99_ms:.1f}/{quiet.p99_ms:.1f} ms = {ratio:.2f}x",
         f"<= {GOAL_LOCATE_RATIO:.0f}x", ratio <= GOAL_LOCATE_RATIO)  # fmt: skip
    return worst <= GOAL_STORM_SECONDS and all_done and ratio <= GOAL_LOCATE_RATIO


# --- phase 4: a year of outbox ----------------------------------------------------------------


def phase_year(conn: psycopg.Connection, events: int, rows_per_event: float) -> bool:
    from dispatch.engine.tasks import expire_outbox
    from kernel.settings import get_settings

    retention = get_settings().outbox_retention_days
    per_day = round(events / 365 * rows_per_event)
    bound = round(retention * per_day)
    print(f"\n[4] a year of outbox: {events} events x {rows_per_event:.2f} rows = {per_day} rows"
          f" a day, retention {retention:g} days", flush=True)  # fmt: skip
    conn.execute("DELETE FROM outbox")  # the earlier phases' rows: this phase counts its own
    conn.commit()
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(365)
    largest = 0
    began = time.monotonic()
    for day in range(365):
        midnight = start + timedelta(days=day)
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY outbox (event_id, topic, payload, created_at, available_at, processed_at,"
                " attempts) FROM STDIN"
            ) as copy,
        ):
            for _ in range(per_day):
                at = midnight + timedelta(seconds=rng.random() * 86400)
                copy.write_row((rng.randrange(1, 10**7), "stream", '{"bench": 1}', at, at, at, 0))
        conn.commit()
        expire_outbox(now=midnight + timedelta(days=1))  # the worker's retention, run at day end
        rows = count(conn, "SELECT count(*) FROM outbox")
        largest = max(largest, rows)
        if day % 73 == 72:
            print(f"  day {day + 1}: {rows} rows ({time.monotonic() - began:.0f} s)", flush=True)
    rows = count(conn, "SELECT count(*) FROM outbox")
    size = count(conn, "SELECT pg_total_relation_size('outbox')")
    show("outbox rows after the year", f"{rows}", f"<= {bound}", rows <= bound)
    show("  largest count on any day", f"{largest}", f"<= {bound}", largest <= bound)
    print(f"  outbox table with its indexes: {size / 1e6:.1f} MB (no VACUUM FULL)", flush=True)
    return largest <= bound


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--arrival-seconds", type=float, default=60)
    parser.add_argument("--storm", type=int, default=15_000)
    parser.add_argument("--lead", type=float, default=150, help="set-up time before the storm")
    parser.add_argument("--year-events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    began = time.monotonic()
    print(f"bench.storm on {os.cpu_count()} CPUs shared by wrk, the API (2 processes),"
          f" {args.workers} workers, PostgreSQL and Redis", flush=True)  # fmt: skip
    env = bench_database(fresh=True, name=DB_NAME)
    ok: list[bool] = []
    try:
        with private_redis() as redis_url:
            env.update(WANGGE_REDIS_URL=redis_url, WANGGE_LOG_LEVEL="WARNING", WANGGE_ENV="dev")
            redis = Redis.from_url(redis_url)
            redis.set(TIMERS_SYNCED_KEY, "bench")  # Redis starts empty on purpose
            bearer_for(env)  # this process's settings: the bench database and Redis
            with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"])) as conn:
                with (
                    workers(env, args.workers),
                    serve("service.api.app:app_factory", env=env, workers=2, start_timeout=120)
                    as base,
                ):  # fmt: skip
                    time.sleep(3)  # the workers start
                    ok.append(phase_backlog(conn, redis, args.backlog, args.workers))
                    good, per_event = phase_arrivals(
                        conn, env, base, args.rate, args.arrival_seconds
                    )
                    ok.append(good)
                    ok.append(phase_storm(conn, redis, env, base, args.storm, args.lead))
                ok.append(phase_year(conn, args.year_events, per_event))
    finally:
        if not args.keep:
            with psycopg.connect(
                libpq_url(env["WANGGE_DATABASE_URL"], "postgres"), autocommit=True
            ) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    print(f"\n{sum(ok)} of {len(ok)} phases met every goal; total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
