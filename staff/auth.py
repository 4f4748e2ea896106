"""Signing in: passwords checked with a lockout, access tokens (JWT) naming the caller, refresh
tokens rotated on use and revoked on sign-out."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from domain.jurisdiction import Principal
from domain.roles import Role
from grids.models import Community, Grid
from kernel.errors import TooManyRequests, Unauthorized
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from staff.models import RefreshToken, Staff, User
from staff.security import create_access_token, hash_password, verify_password


def claims_of(principal: Principal) -> dict[str, Any]:
    """What an access token says of its bearer (besides ``sub`` and ``role``)."""
    return {
        "uid": principal.user_id,
        "sid": principal.staff_id,
        "usr": principal.username,
        "gid": principal.grid_id,
        "cid": principal.community_id,
        "dep": principal.department,
    }


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    return Principal(
        user_id=int(claims["uid"]),
        staff_id=int(claims["sid"]),
        username=str(claims["usr"]),
        role=Role(claims["role"]),
        grid_id=claims.get("gid"),
        community_id=claims.get("cid"),
        department=claims.get("dep"),
    )


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def principal_for(session: Session, user: User) -> Principal:
    staff = session.get(Staff, user.staff_id)
    assert staff is not None and user.id is not None and staff.id is not None
    return Principal(
        user_id=user.id,
        staff_id=staff.id,
        username=user.username,
        role=staff.role,
        grid_id=staff.grid_id,
        community_id=staff.community_id,
        department=staff.department,
    )


def workplace(*, session: Session, principal: Principal) -> tuple[str | None, str | None]:
    """The caller's grid code and community name, when they have them."""
    grid_code = community = None
    if principal.grid_id is not None:
        grid_code = session.execute(
            select(col(Grid.code)).where(col(Grid.id) == principal.grid_id)
        ).scalar()
    if principal.community_id is not None:
        community = session.execute(
            select(col(Community.name)).where(col(Community.id) == principal.community_id)
        ).scalar()
    return grid_code, community


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_tokens(session: Session, principal: Principal, now: datetime) -> TokenPair:
    settings = get_settings()
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash_token(refresh),
            user_id=principal.user_id,
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    access = create_access_token(
        user_id=principal.user_id, role=principal.role.value, now=now, extra=claims_of(principal)
    )
    return TokenPair(access, refresh, int(settings.access_token_minutes * 60))


def sign_in(*, uow: UnitOfWork, username: str, password: str, now: datetime) -> TokenPair:
    """Check the password; N failures in a row lock the account for a while (per account).

    The failure counter is committed even though sign-in fails, so it survives the request.
    """
    settings = get_settings()
    user = uow.session.execute(
        select(User).where(col(User.username) == username).with_for_update()
    ).scalar_one_or_none()
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)  # same cost as a real check: no user enumeration
        raise Unauthorized("incorrect username or password")
    if user.locked_until and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyRequests(
            f"account locked after {settings.login_max_failures} failed sign-ins; "
            f"try again in {wait} s",
            retry_after=wait,
        )
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
            user.failed_logins = 0
        uow.session.add(user)
        uow.commit()
        raise Unauthorized("incorrect username or password")
    user.failed_logins = 0
    user.locked_until = None
    uow.session.add(user)
    tokens = issue_tokens(uow.session, principal_for(uow.session, user), now)
    uow.commit()
    return tokens


def refresh(*, uow: UnitOfWork, token: str, now: datetime) -> TokenPair:
    """Rotate a refresh token: the old one is revoked, a new pair is issued."""
    row = uow.session.execute(
        select(RefreshToken)
        .where(col(RefreshToken.token_hash) == _hash_token(token))
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("refresh token is invalid, expired or revoked")
    user = uow.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("user is inactive")
    row.revoked_at = now
    uow.session.add(row)
    tokens = issue_tokens(uow.session, principal_for(uow.session, user), now)
    uow.commit()
    return tokens


def revoke(*, uow: UnitOfWork, token: str, user_id: int, now: datetime) -> None:
    uow.session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.token_hash) == _hash_token(token),
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    uow.commit()


_DUMMY_HASH = hash_password("not-a-real-password")
