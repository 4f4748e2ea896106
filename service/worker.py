"""The worker process: an RQ SimpleWorker with the scheduler on, plus a pulse thread.

SimpleWorker runs jobs in-process (~5x the throughput of the forking worker on these
machines); jobs are idempotent, so a crash mid-job only means the job runs again.
The pulse thread writes the heartbeat (to Redis for ``/api/v1/health``, to a local file for
``wangge probe worker``), keeps the worker registered with RQ (so ``rq info`` and
rq-dashboard see it, also after Redis restarted empty), and runs the features' periodic
tasks (outbox relay, timer promoter, reconciliation sweep, statistics sealing), each on a
thread of its own; it survives Redis being down.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from prometheus_client import start_http_server
from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.worker_registration import REDIS_WORKER_KEYS, register

from dispatch.engine.tasks import tasks as dispatch_tasks
from evaluation.tasks import tasks as evaluation_tasks
from kernel.health import write_beat_file
from kernel.redis import get_queue, get_redis, worker_redis, write_heartbeat
from kernel.settings import get_settings
from kernel.tasks import PeriodicTask

log = logging.getLogger("wangge.worker")
#: RQ logs three or four INFO lines per job; each job logs one line of its own instead.
RQ_LOGGING_LEVEL = "WARNING"


def periodic_tasks() -> list[PeriodicTask]:
    """Every feature's periodic work."""
    return [*dispatch_tasks(), *evaluation_tasks()]


def _repeat(task: PeriodicTask, stop: threading.Event) -> None:
    """Run ``task`` every ``task.every_seconds`` until ``stop``; errors are logged, never
    fatal. A run of failures (Redis down: the promoter fails ten times a second) is logged
    with its traceback once, then once a minute, and its end is logged too."""
    failing_since: float | None = None
    last_logged = 0.0
    while not stop.is_set():
        started = time.monotonic()
        try:
            task.run()
            if failing_since is not None:
                log.warning(
                    "periodic task %s recovered after %.0f s", task.name, started - failing_since
                )
                failing_since = None
        except Exception:
            if failing_since is None:
                failing_since = last_logged = started
                log.exception("periodic task %s failed", task.name)
            elif started - last_logged >= 60:
                last_logged = started
                log.error(
                    "periodic task %s still failing (%.0f s)", task.name, started - failing_since
                )
        stop.wait(max(0.0, task.every_seconds - (time.monotonic() - started)))


def keep_registered(redis: Redis, worker: SimpleWorker) -> bool:
    """Put the worker back into RQ's registry when it is missing from it (Redis restarted
    empty: RQ's own heartbeat only refreshes the key, never the ``rq:workers`` set).
    True when it had to."""
    if redis.sismember(REDIS_WORKER_KEYS, worker.key) or redis.hexists(worker.key, "death"):
        return False  # registered, or shutting down (RQ recorded its death)
    with redis.pipeline() as pipe:
        pipe.hset(worker.key, mapping=worker.serialize())
        register(worker, pipe)
        pipe.expire(worker.key, worker.worker_ttl + 60)
        pipe.execute()
    log.warning("worker %s was missing from RQ's registry: re-registered", worker.name)
    return True


def pulse(worker: SimpleWorker, stop: threading.Event) -> None:
    """Beat; each periodic task runs on a thread of its own, so a slow one (a sweep after an
    outage) never delays a frequent one (the outbox relay)."""
    settings = get_settings()
    redis = get_redis()
    for task in periodic_tasks():
        threading.Thread(target=_repeat, args=(task, stop), name=task.name, daemon=True).start()
    redis_ok = True
    while not stop.is_set():
        try:
            write_heartbeat(redis, worker.name)
            if worker.birth_date is not None:  # RQ registered it once: keep it registered
                keep_registered(redis, worker)
            if not redis_ok:
                log.warning("heartbeat reaches Redis again")
            redis_ok = True
        except RedisError as exc:
            if redis_ok:
                log.warning("heartbeat cannot reach Redis: %s", exc)
            redis_ok = False
        try:
            write_beat_file(settings.worker_heartbeat_file, worker.name, redis=redis_ok)
        except OSError as exc:
            log.warning("heartbeat file %s: %s", settings.worker_heartbeat_file, exc)
        stop.wait(min(settings.worker_heartbeat_seconds, 1.0))


def serve_metrics() -> None:
    """The worker's counts on its own port (``WANGGE_WORKER_METRICS_PORT``), when set; a port
    already taken is logged, not fatal: the worker's job matters more than its metrics."""
    settings = get_settings()
    if settings.worker_metrics_port is None:
        return
    try:
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_address)
    except OSError as exc:
        log.error("worker metrics not served on port %s: %s", settings.worker_metrics_port, exc)


def _start(connection: Redis, name: str) -> SimpleWorker:
    """RQ's worker names its Redis connection when it is made: a worker started while Redis is
    down waits for it (logged every try) instead of exiting."""
    while True:
        try:
            return SimpleWorker([get_queue(connection)], connection=connection, name=name)
        except RedisError as exc:
            log.warning("worker cannot reach Redis to start (%s); retrying in 2 s", exc)
            time.sleep(2)


def run_worker(burst: bool = False) -> None:
    name = f"wangge-{socket.gethostname()}-{threading.get_native_id()}"
    serve_metrics()
    worker = _start(worker_redis(), name)
    stop = threading.Event()
    thread = threading.Thread(target=pulse, args=(worker, stop), name="pulse", daemon=True)
    thread.start()
    try:
        while True:
            try:
                worker.work(burst=burst, with_scheduler=True, logging_level=RQ_LOGGING_LEVEL)
                break
            except RedisError as exc:
                # Redis went away: keep the process (and its pulse) alive and retry.
                log.warning("worker lost Redis (%s); retrying in 2 s", exc)
                time.sleep(2)
    finally:
        stop.set()
        thread.join(timeout=5)
