"""Password hashing (argon2) and JWT access tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kernel.settings import get_settings

ALGORITHM = "HS256"


@lru_cache
def hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(
    *, user_id: int, role: str, now: datetime | None = None, extra: dict[str, Any] | None = None
) -> str:
    now = now or datetime.now(UTC)
    minutes = get_settings().access_token_minutes
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iat": int(now.timestamp()),
        "ims": int(now.timestamp() * 1000),  # issued, ms: compared with revocation marks
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "typ": "access",
        **(extra or {}),
    }
    return jwt.encode(claims, get_settings().secret_key, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict[str, Any]:
    """The token's claims, checked with ``secret``; raises jwt.PyJWTError when invalid,
    expired or not an access token. (service.api.deps remembers verified tokens, keyed by token
    and secret: see ``access_from_token``.)"""
    claims: dict[str, Any] = jwt.decode(
        token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
    )
    if claims.get("typ") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return claims
