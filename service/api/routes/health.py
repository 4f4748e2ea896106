"""``GET /api/v1/health``: whether PostgreSQL + PostGIS, Redis and the worker answer."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kernel.health import check
from service.api.deps import RedisDep


class HealthOut(BaseModel):
    status: str
    postgres: str | None
    postgis: str | None
    redis: bool
    worker_heartbeat: datetime | None
    worker_age_seconds: float | None
    down: list[str]


router = APIRouter(tags=["health"])


@router.get(
    "/api/v1/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a part is down; `down` names it"}},
)
def health(redis: RedisDep) -> JSONResponse:
    """200 when every part answers; 503 naming what is down."""
    result = check(redis)
    out = HealthOut(status=result.status, **asdict(result))
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if not result.down else 503)
