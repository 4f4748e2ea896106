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

from kernel.ratelimit import Bucket, Rate, RateLimiter
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
    """Charge one report to the client address and to the key, both or neither;
    ``TooManyRequests`` (429 with Retry-After) when either is over its rate. A refused report
    spends no budget: one abusive address does not spend the whole key's (a hotline system
    posts from one address, so its key's rate is the one that matters there)."""
    settings = get_settings()
    address_bucket = Bucket("public:address", address, Rate.parse(settings.public_rate_per_address))
    key_bucket = Bucket("public:key", str(client_id), Rate.parse(settings.public_rate_per_key))
    try:
        decision = RateLimiter(redis).check(now, address_bucket, key_bucket)
    except RedisError as exc:
        UNAVAILABLE.inc()
        log.warning("public rate limits not enforced (Redis unreachable: %s)", exc)
        return
    if decision.refused_by is not None:
        REFUSED.labels("address" if decision.refused_by is address_bucket else "key").inc()
    decision.enforce()
