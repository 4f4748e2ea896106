"""The shared GCRA limiter against the real Redis, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from kernel.errors import TooManyRequests
from kernel.ratelimit import Rate, RateLimiter

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_burst_then_steady_rate(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(10, 60)  # one every 6 s, bursts of 10
    assert all(limiter.check("t", "a", rate, T0).allowed for _ in range(10))
    refused = limiter.check("t", "a", rate, T0)
    assert not refused.allowed and refused.retry_after == pytest.approx(6.0, abs=0.01)
    assert not limiter.check("t", "a", rate, T0 + timedelta(seconds=5.9)).allowed
    assert limiter.check("t", "a", rate, T0 + timedelta(seconds=6)).allowed
    # other keys and scopes have budgets of their own
    assert limiter.check("t", "b", rate, T0).allowed
    assert limiter.check("u", "a", rate, T0).allowed


def test_refusals_do_not_spend_the_budget(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(2, 10)
    assert limiter.check("t", "k", rate, T0).allowed
    assert limiter.check("t", "k", rate, T0).allowed
    for _ in range(50):
        assert not limiter.check("t", "k", rate, T0 + timedelta(seconds=1)).allowed
    assert limiter.check("t", "k", rate, T0 + timedelta(seconds=5)).allowed


def test_enforce_raises_with_retry_after_and_reset_clears(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(1, 30)
    limiter.enforce("t", "x", rate, T0)
    with pytest.raises(TooManyRequests) as caught:
        limiter.enforce("t", "x", rate, T0 + timedelta(seconds=10))
    assert caught.value.retry_after == 20
    limiter.reset("t", "x")
    limiter.enforce("t", "x", rate, T0 + timedelta(seconds=10))


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/minute", Rate(10, 60)),
        ("5/second", Rate(5, 1)),
        ("20/30s", Rate(20, 30)),
        ("100/hour", Rate(100, 3600)),
        ("3/2h", Rate(3, 7200)),
    ],
)
def test_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["ten/minute", "10/fortnight", "0/minute", "10"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Rate.parse(text)
