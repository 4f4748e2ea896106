"""Engine and session factory; the one place that knows how to reach PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Column, DateTime, Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Field, Session, create_engine

from kernel.settings import get_settings


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    return create_engine(
        url or settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


@lru_cache
def get_read_engine() -> Engine:
    """The replica's engine (``WANGGE_READ_DATABASE_URL``); ``kernel.replica.read_route``
    decides when to use it. A short connect timeout: an unreachable replica is skipped."""
    settings = get_settings()
    assert settings.read_database_url, "WANGGE_READ_DATABASE_URL is not set"
    return create_engine(
        settings.read_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 2},
    )


@asynccontextmanager
async def async_pool() -> AsyncIterator[AsyncConnectionPool]:
    """The API's psycopg async pool (autocommit, statements prepared on first use) for the hot
    paths that run one statement and need no ORM session: the grid lookup, the report. One
    per process (each uvicorn worker), opened and closed by the app's lifespan."""
    settings = get_settings()
    pool = AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=0,
        max_size=settings.db_pool_size,
        # Generic plans: these statements are planned once per connection. With the default
        # (auto) PostgreSQL kept re-planning the report statement and the statistics
        # trigger's statements for every execution (custom plans looked no dearer).
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "options": "-c plan_cache_mode=force_generic_plan",
        },
        open=False,
    )
    await pool.open()
    try:
        yield pool
    finally:
        await pool.close()


def server_versions(session: Session) -> tuple[str, str | None]:
    """PostgreSQL version and PostGIS version (None when the extension is missing)."""
    pg = session.execute(text("SHOW server_version")).scalar_one()
    postgis = session.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    ).scalar_one_or_none()
    return str(pg), postgis


def xact_lock(session: Session, key: str) -> None:
    """Wait for, then hold until the transaction ends, the advisory lock named ``key``
    (re-entrant within a transaction)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def libpq_url(url: str, database: str | None = None) -> str:
    """The SQLAlchemy URL as a libpq URL (for psycopg.connect), optionally another database."""
    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def timestamp_field(nullable: bool = True, index: bool = False) -> Any:
    """A ``timestamptz`` column (instants are stored in UTC, shown in the service's zone)."""
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


#: Rows whose ``{geom}`` (SRID 4326) meets the bounding box of ``bbox_params``; every row when
#: no box was given.
BBOX_FILTER = (
    "(NOT CAST(:bbox AS boolean)"
    " OR ST_Intersects({geom}, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)))"
)


def bbox_params(bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The parameters of ``BBOX_FILTER`` for a (min lon, min lat, max lon, max lat) box."""
    minx, miny, maxx, maxy = bbox or (0.0, 0.0, 0.0, 0.0)
    return {"bbox": bbox is not None, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under ``session``, in its transaction: for the statements that
    want psycopg itself (binary results, COPY, its statement cache) rather than the ORM."""
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw
