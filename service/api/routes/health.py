"""Health for orchestrators and operators.

``/livez``: the process answers (restart it when not). ``/readyz``: it can serve, i.e.
PostgreSQL with PostGIS answers (send it traffic when so). ``/api/v1/health``: every part,
Redis, the worker's heartbeat and the read replica's lag included, for people and dashboards.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from dispatch.outbox import backlog
from kernel.db import get_engine
from kernel.health import Readiness, check, readiness
from kernel.replica import read_route
from service.api.deps import RedisDep

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: str = "alive"


@router.get("/livez", response_model=Alive)
def livez() -> Alive:
    """200 while the process serves requests; asks nothing of PostgreSQL or Redis."""
    return Alive()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL or PostGIS is down"}},
)
def readyz() -> JSONResponse:
    """200 when PostgreSQL with PostGIS answers; Redis and the worker may be down (reports
    are still stored, the outbox catches up)."""
    result = readiness()
    return JSONResponse(jsonable_encoder(result), status_code=503 if result.down else 200)


class OutboxTopic(BaseModel):
    topic: str
    pending: int = Field(description="not yet handed to Redis")
    failing: int = Field(description="pending rows that failed at least once (kept until handled)")
    oldest_at: datetime | None


class ReplicaOut(BaseModel):
    configured: bool = Field(description="WANGGE_READ_DATABASE_URL is set")
    reachable: bool
    lag_seconds: float | None = Field(description="how far behind the primary it serves")
    max_lag_seconds: float
    serving: bool = Field(description="statistics and exports read it now (else the primary)")
    reason: str | None = Field(description="why it is skipped, when it is")


class HealthOut(BaseModel):
    status: str
    postgres: str | None
    postgis: str | None
    redis: bool
    worker_heartbeat: datetime | None
    worker_age_seconds: float | None
    down: list[str]
    outbox: list[OutboxTopic] = Field(description="the relay's backlog per topic")
    replica: ReplicaOut = Field(
        description="the read replica; not being served is degraded, not down: reads that may "
        "lag go back to the primary"
    )


@router.get(
    "/api/v1/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a part is down; `down` names it"}},
)
def health(redis: RedisDep) -> JSONResponse:
    """200 when every part answers; 503 naming what is down. The outbox's backlog is shown,
    not judged: a backlog grows while Redis is down and drains when it returns."""
    result = check(redis)
    body = jsonable_encoder(result)
    if "postgres" not in result.down:
        with Session(get_engine()) as session:
            body["outbox"] = jsonable_encoder(backlog(session))
    else:
        body["outbox"] = []
    body["replica"] = jsonable_encoder(read_route().state(fresh=True))
    return JSONResponse(body, status_code=200 if not result.down else 503)
