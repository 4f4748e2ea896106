"""Rate limits at the doors that take writes from people (docs/decisions/0008-hardening.md):
reporting, per account and per source address (sign-in's throttling lives in ``staff.auth``).
All use the one limiter, ``kernel.ratelimit``; 429 with Retry-After."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio.to_thread
from redis.exceptions import RedisError
from starlette.requests import Request

from domain.jurisdiction import Principal
from kernel.ratelimit import Rate
from kernel.settings import get_settings
from service.api.deps import rate_limiter, source_of

log = logging.getLogger(__name__)


def _enforce_reporting(user_id: int, source: str, now: datetime) -> None:
    settings = get_settings()
    limiter = rate_limiter()
    try:
        limiter.enforce(
            "report-account", str(user_id), Rate.parse(settings.report_rate_per_account), now
        )
        limiter.enforce("report-source", source, Rate.parse(settings.report_rate_per_source), now)
    except RedisError as exc:  # a report must not be lost to a limiter: fail open
        log.warning("reporting rate limit not checked (Redis: %s)", exc)


async def limit_reporting(request: Request, principal: Principal, now: datetime) -> None:
    """429 when the account or the source address reports faster than allowed. In a worker
    thread: Redis must not block the event loop of the hot path."""
    await anyio.to_thread.run_sync(_enforce_reporting, principal.user_id, source_of(request), now)
