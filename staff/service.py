"""Users, sign-in with lockout, token issue/refresh/revoke, the roster loader."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from grids.models import Community, Grid
from kernel.errors import Invalid, TooManyRequests, Unauthorized
from kernel.settings import get_settings
from staff.models import GRID_ROLES, RefreshToken, Role, Staff, User
from staff.security import create_access_token, hash_password, verify_password


@dataclass(frozen=True)
class Principal:
    """Who is calling: what the access token says, enough for every role and object check."""

    user_id: int
    staff_id: int
    username: str
    role: Role
    grid_id: int | None
    community_id: int | None
    department: str | None

    def claims(self) -> dict[str, Any]:
        return {
            "uid": self.user_id,
            "sid": self.staff_id,
            "usr": self.username,
            "gid": self.grid_id,
            "cid": self.community_id,
            "dep": self.department,
        }

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
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


def _resolve_community(session: Session, community: str) -> Community:
    row = session.exec(
        select(Community).where(
            (col(Community.name) == community) | (col(Community.code) == community)
        )
    ).one_or_none()
    if row is None:
        raise Invalid({"field": "community", "msg": f"no community named {community!r}"})
    return row


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    name: str,
    grid_code: str | None = None,
    community: str | None = None,
    department: str | None = None,
    phone: str | None = None,
) -> User:
    """Create a staff record and its login; grid roles need a grid, departments a department."""
    if len(password) < 8:
        raise Invalid({"field": "password", "msg": "at least 8 characters"})
    if session.execute(select(col(User.id)).where(col(User.username) == username)).first():
        raise Invalid({"field": "username", "msg": f"{username!r} is taken"})
    grid_id = community_id = None
    if role in GRID_ROLES:
        if not grid_code:
            raise Invalid({"field": "grid", "msg": f"role {role} needs --grid"})
        grid = session.execute(select(Grid).where(col(Grid.code) == grid_code)).scalar_one_or_none()
        if grid is None:
            raise Invalid({"field": "grid", "msg": f"no grid with code {grid_code!r}"})
        grid_id, community_id = grid.id, grid.community_id
    elif role == Role.community:
        if not community:
            raise Invalid({"field": "community", "msg": "role community needs --community"})
        community_id = _resolve_community(session, community).id
    elif role == Role.department and not department:
        raise Invalid({"field": "department", "msg": "role department needs --department"})
    staff = Staff(
        name=name,
        phone=phone,
        role=role,
        grid_id=grid_id,
        community_id=community_id,
        department=department,
    )
    session.add(staff)
    session.flush()
    assert staff.id is not None
    user = User(username=username, password_hash=hash_password(password), staff_id=staff.id)
    session.add(user)
    session.flush()
    return user


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
        user_id=principal.user_id, role=principal.role.value, now=now, extra=principal.claims()
    )
    return TokenPair(access, refresh, int(settings.access_token_minutes * 60))


def sign_in(*, session: Session, username: str, password: str, now: datetime) -> TokenPair:
    """Check the password; N failures in a row lock the account for a while (per account).

    The failure counter is committed even though sign-in fails, so it survives the request.
    """
    settings = get_settings()
    user = session.execute(
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
        session.add(user)
        session.commit()
        raise Unauthorized("incorrect username or password")
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    tokens = issue_tokens(session, principal_for(session, user), now)
    session.commit()
    return tokens


def refresh(*, session: Session, token: str, now: datetime) -> TokenPair:
    """Rotate a refresh token: the old one is revoked, a new pair is issued."""
    row = session.execute(
        select(RefreshToken)
        .where(col(RefreshToken.token_hash) == _hash_token(token))
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("refresh token is invalid, expired or revoked")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("user is inactive")
    row.revoked_at = now
    session.add(row)
    tokens = issue_tokens(session, principal_for(session, user), now)
    session.commit()
    return tokens


def revoke(*, session: Session, token: str, user_id: int, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.token_hash) == _hash_token(token),
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    session.commit()


_DUMMY_HASH = hash_password("not-a-real-password")


def load_roster(*, session: Session, path: Path, password: str) -> dict[str, int]:
    """Create the roster's staff and logins; people already loaded (by username) are kept."""
    people = json.loads(path.read_text(encoding="utf-8"))["people"]
    existing = set(session.execute(select(col(User.username))).scalars())
    pw_hash = hash_password(password)  # one hash for all demo accounts: argon2 is slow on purpose
    grids = {g.code: g for g in session.execute(select(Grid)).scalars()}
    communities = {c.name: c for c in session.execute(select(Community)).scalars()}
    created = 0
    for p in people:
        if p["username"] in existing:
            continue
        role = Role(p["role"])
        grid = grids.get(p.get("grid_code") or "")
        if role in GRID_ROLES and grid is None:
            raise Invalid(
                {
                    "field": "grid_code",
                    "msg": f"{p['username']}: unknown grid {p.get('grid_code')!r}",
                }
            )
        community = communities.get(p.get("community") or "")
        staff = Staff(
            name=p["name"],
            phone=p.get("phone"),
            role=role,
            grid_id=grid.id if grid else None,
            community_id=grid.community_id if grid else (community.id if community else None),
            department=p.get("department"),
        )
        session.add(staff)
        session.flush()
        assert staff.id is not None
        session.add(User(username=p["username"], password_hash=pw_hash, staff_id=staff.id))
        created += 1
    session.flush()
    return {"people": len(people), "created": created}
