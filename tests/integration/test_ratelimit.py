"""The shared GCRA limiter against the real Redis, with time passed in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from kernel.errors import TooManyRequests
from kernel.ratelimit import AsyncRateLimiter, Bucket, Decision, Rate, RateLimiter

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_burst_then_steady_rate(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(10, 60)  # one every 6 s, bursts of 10
    assert all(limiter.check(T0, Bucket("t", "a", rate)).allowed for _ in range(10))
    refused = limiter.check(T0, Bucket("t", "a", rate))
    assert not refused.allowed and refused.retry_after == pytest.approx(6.0, abs=0.01)
    assert not limiter.check(T0 + timedelta(seconds=5.9), Bucket("t", "a", rate)).allowed
    assert limiter.check(T0 + timedelta(seconds=6), Bucket("t", "a", rate)).allowed
    # other keys and scopes have budgets of their own
    assert limiter.check(T0, Bucket("t", "b", rate)).allowed
    assert limiter.check(T0, Bucket("u", "a", rate)).allowed


def test_refusals_do_not_spend_the_budget(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(2, 10)
    assert limiter.check(T0, Bucket("t", "k", rate)).allowed
    assert limiter.check(T0, Bucket("t", "k", rate)).allowed
    for _ in range(50):
        assert not limiter.check(T0 + timedelta(seconds=1), Bucket("t", "k", rate)).allowed
    assert limiter.check(T0 + timedelta(seconds=5), Bucket("t", "k", rate)).allowed


def test_enforce_raises_with_retry_after_and_reset_clears(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    rate = Rate(1, 30)
    limiter.check(T0, Bucket("t", "x", rate)).enforce()
    with pytest.raises(TooManyRequests) as caught:
        limiter.check(T0 + timedelta(seconds=10), Bucket("t", "x", rate)).enforce()
    assert caught.value.retry_after == 20
    limiter.reset("t", "x")
    limiter.check(T0 + timedelta(seconds=10), Bucket("t", "x", rate)).enforce()


def test_several_buckets_all_or_nothing(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    account, address = Bucket("t", "account", Rate(5, 60)), Bucket("t", "address", Rate(2, 60))
    assert limiter.check(T0, account, address).allowed
    assert limiter.check(T0, account, address).allowed
    refused = limiter.check(T0, account, address)
    assert not refused.allowed and refused.refused_by == address
    assert refused.retry_after == pytest.approx(30.0, abs=0.01)
    # the refusal charged the account nothing: three more fit in its burst of five
    assert all(limiter.check(T0, account).allowed for _ in range(3))
    both = limiter.check(T0, account, address)
    assert both.refused_by == account and both.retry_after == pytest.approx(30.0, abs=0.01)


def test_the_async_limiter_shares_the_buckets(redis: Redis) -> None:
    from redis.asyncio import Redis as AsyncRedis

    where = redis.get_connection_kwargs()
    rate = Rate(2, 10)

    async def first_and_third() -> tuple[bool, Decision]:
        client = AsyncRedis(host=where["host"], port=where["port"], db=where["db"])
        try:
            limiter = AsyncRateLimiter(client)
            first = await limiter.check(T0, Bucket("t", "shared", rate))
            assert RateLimiter(redis).check(T0, Bucket("t", "shared", rate)).allowed
            return first.allowed, await limiter.check(T0, Bucket("t", "shared", rate))
        finally:
            await client.aclose()

    allowed, refused = asyncio.run(first_and_third())
    assert allowed and not refused.allowed
    assert refused.retry_after == pytest.approx(5.0, abs=0.01)


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
