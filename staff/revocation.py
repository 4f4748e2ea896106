"""Access tokens that stop working before they expire: signing out (one sign-in's token family)
and deactivation (every token of the user) take effect within seconds.

Access tokens are JWTs checked without a database read, so a revocation is a mark in Redis
that lives as long as the longest access token could: ``wangge:auth:family:<family>`` (signed
out, or a refresh token replayed) and ``wangge:auth:user:<id>`` = the instant (ms) before
which every token of the user is void (deactivated). Each process remembers what it read for
``WANGGE_TOKEN_REVOCATION_RECHECK_SECONDS`` (a mark made by this very process applies at once).
Redis down: tokens are accepted (they still expire) and a warning is logged; the refresh
tokens' revocation is in PostgreSQL and does not depend on this.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from kernel.settings import get_settings

FAMILY_KEY = "wangge:auth:family:"
USER_KEY = "wangge:auth:user:"
_CACHE_MAX = 20_000

log = logging.getLogger(__name__)


def _ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


def _ttl_ms() -> int:
    return int((get_settings().access_token_minutes * 60 + 60) * 1000)


@dataclass(frozen=True)
class _Seen:
    user_void_before_ms: int
    family_revoked: bool
    at: float  # time.monotonic() of the read


class Revocations:
    """The revocation marks as this process last read them, per (user, family)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, str | None], _Seen] = {}

    def revoke_family(self, redis: Redis, family: str, now: datetime) -> None:
        redis.set(FAMILY_KEY + family, _ms(now), px=_ttl_ms())
        for key, seen in list(self._seen.items()):
            if key[1] == family:
                self._seen[key] = _Seen(seen.user_void_before_ms, True, seen.at)

    def revoke_user(self, redis: Redis, user_id: int, now: datetime) -> None:
        redis.set(USER_KEY + str(user_id), _ms(now), px=_ttl_ms())
        for key, seen in list(self._seen.items()):
            if key[0] == user_id:
                self._seen[key] = _Seen(_ms(now), seen.family_revoked, seen.at)
        self._seen[(user_id, None)] = _Seen(_ms(now), False, time.monotonic())

    def is_revoked(self, redis: Redis, *, user_id: int, family: str | None, issued_ms: int) -> bool:
        """Whether a token of ``user_id`` from ``family`` issued at ``issued_ms`` is void."""
        key = (user_id, family)
        seen = self._seen.get(key)
        recheck = get_settings().token_revocation_recheck_seconds
        if seen is None or time.monotonic() - seen.at >= recheck:
            user_mark = self._seen.get((user_id, None))
            try:
                raw_user, raw_family = redis.mget(
                    [USER_KEY + str(user_id), FAMILY_KEY + (family or "-")]
                )
            except RedisError as exc:
                log.warning("token revocations unreadable (Redis: %s); accepting tokens", exc)
                return False
            void_before = int(raw_user) if raw_user is not None else 0
            if user_mark is not None:  # a mark this process made, not yet seen in Redis
                void_before = max(void_before, user_mark.user_void_before_ms)
            if len(self._seen) >= _CACHE_MAX:
                self._seen.clear()
            seen = _Seen(void_before, raw_family is not None and family is not None,
                         time.monotonic())  # fmt: skip
            self._seen[key] = seen
        return seen.family_revoked or issued_ms <= seen.user_void_before_ms

    def forget(self) -> None:
        """Drop what was read (tests, and a Redis that was flushed)."""
        self._seen.clear()


#: The process's revocation marks.
REVOCATIONS = Revocations()
