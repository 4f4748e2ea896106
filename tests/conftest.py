"""Test fixtures on the real servers, for every folder of tests.

The folders say what a test touches (tests/README.md):

- ``tests/unit/``: no I/O (no database, Redis, processes or network), pure domain and pure
  helpers; needs none of these fixtures.
- ``tests/integration/``: the real PostgreSQL, Redis and worker (jobs in-process, or
  ``wangge worker`` as a process), calling services, the store, jobs and the engine directly;
  no HTTP (no ``client``/``app``/``token_for``, no API server).
- ``tests/e2e/``: through HTTP: ``client`` (FastAPI's TestClient on the test's transaction),
  the API under uvicorn (``tests.kit.servers``), schemathesis. Set up through services and
  checked over HTTP is e2e.

Helpers shared by the folders live in ``tests/kit/`` (one module a subject); fixtures more than
one folder needs are defined here, once.

The session builds a fresh test database (dropped and re-created, PostGIS created,
migrations applied, reference data loaded). Each test then runs in a transaction that
is rolled back (``db``), or, when it needs commits other connections can see, on
``committed`` which truncates the mutable tables afterwards. Redis tests use a
database number of their own, flushed around each test (``private_redis`` is a throw-away
``redis-server`` instead, for tests that stop it or FLUSHALL). Time is injected (``clock``).
``make_event`` registers an event without HTTP (``tests.kit.events.register_event``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from kernel.db import libpq_url

if TYPE_CHECKING:
    from tests.kit.events import MakeEvent
    from tests.kit.servers import PrivateRedis

START_HINT = "run `make test` (it bootstraps the servers), or start them: see README.md"

# Tables whose rows tests create; reference data (grids, roster, categories) stays loaded.
MUTABLE_TABLES: list[str] = [
    "refresh_token",
    "event_audit",
    "audit_day_head",
    "event_photo",
    "photo",
    "outbox",
    "patrol_point",
    "patrol",
    "public_report",
    "event",
    "api_client",
]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs ``-n``), each worker gets a database and a Redis
    database number of its own, derived from the configured ones, before anything reads the
    settings: worker ``gwN`` uses ``<name>_gwN_test`` and Redis database ``<number> - N``.
    Subprocesses (API, worker) inherit them through the environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    index = int(worker[2:])
    db, redis = os.environ.get("WANGGE_DATABASE_URL", ""), os.environ.get("WANGGE_REDIS_URL", "")
    if db and str(make_url(db).database).endswith("_test"):
        name = str(make_url(db).database).removesuffix("_test")
        url = make_url(db).set(database=f"{name}_{worker}_test")
        os.environ["WANGGE_DATABASE_URL"] = url.render_as_string(hide_password=False)
    if redis:
        parts = urlsplit(redis)
        number = int(parts.path.strip("/") or 0) - index
        if number < 0:
            pytest.exit(f"Redis database {parts.path} leaves none for xdist worker {worker}", 2)
        os.environ["WANGGE_REDIS_URL"] = parts._replace(path=f"/{number}").geturl()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked ``heavy`` (tens of seconds of processes, a browser, a replica) run first,
    so that under ``--dist loadfile`` the longest start at once instead of last on one worker."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def _test_urls() -> tuple[str, str]:
    db = os.environ.get("WANGGE_DATABASE_URL", "")
    redis = os.environ.get("WANGGE_REDIS_URL", "")
    if not db or not make_url(db).database or not str(make_url(db).database).endswith("_test"):
        pytest.exit(
            f"WANGGE_DATABASE_URL must name a *_test database (got {db!r}); {START_HINT}", 2
        )
    if not redis:
        pytest.exit(f"WANGGE_REDIS_URL is not set; {START_HINT}", 2)
    return db, redis


def _recreate_database(url: str) -> None:
    name = make_url(url).database
    try:
        with psycopg.connect(libpq_url(url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable ({exc}); {START_HINT}", 2)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    db_url, redis_url = _test_urls()
    os.environ.setdefault("WANGGE_ENV", "test")
    _recreate_database(db_url)
    from alembic import command
    from service.cli import alembic_config
    from service.loading import load_all

    command.upgrade(alembic_config(db_url), "head")
    load_all()
    eng = create_engine(db_url, pool_size=10, max_overflow=20)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        trans = conn.begin()
        yield conn
        trans.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """A session whose commits are savepoints inside a transaction rolled back afterwards."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """For tests whose writes must be visible to other connections (threads, the worker)."""
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis() -> Iterator[Redis]:
    _, url = _test_urls()
    conn = Redis.from_url(url, socket_connect_timeout=2)
    try:
        conn.flushdb()
    except RedisError as exc:
        pytest.exit(f"Redis is not reachable at {url} ({exc}); {START_HINT}", 2)
    yield conn
    conn.flushdb()


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    """A throw-away ``redis-server`` of the module's own (``tests.kit.servers.PrivateRedis``),
    started: tests may stop, restart and FLUSHALL it without touching anyone else's data."""
    from tests.kit.servers import PrivateRedis

    server = PrivateRedis()
    server.start()
    yield server
    server.close()


