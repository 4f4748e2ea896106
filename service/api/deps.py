"""Dependencies named once: the session and the unit of work, the clock, the caller, and role
checks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
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
from sqlmodel import Session
from starlette.requests import Request

from dispatch.categories.models import Category
from domain.jurisdiction import Principal
from domain.roles import Role
from grids.index import GridIndex
from grids.lookup import GridLocator
from kernel.clock import utc_now
from kernel.db import get_engine
from kernel.errors import Forbidden, Unauthorized
from kernel.redis import get_redis
from kernel.reference import ReferenceCache
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from staff.auth import principal_from_claims
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


def categories_of(request: Request) -> ReferenceCache[dict[str, Category]]:
    """The process's copy of the categories, by code (service.reference)."""
    cache: ReferenceCache[dict[str, Category]] = request.state.categories
    return cache


def grid_locator(request: Request) -> GridLocator:
    """The grid lookup of this process: its map copy and its pool."""
    return GridLocator(pool_of(request), grid_map_of(request))


def principal_from_token(token: str | None) -> Principal:
    """The caller of a bearer token, or ``Unauthorized``.

    A token is immutable, so once its signature is checked the caller it names is
    remembered per process (bounded LRU keyed by token and secret; nothing to agree on
    across processes); only the expiry is checked again on every use."""
    if not token:
        raise Unauthorized("not authenticated: send 'Authorization: Bearer <access token>'")
    try:
        principal, expires = _verified(token, get_settings().secret_key)
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise Unauthorized(f"invalid or expired access token ({exc})") from exc
    if expires <= time.time():
        raise Unauthorized("invalid or expired access token (Signature has expired)")
    return principal


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, float]:
    claims = decode_access_token(token, secret)
    return principal_from_claims(claims), float(claims["exp"])


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
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        principal = principal_from_token(token if scheme.lower() == "bearer" else None)
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(f"role {principal.role} may not do this (allowed: {allowed})")
        return principal


ALL_ROLES = tuple(Role)
STAFF_WRITERS = tuple(r for r in Role if r is not Role.EVALUATOR)

#: Anyone signed in.
AnyUser = Annotated[Principal, Depends(RolesAllowed(*ALL_ROLES))]
