"""``GET /api/v1/health``: whether PostgreSQL + PostGIS, Redis and the worker answer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from kernel.health import Health, check
from service.api.deps import RedisDep

router = APIRouter(tags=["health"])


@router.get(
    "/api/v1/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "a part is down; `down` names it"}},
)
def health(redis: RedisDep) -> JSONResponse:
    """200 when every part answers; 503 naming what is down."""
    result = check(redis)
    return JSONResponse(jsonable_encoder(result), status_code=200 if not result.down else 503)
