"""Rate limits at the doors that take writes from people (docs/decisions/0008-hardening.md):
reporting, per account and per source address (sign-in's throttling lives in ``staff.auth``).
All use the one limiter, ``kernel.ratelimit``; 429 with Retry-After."""

from __future__ import annotations

import logging
from datetime import datetime

from redis.exceptions import RedisError
from starlette.requests import Request

from domain.jurisdiction import Principal
from kernel.ratelimit import AsyncRateLimiter, Bucket, Rate
from kernel.settings import get_settings
from service.api.deps import source_of

log = logging.getLogger(__name__)


def limiter_of(request: Request) -> AsyncRateLimiter:
    """The process's limiter on its asyncio Redis client (the app lifespan's state)."""
    limiter: AsyncRateLimiter = request.state.limiter
    return limiter


async def limit_reporting(request: Request, principal: Principal, now: datetime) -> None:
    """429 when the account or the source address reports faster than allowed: both buckets
    in one round trip, on the event loop (no thread hop on the hot path)."""
    settings = get_settings()
    try:
        decision = await limiter_of(request).check(
            now,
            Bucket(
                "report-account",
                str(principal.user_id),
                Rate.parse(settings.report_rate_per_account),
            ),
            Bucket(
                "report-source", source_of(request), Rate.parse(settings.report_rate_per_source)
            ),
        )
    except RedisError as exc:  # a report must not be lost to a limiter: fail open
        log.warning("reporting rate limit not checked (Redis: %s)", exc)
        return
    decision.enforce()
