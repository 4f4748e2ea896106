"""The FastAPI application: routers, error table, observability."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response

from dispatch.board import views as board_views
from dispatch.categories import service as category_service
from dispatch.categories import views as category_views
from dispatch.events import views as event_views
from dispatch.lifecycle import views as lifecycle_views
from dispatch.patrols import views as patrol_views
from dispatch.photos import views as photo_views
from dispatch.stats import views as stats_views
from grids import service as grid_service
from grids import views as grid_views
from service import db, errors, health
from service.auth import views as auth_views
from service.observability import ObservabilityMiddleware, configure_logging, metrics_response
from service.reference import References
from service.settings import get_settings


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Per process: the async pool of the hot paths, and the in-memory reference data (grid
    map, categories) with the listener that drops a copy when it changes. Requests reach
    them as ``request.state.<key>`` (dependencies in service.deps and the domain views)."""
    references = References()
    state = {
        "grid_map": references.add("grid", grid_service.load_index),
        "categories": references.add("category", category_service.load_all),
    }
    conninfo = db.libpq_url(get_settings().database_url)
    async with db.async_pool() as pool, references.listening_task(conninfo):
        yield {"pool": pool, **state}


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Wangge 网格化管理",
        version="0.1.0",
        description="Urban grid management: report, dispatch, escalate, review, measure.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(ObservabilityMiddleware)
    # Routes are matched in order: the phone's hot paths (lookup, reporting) come first.
    app.include_router(grid_views.router)
    app.include_router(event_views.router)
    app.include_router(health.router)
    app.include_router(auth_views.router)
    app.include_router(category_views.router)
    app.include_router(photo_views.router)
    app.include_router(patrol_views.router)
    app.include_router(lifecycle_views.router)
    app.include_router(board_views.router)
    app.include_router(stats_views.router)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return metrics_response()

    app.state.settings = settings
    return app


def app_factory() -> FastAPI:
    """Entry point for uvicorn (``--factory``): logging first, then the app."""
    configure_logging(get_settings().log_level)
    return create_app()
