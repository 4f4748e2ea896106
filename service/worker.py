"""The worker process: an RQ SimpleWorker with the scheduler on, plus a pulse thread.

SimpleWorker runs jobs in-process (~5x the throughput of the forking worker on these
machines); jobs are idempotent, so a crash mid-job only means the job runs again.
The pulse thread writes the heartbeat and runs the periodic tasks that other domains
register (outbox relay, reconciliation sweep); it survives Redis being down.
"""

from __future__ import annotations

import importlib
import logging
import socket
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError
from rq import SimpleWorker

from kernel.redis import get_queue, get_redis, worker_redis, write_heartbeat
from kernel.settings import get_settings

log = logging.getLogger("wangge.worker")

PeriodicTask = Callable[[], None]
PERIODIC_TASKS: list[tuple[str, float, PeriodicTask]] = []


def periodic(name: str, every_seconds: float) -> Callable[[PeriodicTask], PeriodicTask]:
    """Register a function the pulse thread calls every ``every_seconds``."""

    def register(fn: PeriodicTask) -> PeriodicTask:
        PERIODIC_TASKS.append((name, every_seconds, fn))
        return fn

    return register


# Modules that register periodic tasks (with @periodic) when imported.
PERIODIC_MODULES: tuple[str, ...] = ("dispatch.engine.jobs", "evaluation.tasks")


def _load_periodic_tasks() -> None:
    for module in PERIODIC_MODULES:
        importlib.import_module(module)


def _repeat(name: str, every: float, fn: PeriodicTask, stop: threading.Event) -> None:
    """Call ``fn`` every ``every`` seconds until ``stop``; errors are logged, never fatal."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            fn()
        except Exception:
            log.exception("periodic task %s failed", name)
        stop.wait(max(0.0, every - (time.monotonic() - started)))


def pulse(worker_name: str, stop: threading.Event) -> None:
    """Write the heartbeat; each periodic task runs on a thread of its own, so a slow one
    (a sweep after an outage) never delays a frequent one (the outbox relay)."""
    settings = get_settings()
    redis = get_redis()
    for name, every, fn in PERIODIC_TASKS:
        threading.Thread(
            target=_repeat, args=(name, every, fn, stop), name=name, daemon=True
        ).start()
    while not stop.is_set():
        try:
            write_heartbeat(redis, worker_name)
        except RedisError as exc:
            log.warning("heartbeat failed: %s", exc)
        stop.wait(min(settings.worker_heartbeat_seconds, 1.0))


def run_worker(burst: bool = False) -> None:
    _load_periodic_tasks()
    name = f"wangge-{socket.gethostname()}-{threading.get_native_id()}"
    stop = threading.Event()
    thread = threading.Thread(target=pulse, args=(name, stop), name="pulse", daemon=True)
    thread.start()
    connection = worker_redis()
    worker = SimpleWorker([get_queue(connection)], connection=connection, name=name)
    try:
        while True:
            try:
                worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
                break
            except RedisError as exc:
                # Redis went away: keep the process (and its pulse) alive and retry.
                log.warning("worker lost Redis (%s); retrying in 2 s", exc)
                time.sleep(2)
    finally:
        stop.set()
        thread.join(timeout=5)
