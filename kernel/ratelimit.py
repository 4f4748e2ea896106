"""Rate limits shared by every door (sign-in, staff reporting, public intake).

One algorithm, GCRA (the generic cell rate algorithm, a leaky bucket kept as one timestamp per key),
run atomically in Redis so that every API process sees the same budget. ``now`` is passed in, so
tests drive it with the injected clock instead of sleeping.

A request may be charged to several buckets at once (an account's and an address's), all or
nothing, in one round trip. Redis down: ``check`` raises ``redis.RedisError``; each caller
decides whether its door fails open (reporting must not be lost) or closed, and says so where
it calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from kernel.errors import TooManyRequests

KEY_PREFIX = "wangge:rate:"

# KEYS: the buckets; ARGV: now (ms), then per bucket its emission interval (ms) and burst.
# A bucket holds its theoretical arrival time (TAT); a request is allowed by a bucket when
# TAT + interval - burst * interval <= now. All or nothing: the request is charged to every
# bucket when all allow it, to none when one refuses (a refusal spends no budget). Returns
# {allowed, ms to wait for the slowest refusing bucket, the first refusing bucket (1-based)}.
_GCRA = """
local now = tonumber(ARGV[1])
local tats = {}
local wait, refused = 0, 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat + interval
  local allow_at = tats[i] - burst * interval
  if allow_at > now then
    if refused == 0 then refused = i end
    wait = math.max(wait, math.ceil(allow_at - now))
  end
end
if refused > 0 then
  return {0, wait, refused}
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tats[i], 'PX', math.ceil(tats[i] - now) + 1)
end
return {1, 0, 0}
"""


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``per_seconds``, with bursts up to ``count``."""

    count: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per_seconds <= 0:
            raise ValueError(f"a rate needs count >= 1 and a positive period, not {self}")

    @staticmethod
    @lru_cache(maxsize=64)
    def parse(text: str) -> Rate:
        """``"10/minute"``, ``"5/second"``, ``"20/30s"``: how settings spell rates."""
        count, slash, period = text.strip().partition("/")
        units = {
            "second": 1.0,
            "s": 1.0,
            "minute": 60.0,
            "min": 60.0,
            "m": 60.0,
            "hour": 3600.0,
            "h": 3600.0,
            "day": 86400.0,
            "d": 86400.0,
        }
        period = period.strip()
        digits = period.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = period[len(digits) :] or "s"
        if not slash or not count.strip().isdigit() or unit not in units:
            raise ValueError(f"not a rate: {text!r} (write e.g. '10/minute')")
        return Rate(int(count), float(digits or 1) * units[unit])


@dataclass(frozen=True)
class Bucket:
    """One budget a request is charged to: ``wangge:rate:<scope>:<key>`` at ``rate``."""

    scope: str
    key: str
    rate: Rate


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until the same request would be allowed; 0 when allowed
    refused_by: Bucket | None = None  # the first bucket that refused

    def enforce(self) -> None:
        """Raise ``TooManyRequests`` (a 429 with Retry-After) when refused."""
        if not self.allowed:
            wait = max(1, math.ceil(self.retry_after))
            raise TooManyRequests(
                [
                    {
                        "loc": [],
                        "msg": f"too many requests; retry in {wait} s",
                        "type": "rate_limited",
                    }
                ],
                retry_after=wait,
            )  # fmt: skip


def _script_args(buckets: tuple[Bucket, ...], now: datetime) -> tuple[list[str], list[float]]:
    args: list[float] = [int(now.timestamp() * 1000)]
    for bucket in buckets:
        args += [bucket.rate.per_seconds * 1000.0 / bucket.rate.count, bucket.rate.count]
    return [f"{KEY_PREFIX}{b.scope}:{b.key}" for b in buckets], args


def _decision(buckets: tuple[Bucket, ...], reply: list[int]) -> Decision:
    allowed, wait_ms, refused = (int(v) for v in reply)
    return Decision(bool(allowed), wait_ms / 1000.0, buckets[refused - 1] if refused else None)


class RateLimiter:
    """Buckets in Redis under ``wangge:rate:<scope>:<key>``, checked in one round trip."""

    def __init__(self, connection: Redis) -> None:
        self._redis = connection
        self._script = connection.register_script(_GCRA)

    def check(self, now: datetime, *buckets: Bucket) -> Decision:
        keys, args = _script_args(buckets, now)
        return _decision(buckets, self._script(keys=keys, args=args))

    def reset(self, scope: str, key: str) -> None:
        self._redis.delete(f"{KEY_PREFIX}{scope}:{key}")


class AsyncRateLimiter:
    """``RateLimiter`` on an asyncio Redis client: for the hot paths, which must not block
    their event loop nor pay a thread-pool hop."""

    def __init__(self, connection: AsyncRedis) -> None:
        self._script = connection.register_script(_GCRA)

    async def check(self, now: datetime, *buckets: Bucket) -> Decision:
        keys, args = _script_args(buckets, now)
        return _decision(buckets, await self._script(keys=keys, args=args))
