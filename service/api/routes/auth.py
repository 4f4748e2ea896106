"""Sign-in, refresh, sign-out, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from domain.roles import Role
from service.api.deps import (
    AnyUser,
    Now,
    RedisDep,
    SessionDep,
    UowDep,
    rate_limiter,
    source_of,
)
from service.api.docs import problems
from staff import auth

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="access token lifetime, seconds")


class RefreshIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "q3Zk…"}]})

    refresh_token: str = Field(min_length=10, max_length=200)


class MeOut(BaseModel):
    username: str
    staff_id: int = Field(
        description="the caller's staff record (what an event's assignee.id names)"
    )
    role: Role
    grid_code: str | None
    community: str | None
    department: str | None


def _out(t: auth.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=t.access_token, refresh_token=t.refresh_token, expires_in=t.expires_in
    )


@router.post("/token", response_model=TokenOut, responses=problems(401, 422, 429, 503))
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    uow: UowDep,
    now: Now,
) -> TokenOut:
    """OAuth2 password flow. Attempts are throttled per account and source address, with
    growing delays (429 with Retry-After); another address is not affected."""
    return _out(
        auth.sign_in(
            uow=uow,
            limiter=rate_limiter(),
            username=form.username,
            password=form.password,
            source=source_of(request),
            now=now,
        )
    )


@router.post("/refresh", response_model=TokenOut, responses=problems(401, 422))
def refresh(body: RefreshIn, uow: UowDep, redis: RedisDep, now: Now) -> TokenOut:
    """Exchange a refresh token for a new pair; the old refresh token stops working. Using
    it again revokes every token of that sign-in."""
    return _out(auth.refresh(uow=uow, redis=redis, token=body.refresh_token, now=now))


@router.post("/logout", status_code=204, responses=problems(401, 422))
def logout(
    body: RefreshIn,
    uow: UowDep,
    redis: RedisDep,
    now: Now,
    principal: AnyUser,
) -> None:
    """Sign out: the refresh token and every token of its sign-in stop working, access
    tokens within seconds."""
    auth.revoke(uow=uow, redis=redis, token=body.refresh_token, user_id=principal.user_id, now=now)


@router.get("/me", response_model=MeOut, responses=problems(401))
def me(session: SessionDep, principal: AnyUser) -> MeOut:
    grid_code, community = auth.workplace(session=session, principal=principal)
    return MeOut(
        username=principal.username,
        staff_id=principal.staff_id,
        role=principal.role,
        grid_code=grid_code,
        community=community,
        department=principal.department,
    )
