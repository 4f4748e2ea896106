"""Health for orchestrators and operators.

``/livez``: the process answers (restart it when not). ``/readyz``: it can serve, i.e.
PostgreSQL with PostGIS answers (send it traffic when so). ``/api/v1/health``: every part,
Redis and the worker's heartbeat included, for people and dashboards.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kernel.health import Health, Readiness, check, readiness
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


@router.get(
    "/api/v1/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "a part is down; `down` names it"}},
)
def health(redis: RedisDep) -> JSONResponse:
    """200 when every part answers; 503 naming what is down."""
    result = check(redis)
    return JSONResponse(jsonable_encoder(result), status_code=200 if not result.down else 503)
