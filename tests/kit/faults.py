"""The fault tests' world (tests/integration/test_dispatch_faults.py and
tests/e2e/test_dispatch_faults.py): a category whose acknowledgement is due in two seconds,
Redis on the module's private ``redis-server`` (the ``private_redis`` fixture of
tests/conftest.py), a committing session, and what the tests count and wait for.

The fixtures are bound in each test module by name (``redis = faults.redis``): they replace the
test Redis database and the ``session`` of other modules there only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from redis import Redis
from sqlalchemy import Engine, text
from sqlmodel import Session

from kernel.settings import get_settings
from tests.kit.dispatch import ensure_category
from tests.kit.servers import PrivateRedis

ACK_2S = "zz_fault_ack2"
N = 100  # events a fault test reports


@pytest.fixture
def redis(private_redis: PrivateRedis) -> Iterator[Redis]:
    """The private server, started and empty."""
    if private_redis.proc is None:
        private_redis.start()
    client = private_redis.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def session(committed: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A committing session; the test category's seconds-long limits apply at level 0 only
    (levels above get an hour), so an escalation never cascades while a test looks on."""
    monkeypatch.setattr(
        get_settings(),
        "level_allowances",
        {0: {"multiplier": 1.0}, **{level: {"multiplier": 1800.0} for level in (1, 2, 3)}},
    )
    with Session(committed, expire_on_commit=False) as s:
        ensure_category(s, ACK_2S, ack_seconds=2, resolve_seconds=3600)
        yield s


def count(session: Session, sql: str, **params: object) -> int:
    """``sql``'s one number, read afresh (the session's transaction is ended first)."""
    session.rollback()
    return int(session.execute(text(sql), params).scalar_one())


def members(session: Session, n: int) -> list[tuple[str, str]]:
    """(username, grid code) of the first ``n`` grids' first members."""
    rows = session.execute(
        text(
            "SELECT u.username, g.code FROM users u JOIN staff s ON s.id = u.staff_id"
            " JOIN grid g ON g.id = s.grid_id WHERE u.username LIKE 'g%m1'"
            " ORDER BY g.code LIMIT :n"
        ),
        {"n": n},
    ).all()
    return [(str(u), str(c)) for u, c in rows]


def wait_until(instant: datetime) -> None:
    time.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))
