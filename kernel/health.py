"""Whether the parts answer: PostgreSQL and PostGIS, Redis, and a worker's recent heartbeat;
and whether the database counts statistics days in the service's time zone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from kernel.clock import utc_now
from kernel.db import get_engine, server_versions
from kernel.redis import read_heartbeat
from kernel.settings import get_settings
from kernel.sqlfiles import database_timezone


@dataclass(frozen=True)
class Health:
    status: str  # ok | down
    postgres: str | None
    postgis: str | None
    redis: bool
    worker_heartbeat: datetime | None
    worker_age_seconds: float | None
    down: list[str]


def check(redis: Redis, now: datetime | None = None) -> Health:
    """Ask every part; ``down`` names those that did not answer (a worker whose heartbeat is
    older than four beats counts as down), and ``timezone`` when the database's statistics zone
    (``wangge_timezone()``) is not ``WANGGE_TIMEZONE`` (``wangge stats rebuild`` aligns it)."""
    now = now or utc_now()
    down: list[str] = []
    postgres = postgis = zone = None
    try:
        with Session(get_engine()) as session:
            postgres, postgis = server_versions(session)
            zone = database_timezone(session.connection())
    except SQLAlchemyError:
        down.append("postgres")
    if postgres and not postgis:
        down.append("postgis")
    if zone is not None and zone != get_settings().timezone:
        down.append("timezone")  # the statistics count days in another zone: stats rebuild
    redis_ok = False
    beat: datetime | None = None
    try:
        redis_ok = bool(redis.ping())
        last = read_heartbeat(redis)
        beat = last[0] if last else None
    except RedisError:
        down.append("redis")
    age = (now - beat).total_seconds() if beat else None
    if redis_ok and (age is None or age > stale_after_seconds()):
        down.append("worker")
    return Health("down" if down else "ok", postgres, postgis, redis_ok, beat, age, down)


@dataclass(frozen=True)
class Readiness:
    status: str  # ready | unready
    down: list[str]


def readiness() -> Readiness:
    """Whether this API process can do its work: PostgreSQL with PostGIS answers. Redis and
    the worker are not required: without them reports are still accepted and stored (the
    outbox catches up), so taking the API out of a load balancer would lose more than it
    saves. ``/api/v1/health`` shows those parts."""
    try:
        with Session(get_engine()) as session:
            postgres, postgis = server_versions(session)
    except SQLAlchemyError:
        return Readiness("unready", ["postgres"])
    if not postgis:
        return Readiness("unready", ["postgis"])
    return Readiness("ready", [])


def stale_after_seconds() -> float:
    """A worker whose last beat is older than four beats counts as down."""
    return get_settings().worker_heartbeat_seconds * 4


def write_beat_file(path: Path, worker: str, *, redis: bool, now: datetime | None = None) -> None:
    """The worker's local heartbeat, replaced atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    beat = {"at": (now or utc_now()).isoformat(), "worker": worker, "pid": os.getpid()}
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(json.dumps({**beat, "redis": redis}), encoding="utf-8")
    os.replace(scratch, path)


def probe_worker(path: Path, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the worker that beats into ``path`` is alive, and a line saying why. Redis
    being down does not make the worker unhealthy: restarting it would not bring Redis
    back, and its pulse keeps going (it says so in the line)."""
    try:
        beat = json.loads(path.read_text(encoding="utf-8"))
        at = datetime.fromisoformat(beat["at"])
    except FileNotFoundError:
        return False, f"no heartbeat file at {path}: the worker has not started"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"unreadable heartbeat file {path}: {exc}"
    age = ((now or utc_now()) - at).total_seconds()
    redis = "reaches Redis" if beat.get("redis") else "cannot reach Redis"
    line = f"worker {beat.get('worker')} (pid {beat.get('pid')}) beat {age:.1f} s ago, {redis}"
    if age > stale_after_seconds():
        return False, f"{line}: stale (older than {stale_after_seconds():.0f} s)"
    return True, line
