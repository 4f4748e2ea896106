"""Signing in: passwords checked with throttling per account and source, access tokens (JWT)
naming the caller, refresh tokens rotated on use (a replayed one revokes its family) and revoked
on sign-out, logins deactivated (docs/decisions/0008-hardening.md)."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import update
from sqlmodel import Session, col, select

from domain.jurisdiction import Principal
from domain.roles import Role
from grids.models import Community, Grid
from kernel.errors import NotFound, TooManyRequests, Unauthorized, Unavailable, field_error
from kernel.ratelimit import Bucket, Rate, RateLimiter
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from staff.models import RefreshToken, Staff, User
from staff.revocation import REVOCATIONS
from staff.security import create_access_token, hash_password, verify_password

log = logging.getLogger(__name__)


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


def issue_tokens(
    session: Session, principal: Principal, now: datetime, family: str | None = None
) -> TokenPair:
    """A new access token and refresh token; ``family`` is the sign-in the refresh token
    continues (a new one when None)."""
    settings = get_settings()
    family = family or secrets.token_hex(16)
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash_token(refresh),
            user_id=principal.user_id,
            family=family,
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    access = create_access_token(
        user_id=principal.user_id,
        role=principal.role.value,
        now=now,
        extra={**claims_of(principal), "fam": family},
    )
    return TokenPair(access, refresh, int(settings.access_token_minutes * 60))


def _signin_key(username: str, source: str) -> str:
    """One bucket per account name (known or not: no enumeration) and source address."""
    return hashlib.sha256(f"{username.casefold()}\n{source}".encode()).hexdigest()[:32]


def _throttle_sign_in(limiter: RateLimiter, *, username: str, source: str, now: datetime) -> str:
    """Refuse (429) when this source has tried too often, for this account (growing delays:
    each tier of ``signin_failure_rates`` is a slower rate) or for any account
    (``signin_rate_per_source``). Every attempt let through counts (a refused one spends
    nothing); a success empties the account's
    buckets for this source. Another source is not affected: the right password from there
    works. Redis down: sign-in is refused (503) rather than left unthrottled."""
    settings = get_settings()
    key = _signin_key(username, source)
    buckets = (
        Bucket("signin-source", source, Rate.parse(settings.signin_rate_per_source)),
        *(
            Bucket(f"signin-{tier}", key, Rate.parse(rate))
            for tier, rate in enumerate(settings.signin_failure_rates)
        ),
    )
    try:
        decision = limiter.check(now, *buckets)
    except RedisError as exc:
        raise Unavailable(
            [{"loc": [], "msg": "sign-in is unavailable for a moment; retry shortly",
              "type": "unavailable"}]
        ) from exc  # fmt: skip
    if decision.refused_by is not None and decision.refused_by is not buckets[0]:
        wait = max(1, math.ceil(decision.retry_after))
        raise TooManyRequests(
            [{"loc": [], "msg": f"too many sign-in attempts; retry in {wait} s",
              "type": "rate_limited"}],
            retry_after=wait,
        )  # fmt: skip
    decision.enforce()
    return key


def sign_in(
    *,
    uow: UnitOfWork,
    limiter: RateLimiter,
    username: str,
    password: str,
    source: str,
    now: datetime,
) -> TokenPair:
    """Check the password, throttled per account and source (``_throttle_sign_in``). Unknown
    and known usernames get the same answers, at the same cost."""
    key = _throttle_sign_in(limiter, username=username, source=source, now=now)
    user = uow.session.execute(
        select(User).where(col(User.username) == username)
    ).scalar_one_or_none()
    if user is None or not user.is_active:
        verify_password(_dummy_hash(), password)  # same cost as a real check: no user enumeration
        raise Unauthorized("incorrect username or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("incorrect username or password")
    for tier in range(len(get_settings().signin_failure_rates)):
        limiter.reset(f"signin-{tier}", key)
    tokens = issue_tokens(uow.session, principal_for(uow.session, user), now)
    uow.commit()
    return tokens


def _revoke_family(session: Session, family: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family) == family, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def _revoke_access(redis: Redis, family: str, now: datetime) -> None:
    try:
        REVOCATIONS.revoke_family(redis, family, now)
    except RedisError as exc:  # the refresh tokens are revoked; access tokens expire
        log.warning("could not mark token family revoked in Redis: %s", exc)


def refresh(*, uow: UnitOfWork, redis: Redis, token: str, now: datetime) -> TokenPair:
    """Rotate a refresh token: the old one is revoked, a new pair of the same family issued.

    A refresh token used a second time was copied: the whole family (every token of that
    sign-in, and its access tokens) is revoked, for whoever holds them."""
    row = uow.session.execute(
        select(RefreshToken)
        .where(col(RefreshToken.token_hash) == _hash_token(token))
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.expires_at <= now:
        raise Unauthorized(INVALID_REFRESH)
    if row.revoked_at is not None:
        _revoke_family(uow.session, row.family, now)
        uow.commit()
        _revoke_access(redis, row.family, now)
        raise Unauthorized(INVALID_REFRESH)
    user = uow.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized(INVALID_REFRESH)
    row.revoked_at = now
    uow.session.add(row)
    tokens = issue_tokens(uow.session, principal_for(uow.session, user), now, family=row.family)
    uow.commit()
    return tokens


def revoke(*, uow: UnitOfWork, redis: Redis, token: str, user_id: int, now: datetime) -> None:
    """Sign out: the refresh token's family (this sign-in) is revoked, its access tokens with
    it (within seconds, ``staff.revocation``). Other sign-ins of the user are not affected."""
    family = uow.session.execute(
        select(col(RefreshToken.family)).where(
            col(RefreshToken.token_hash) == _hash_token(token),
            col(RefreshToken.user_id) == user_id,
        )
    ).scalar_one_or_none()
    if family is None:
        return
    _revoke_family(uow.session, family, now)
    uow.commit()
    _revoke_access(redis, family, now)


def deactivate(*, uow: UnitOfWork, redis: Redis, username: str, now: datetime) -> User:
    """Deactivate a login: no sign-in, no refresh, and its access tokens stop working within
    seconds (``staff.revocation``)."""
    user: User | None = uow.session.execute(
        select(User).where(col(User.username) == username).with_for_update()
    ).scalar_one_or_none()
    if user is None or user.id is None:
        raise NotFound(field_error("username", f"no user named {username!r}", "not_found"))
    user.is_active = False
    uow.session.add(user)
    uow.session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    uow.commit()
    REVOCATIONS.revoke_user(redis, user.id, now)
    return user


INVALID_REFRESH = "refresh token is invalid, expired or revoked"


@cache
def _dummy_hash() -> str:
    """Hashed on first use, not at import: every process that imports the app (the API's,
    the worker, each CLI command) would otherwise pay one argon2 hash to start."""
    return hash_password("not-a-real-password")
