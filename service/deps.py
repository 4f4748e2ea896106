"""Dependencies named once: the session, the clock, the caller, and role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from psycopg_pool import AsyncConnectionPool
from redis import Redis
from sqlmodel import Session
from starlette.requests import Request

from service.auth.models import Role
from service.auth.security import decode_access_token
from service.auth.service import Principal
from service.db import get_engine
from service.errors import Forbidden, Unauthorized
from service.jobs import get_redis

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


async def get_now() -> datetime:
    """The clock; tests override this dependency to control time. Async: a plain function
    dependency would cost every request a thread-pool hop."""
    return datetime.now(UTC)


def redis_connection() -> Redis:
    return get_redis()


SessionDep = Annotated[Session, Depends(get_session)]
RedisDep = Annotated[Redis, Depends(redis_connection)]
Now = Annotated[datetime, Depends(get_now)]


async def read_pool(request: Request) -> AsyncConnectionPool:
    """The app's async read pool (service.db.read_pool_lifespan), for one-statement reads."""
    pool: AsyncConnectionPool = request.state.read_pool
    return pool


ReadPoolDep = Annotated[AsyncConnectionPool, Depends(read_pool)]


async def get_principal(token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    # async although it does no I/O: FastAPI runs sync dependencies in its thread pool,
    # which costs more than decoding the token does.
    if not token:
        raise Unauthorized("not authenticated: send 'Authorization: Bearer <access token>'")
    try:
        return Principal.from_claims(decode_access_token(token))
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise Unauthorized(f"invalid or expired access token ({exc})") from exc


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class RolesAllowed:
    """A route dependency naming the roles that may call it (kept on the route for the
    authorization-matrix test, which reads ``route.dependant`` to find it)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(f"role {principal.role} may not do this (allowed: {allowed})")
        return principal


ALL_ROLES = tuple(Role)
STAFF_WRITERS = tuple(r for r in Role if r is not Role.evaluator)


def allow(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    return RolesAllowed(*roles)
