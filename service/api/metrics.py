"""What ``/metrics`` exposes: every API process's counts, and the shared state read at scrape.

With more than one API process (``wangge api --workers N``), each process writes its counts to
files in ``PROMETHEUS_MULTIPROC_DIR`` (set by ``wangge api``) and a scrape sums them, so any
process answers for all. State that belongs to no process (the outbox backlog, RQ's queues,
the worker's heartbeat) is read from PostgreSQL and Redis by the process that answers, once
per scrape; a part that does not answer is left out and ``wangge_state_up`` says so.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from functools import lru_cache

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.requests import Request

from dispatch.engine.queue import job_counts, relay_redis
from dispatch.outbox import backlog
from kernel.clock import utc_now
from kernel.db import get_engine
from kernel.errors import Forbidden
from kernel.redis import read_heartbeat
from kernel.settings import get_settings

#: Open change streams (Server-Sent Events) of the live API processes.
SSE_CLIENTS = Gauge("wangge_sse_clients", "Open change streams (SSE)", multiprocess_mode="livesum")


class SharedState(Collector):
    """Gauges of the shared state, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "wangge_state_up",
            "Whether the scrape could read a part (1) or not (0)",
            labels=["part"],
        )
        yield from self._outbox(up)
        yield from self._redis(up)
        yield up

    def _outbox(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            with Session(get_engine()) as session:
                rows = backlog(session)
        except SQLAlchemyError:
            up.add_metric(["postgres"], 0)
            return
        up.add_metric(["postgres"], 1)
        now = utc_now()
        pending = GaugeMetricFamily(
            "wangge_outbox_pending", "Outbox rows not handed on yet", labels=["topic"]
        )
        failing = GaugeMetricFamily(
            "wangge_outbox_failing", "Pending outbox rows that failed at least once",
            labels=["topic"],
        )  # fmt: skip
        age = GaugeMetricFamily(
            "wangge_outbox_oldest_pending_seconds",
            "Age of the oldest pending outbox row (0 when none)",
            labels=["topic"],
        )
        for row in rows:
            pending.add_metric([row.topic], row.pending)
            failing.add_metric([row.topic], row.failing)
            oldest = 0.0 if row.oldest_at is None else (now - row.oldest_at).total_seconds()
            age.add_metric([row.topic], max(oldest, 0.0))
        yield from (pending, failing, age)

    def _redis(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            redis = relay_redis()
            counts = job_counts(redis)
            beat = read_heartbeat(redis)
        except (RedisError, OSError):
            up.add_metric(["redis"], 0)
            return
        up.add_metric(["redis"], 1)
        jobs = GaugeMetricFamily(
            "wangge_rq_jobs", "RQ jobs of the queue by state", labels=["state"]
        )
        for state, count in counts.items():
            jobs.add_metric([state], count)
        yield jobs
        heartbeat = GaugeMetricFamily(
            "wangge_worker_heartbeat_age_seconds",
            "Seconds since a worker last beat (absent when no worker is alive)",
        )
        if beat is not None:
            heartbeat.add_metric([], max((utc_now() - beat[0]).total_seconds(), 0.0))
        yield heartbeat


_SHARED = CollectorRegistry(auto_describe=False)
_SHARED.register(SharedState())


def exposition() -> bytes:
    """The text ``/metrics`` answers: the processes' counts, then the shared state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        counts = generate_latest(registry)
    else:
        counts = generate_latest(REGISTRY)
    return counts + generate_latest(_SHARED)


@lru_cache(maxsize=8)
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allowed)


def check_scraper(request: Request) -> None:
    """``/metrics`` is for the operator's scraper: the bearer token ``metrics_token`` (when
    set) or an address in ``metrics_allow_from``; anyone else gets a 403."""
    settings = get_settings()
    if settings.metrics_token:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if hmac.compare_digest(sent.encode(), expected.encode()):
            return
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and any(
        address in network for network in _networks(tuple(settings.metrics_allow_from))
    ):
        return
    raise Forbidden(
        [{"loc": [], "msg": "metrics are for the operator's scraper", "type": "forbidden"}]
    )


def process_exit() -> None:
    """Called as an API process stops: in multiprocess mode, its live gauges (open streams)
    leave the sum instead of counting a dead process's clients."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
