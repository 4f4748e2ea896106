"""Abuse limits of the public door: reports per client address and per API key, on the shared
rate limiter (``kernel.ratelimit``: one budget across API processes).

Redis down: the door fails open. A citizen's report must not be lost because the budget store
is away; the report is accepted and stored, a warning is logged and
``wangge_public_rate_limit_unavailable_total`` counts it, so an operator sees the limits were
not enforced. (Sign-in, by contrast, is a door that would fail closed.)
"""

from __future__ import annotations

import logging
from datetime import datetime

from prometheus_client import Counter
from redis import Redis
from redis.exceptions import RedisError

from kernel.errors import TooManyRequests
from kernel.ratelimit import Rate, RateLimiter
from kernel.settings import get_settings

log = logging.getLogger(__name__)

UNAVAILABLE = Counter(
    "wangge_public_rate_limit_unavailable_total",
    "Public reports accepted without a rate-limit check because Redis was unreachable",
)
REFUSED = Counter(
    "wangge_public_rate_limited_total",
    "Public reports refused by a rate limit, by limit",
    ["limit"],
)


def admit(redis: Redis, *, client_id: int, address: str, now: datetime) -> None:
    """Charge one report to the client address and to the key; ``TooManyRequests`` (429 with
    Retry-After) when either is over its rate. The address is checked first: one abusive
    address does not spend the whole key's budget (a hotline system posts from one address,
    so its key's rate is the one that matters there)."""
    settings = get_settings()
    limiter = RateLimiter(redis)
    checks = (
        ("address", address, Rate.parse(settings.public_rate_per_address)),
        ("key", str(client_id), Rate.parse(settings.public_rate_per_key)),
    )
    for scope, key, rate in checks:
        try:
            limiter.enforce(f"public:{scope}", key, rate, now)
        except TooManyRequests:
            REFUSED.labels(scope).inc()
            raise
        except RedisError as exc:
            UNAVAILABLE.inc()
            log.warning("public rate limits not enforced (Redis unreachable: %s)", exc)
            return
