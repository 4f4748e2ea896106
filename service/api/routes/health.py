"""Liveness of the parts: PostgreSQL + PostGIS, Redis, the worker."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from kernel.db import get_engine, server_versions
from kernel.redis import read_heartbeat
from kernel.settings import get_settings
from service.api.deps import RedisDep


class Health(BaseModel):
    status: str
    postgres: str | None
    postgis: str | None
    redis: bool
    worker_heartbeat: datetime | None
    worker_age_seconds: float | None
    down: list[str]


def check(redis: Redis, now: datetime | None = None) -> Health:
    now = now or datetime.now(UTC)
    down: list[str] = []
    postgres = postgis = None
    try:
        with Session(get_engine()) as session:
            postgres, postgis = server_versions(session)
    except SQLAlchemyError:
        down.append("postgres")
    if postgres and not postgis:
        down.append("postgis")
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
    return Health(
        status="ok" if not down else "down",
        postgres=postgres,
        postgis=postgis,
        redis=redis_ok,
        worker_heartbeat=beat,
        worker_age_seconds=age,
        down=down,
    )


router = APIRouter(tags=["health"])


@router.get(
    "/api/v1/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "a part is down; `down` names it"}},
)
def health(redis: RedisDep) -> JSONResponse:
    """200 when every part answers; 503 naming what is down."""
    result = check(redis)
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if not result.down else 503)
