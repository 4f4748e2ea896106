"""Dependencies named once: the session and the unit of work, the clock, the caller, and role
checks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated

import anyio.to_thread
import jwt
from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from psycopg_pool import AsyncConnectionPool
from redis import Redis
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.requests import Request

from dispatch.categories.service import Catalogue
from domain.jurisdiction import Principal
from domain.roles import Role
from grids.index import GridIndex
from grids.lookup import GridLocator
from kernel.clock import utc_now
from kernel.db import get_engine
from kernel.errors import Forbidden, Unauthorized
from kernel.ratelimit import RateLimiter
from kernel.redis import get_redis
from kernel.reference import ReferenceCache
from kernel.replica import read_route
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from staff.auth import principal_from_claims
from staff.revocation import REVOCATIONS
from staff.security import decode_access_token

TOKEN_URL = "/api/v1/auth/token"


async def get_session() -> AsyncIterator[Session]:
    """A session per request. Async, so it costs no thread-pool hops: making a session takes
    no connection (one is checked out when first used, in the route's thread); closing one
    that holds a connection (a rollback round trip) runs in a worker thread."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


@contextmanager
def _own_session() -> Iterator[Session]:
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def get_read_session() -> Iterator[Session]:
    """A session for reads that may lag a little (statistics, exports, drill-downs): on the
    replica while it answers and keeps up, else on the primary (``kernel.replica``). Its
    connection is taken here, so a replica that stopped since the last probe is noticed and
    skipped now rather than failing the request. Sync: it runs in the route's thread."""
    route = read_route()
    engine = route.engine()
    try:
        connection = engine.connect()
    except OperationalError:
        if engine is get_engine():
            raise
        route.state(fresh=True)  # the replica went away: say so at once, read the primary
        connection = get_engine().connect()
    session = Session(bind=connection, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        connection.close()


async def get_sessions() -> Callable[[], AbstractContextManager[Session]]:
    """Sessions on demand, for a route whose usual path needs none (the report: one statement
    on the async pool; only a resent or linked report reads through a session). Each
    ``with sessions() as session`` is a session of its own, closed after (tests override this
    to hand out theirs)."""
    return _own_session


async def get_uow(session: Annotated[Session, Depends(get_session)]) -> UnitOfWork:
    """The request's unit of work, on its session: what a route does not commit is rolled
    back when the session closes."""
    return UnitOfWork(session)


async def get_now() -> datetime:
    """The clock; tests override this dependency to control time. Async: a plain function
    dependency would cost every request a thread-pool hop."""
    return utc_now()


def redis_connection() -> Redis:
    return get_redis()


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
Sessions = Annotated[Callable[[], AbstractContextManager[Session]], Depends(get_sessions)]
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
RedisDep = Annotated[Redis, Depends(redis_connection)]
Now = Annotated[datetime, Depends(get_now)]


# The hot paths' per-process objects (the app lifespan's state). Plain functions, not
# dependencies: the lookup and report routes call them themselves, which spares FastAPI
# solving a dependency per object on every request (ADR 0005). Tests put a ``SessionPool``
# in the state instead of the pool.


def pool_of(request: Request) -> AsyncConnectionPool:
    """The app's async pool (kernel.db.async_pool), for the one-statement hot paths."""
    pool: AsyncConnectionPool = request.state.pool
    return pool


def grid_map_of(request: Request) -> ReferenceCache[GridIndex]:
    """The process's copy of the grid map (service.reference)."""
    cache: ReferenceCache[GridIndex] = request.state.grid_map
    return cache


def categories_of(request: Request) -> ReferenceCache[Catalogue]:
    """The process's copy of the categories, by code (service.reference)."""
    cache: ReferenceCache[Catalogue] = request.state.categories
    return cache


def grid_locator(request: Request) -> GridLocator:
    """The grid lookup of this process: its map copy and its pool."""
    return GridLocator(pool_of(request), grid_map_of(request))


@dataclass(frozen=True)
class Access:
    """A verified access token: its caller, when it expires (epoch s), the sign-in it belongs
    to (``family``, None for tokens made outside a sign-in) and when it was issued (epoch ms)."""

    principal: Principal
    expires: float
    family: str | None
    issued_ms: int


INVALID_TOKEN = "invalid or expired access token"


def access_from_token(token: str | None) -> Access:
    """The verified access token, or ``Unauthorized`` (with one generic text: what was wrong
    with a token is not the caller's business).

    A token is immutable, so once its signature is checked it is remembered per process
    (bounded LRU keyed by token and secret); the expiry is checked again on every use, and
    the revocations (sign-out, deactivation) as ``staff.revocation`` says."""
    if not token:
        raise Unauthorized("not authenticated: send 'Authorization: Bearer <access token>'")
    try:
        access = _verified(token, get_settings().secret_key)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized(INVALID_TOKEN) from exc
    if not still_valid(access):
        raise Unauthorized(INVALID_TOKEN)
    return access


def still_valid(access: Access) -> bool:
    """Not expired and not revoked (a change stream asks again while it runs)."""
    if access.expires <= time.time():
        return False
    return not REVOCATIONS.is_revoked(
        get_redis(),
        user_id=access.principal.user_id,
        family=access.family,
        issued_ms=access.issued_ms,
    )


def bearer_token(request: Request) -> str | None:
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return token if scheme.lower() == "bearer" else None


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> Access:
    claims = decode_access_token(token, secret)
    family = claims.get("fam")
    return Access(
        principal=principal_from_claims(claims),
        expires=float(claims["exp"]),
        family=str(family) if family is not None else None,
        issued_ms=int(claims.get("ims", int(claims.get("iat", 0)) * 1000)),
    )


def source_of(request: Request) -> str:
    """The client's address (behind a proxy: what uvicorn's ``--forwarded-allow-ips`` let
    through from ``X-Forwarded-For``), the 'source' of per-source rate limits."""
    return request.client.host if request.client else "unknown"


def rate_limiter() -> RateLimiter:
    return RateLimiter(get_redis())


class RolesAllowed(OAuth2PasswordBearer):
    """A route dependency naming the roles that may call it (kept on the route for the
    authorization-matrix test, which reads ``route.dependant`` to find it).

    It is the OAuth2 password-bearer scheme itself (so OpenAPI shows the scheme and /docs can
    sign in) and reads the header in the same call: one dependency per request instead of a
    scheme, a principal and a role check. Async although it does no I/O: FastAPI runs sync
    dependencies in its thread pool, which costs more than the check does."""

    def __init__(self, *roles: Role) -> None:
        super().__init__(tokenUrl=TOKEN_URL, scheme_name="OAuth2PasswordBearer")
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = access_from_token(bearer_token(request)).principal
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(f"role {principal.role} may not do this (allowed: {allowed})")
        return principal


ALL_ROLES = tuple(Role)
STAFF_WRITERS = tuple(r for r in Role if r is not Role.EVALUATOR)

#: Anyone signed in.
AnyUser = Annotated[Principal, Depends(RolesAllowed(*ALL_ROLES))]