@dataclass
class Clock:
    """A settable clock injected through the ``get_now`` dependency."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_event(db: Session, clock: Clock) -> MakeEvent:
    """``make_event("g01m1", assignee="g01m2")`` → the id of a registered (or dispatched) event
    in the reporter's grid, written on ``db`` without HTTP."""
    from tests.kit.events import register_event

    def create(reporter: str = "g01m1", *, assignee: str | None = None) -> int:
        return register_event(db, clock.now, reporter, assignee=assignee)

    return create


class SessionPool:
    """The async pool's interface (``connection()`` → ``execute`` → ``fetchone``/``fetchall``)
    over the test session's connection: the hot paths' statements join the test's transaction
    (rolled back afterwards) and see what the test wrote in it, like every other route."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[_SyncConnection]:
        raw = self._session.connection().connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        yield _SyncConnection(raw)


class _SyncConnection:
    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self._raw = raw

    async def execute(self, query: Any, params: Any = None) -> _SyncCursor:
        return _SyncCursor(self._raw.execute(query, params))


class _SyncCursor:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


def forget_limits_and_revocations() -> None:
    """Rate-limit buckets and token revocations of earlier tests (in the test Redis db) and
    this process's memory of them: each test starts with full budgets."""
    from kernel.ratelimit import KEY_PREFIX
    from staff.revocation import FAMILY_KEY, REVOCATIONS, USER_KEY

    _, url = _test_urls()
    conn = Redis.from_url(url, socket_connect_timeout=2)
    try:
        for prefix in (KEY_PREFIX, FAMILY_KEY, USER_KEY):
            keys = list(conn.scan_iter(match=prefix + "*", count=1000))
            if keys:
                conn.delete(*keys)
    except RedisError as exc:
        pytest.exit(f"Redis is not reachable at {url} ({exc}); {START_HINT}", 2)
    finally:
        conn.close()
    REVOCATIONS.forget()


@pytest.fixture
def app(engine: Engine, db: Session, clock: Clock) -> FastAPI:
    """The app on the test's transaction: sessions are ``db``, and the hot paths' pool (the
    lifespan's ``pool``) is ``SessionPool(db)``; the clock is injected."""
    from service.api.app import create_app
    from service.api.deps import get_now, get_read_session, get_session, get_sessions

    application = create_app()
    real_lifespan = application.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with real_lifespan(app) as state:
            yield {**(state or {}), "pool": SessionPool(db)}

    application.router.lifespan_context = lifespan
    application.dependency_overrides[get_session] = lambda: db
    application.dependency_overrides[get_read_session] = lambda: db
    application.dependency_overrides[get_sessions] = lambda: lambda: nullcontext(db)
    application.dependency_overrides[get_now] = clock
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client on this machine (127.0.0.1: an operator address, so /metrics answers it)."""
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture
def token_for(engine: Engine) -> Callable[[str], dict[str, str]]:
    """``token_for("g01m1")`` → Authorization headers for a roster account (no argon2 cost)."""
    from sqlmodel import col, select

    from staff.auth import claims_of, principal_for
    from staff.models import User
    from staff.security import create_access_token

    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            with Session(engine) as session:
                user = session.exec(select(User).where(col(User.username) == username)).one()
                p = principal_for(session, user)
            token = create_access_token(user_id=p.user_id, role=p.role.value, extra=claims_of(p))
            cache[username] = {"Authorization": f"Bearer {token}"}
        return cache[username]

    return headers
