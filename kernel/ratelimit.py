"""Rate limits shared by every door (sign-in, staff reporting, public intake).

One algorithm, GCRA (the generic cell rate algorithm, a leaky bucket kept as one timestamp per key),
run atomically in Redis so that every API process sees the same budget. ``now`` is passed in, so
tests drive it with the injected clock instead of sleeping.

Redis down: ``check`` raises ``redis.RedisError``; each caller decides whether its door fails open
(reporting must not be lost) or closed, and says so where it calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from kernel.errors import TooManyRequests

KEY_PREFIX = "wangge:rate:"

# KEYS[1]: the bucket; ARGV: now (ms), emission interval (ms), burst (requests), cost.
# The bucket holds the theoretical arrival time (TAT); a request is allowed when
# TAT - (burst - cost) * interval <= now.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1)
return {1, 0}
"""


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``per_seconds``, with bursts up to ``count``."""

    count: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per_seconds <= 0:
            raise ValueError(f"a rate needs count >= 1 and a positive period, not {self}")

    @classmethod
    def parse(cls, text: str) -> Rate:
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
        return cls(int(count), float(digits or 1) * units[unit])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until the same request would be allowed; 0 when allowed


class RateLimiter:
    """Buckets in Redis under ``wangge:rate:<scope>:<key>``."""

    def __init__(self, connection: Redis) -> None:
        self._redis = connection
        self._script = connection.register_script(_GCRA)

    def check(self, scope: str, key: str, rate: Rate, now: datetime, cost: int = 1) -> Decision:
        interval_ms = rate.per_seconds * 1000.0 / rate.count
        allowed, wait_ms = self._script(
            keys=[f"{KEY_PREFIX}{scope}:{key}"],
            args=[int(now.timestamp() * 1000), interval_ms, rate.count, cost],
        )
        return Decision(bool(allowed), int(wait_ms) / 1000.0)

    def enforce(self, scope: str, key: str, rate: Rate, now: datetime) -> None:
        """``check``, raising ``TooManyRequests`` (a 429 with Retry-After) when over the rate."""
        decision = self.check(scope, key, rate, now)
        if not decision.allowed:
            raise TooManyRequests(
                [
                    {
                        "loc": [],
                        "msg": f"too many requests; retry in {math.ceil(decision.retry_after)} s",
                        "type": "rate_limited",
                    }
                ],
                retry_after=max(1, math.ceil(decision.retry_after)),
            )

    def reset(self, scope: str, key: str) -> None:
        self._redis.delete(f"{KEY_PREFIX}{scope}:{key}")
