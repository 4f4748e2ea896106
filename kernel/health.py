"""Whether the parts answer: PostgreSQL and PostGIS, Redis, and a worker's recent heartbeat;
and whether the database counts statistics days in the service's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    stale_after = get_settings().worker_heartbeat_seconds * 4
    if redis_ok and (age is None or age > stale_after):
        down.append("worker")
    return Health("down" if down else "ok", postgres, postgis, redis_ok, beat, age, down)
