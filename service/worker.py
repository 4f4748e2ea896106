"""The worker process: an RQ SimpleWorker with the scheduler on, plus a pulse thread.

SimpleWorker runs jobs in-process (~5x the throughput of the forking worker on these
machines); jobs are idempotent, so a crash mid-job only means the job runs again.
The pulse thread writes the heartbeat and runs the features' periodic tasks (outbox relay,
timer promoter, reconciliation sweep, statistics sealing), each on a thread of its own; it
survives Redis being down.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from redis.exceptions import RedisError
from rq import SimpleWorker

from dispatch.engine.tasks import tasks as dispatch_tasks
from evaluation.tasks import tasks as evaluation_tasks
from kernel.redis import get_queue, get_redis, worker_redis, write_heartbeat
from kernel.settings import get_settings
from kernel.tasks import PeriodicTask

log = logging.getLogger("wangge.worker")


def periodic_tasks() -> list[PeriodicTask]:
    """Every feature's periodic work."""
    return [*dispatch_tasks(), *evaluation_tasks()]


def _repeat(task: PeriodicTask, stop: threading.Event) -> None:
    """Run ``task`` every ``task.every_seconds`` until ``stop``; errors are logged, never
    fatal."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            task.run()
        except Exception:
            log.exception("periodic task %s failed", task.name)
        stop.wait(max(0.0, task.every_seconds - (time.monotonic() - started)))


def pulse(worker_name: str, stop: threading.Event) -> None:
    """Write the heartbeat; each periodic task runs on a thread of its own, so a slow one
    (a sweep after an outage) never delays a frequent one (the outbox relay)."""
    settings = get_settings()
    redis = get_redis()
    for task in periodic_tasks():
        threading.Thread(target=_repeat, args=(task, stop), name=task.name, daemon=True).start()
    while not stop.is_set():
        try:
            write_heartbeat(redis, worker_name)
        except RedisError as exc:
            log.warning("heartbeat failed: %s", exc)
        stop.wait(min(settings.worker_heartbeat_seconds, 1.0))


def run_worker(burst: bool = False) -> None:
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
