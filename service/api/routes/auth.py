"""Sign-in, refresh, sign-out, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from domain.roles import Role
from service.api.deps import AnyUser, Now, SessionDep, UowDep
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


@router.post("/token", response_model=TokenOut, responses=problems(401, 422, 429))
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], uow: UowDep, now: Now) -> TokenOut:
    """OAuth2 password flow. Five failures in a row lock the account for 15 minutes (429)."""
    return _out(auth.sign_in(uow=uow, username=form.username, password=form.password, now=now))


@router.post("/refresh", response_model=TokenOut, responses=problems(401, 422))
def refresh(body: RefreshIn, uow: UowDep, now: Now) -> TokenOut:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    return _out(auth.refresh(uow=uow, token=body.refresh_token, now=now))


@router.post("/logout", status_code=204, responses=problems(401, 422))
def logout(
    body: RefreshIn,
    uow: UowDep,
    now: Now,
    principal: AnyUser,
) -> None:
    """Revoke the refresh token (access tokens expire on their own, within minutes)."""
    auth.revoke(uow=uow, token=body.refresh_token, user_id=principal.user_id, now=now)


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
