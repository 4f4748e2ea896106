"""The FastAPI application: routers, error table, observability."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.responses import Response

from dispatch.categories import service as category_service
from grids import lookup as grid_lookup
from kernel import db
from kernel.logging import configure_logging
from kernel.ratelimit import AsyncRateLimiter
from kernel.redis import async_redis
from kernel.reference import References
from kernel.settings import get_settings
from service.api import console, docs, errors, metrics
from service.api.guard import InputGuardMiddleware
from service.api.middleware import ObservabilityMiddleware, metrics_response
from service.api.routes import (
    audit,
    auth,
    board,
    calendars,
    categories,
    events,
    grids,
    health,
    lifecycle,
    ogc,
    open311,
    patrols,
    photos,
    public,
    stats,
    supervision,
)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Per process: the async pool of the hot paths, the reporting rate limiter on an asyncio
    Redis client, and the in-memory reference data (grid map, categories) with the listener
    that drops a copy when it changes. Requests reach
    them as ``request.state.<key>`` (dependencies in service.api.deps and the domain views)."""
    references = References()
    state = {
        "grid_map": references.add("grid", grid_lookup.load_index),
        "categories": references.add("category", category_service.load_all),
    }
    conninfo = db.libpq_url(get_settings().database_url)
    try:
        async with (
            db.async_pool() as pool,
            async_redis() as redis,
            references.listening_task(conninfo),
        ):
            yield {"pool": pool, "limiter": AsyncRateLimiter(redis), **state}
    finally:
        metrics.process_exit()


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Wangge 网格化管理",
        version="0.1.0",
        description="Urban grid management: report, dispatch, escalate, review, measure.",
        lifespan=lifespan,
        generate_unique_id_function=docs.operation_id,
    )
    errors.install(app)
    app.openapi = docs.openapi_with_json_errors(app)  # type: ignore[method-assign]
    app.add_middleware(InputGuardMiddleware)  # inside: refusals still get a request id
    app.add_middleware(ObservabilityMiddleware)
    # Routes are matched in order: the phone's hot paths (lookup, reporting) come first.
    for module in (
        grids,
        events,
        health,
        auth,
        categories,
        calendars,
        photos,
        patrols,
        lifecycle,
        board,
        stats,
        supervision,
        audit,
        ogc,
        public,
        open311,
    ):
        app.include_router(module.router)
    app.include_router(console.router(settings))  # the browser console at /console/

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics.check_scraper)])
    def scrape() -> Response:
        return metrics_response()

    app.state.settings = settings
    return app


def app_factory() -> FastAPI:
    """Entry point for uvicorn (``--factory``): logging first, then the app."""
    configure_logging(get_settings().log_level)
    return create_app()
