"""Reads that may lag go to a real hot standby (``WANGGE_READ_DATABASE_URL``): statistics from
the replica equal the primary's once replay catches up, they are the replica's (stale while
its replay is paused), ``/api/v1/health`` reports its lag, and a replica that falls too far
behind or stops sends the reads back to the primary.

The primary and standby are private clusters (``tests.kit.replica``); two API processes share
the primary, one reading statistics from the standby and one without a replica."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, create_engine

from kernel.replica import ReadRoute
from kernel.settings import get_settings
from tests.kit.events import GRID_01, interior_point, report_body
from tests.kit.replica import Replication
from tests.kit.servers import ApiServer, server_env

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

TODAY = datetime.now(ZoneInfo(get_settings().timezone)).date()
YESTERDAY = TODAY - timedelta(days=1)
WINDOW = {"since": str(TODAY - timedelta(days=30)), "until": str(TODAY)}
ROUTES = ("/api/v1/stats/indicators", "/api/v1/stats/scorecard", "/api/v1/stats/resolution")


@pytest.fixture(scope="module")
def replication() -> Iterator[Replication]:
    history = ["simulate", "--bulk", "--days", "20", "--seed", "3", "--until", str(YESTERDAY)]
    pair = Replication(dict(os.environ), commands=[history])
    yield pair
    pair.close()


@pytest.fixture(scope="module")
def servers(replication: Replication) -> Iterator[tuple[ApiServer, ApiServer]]:
    base = server_env(os.environ["WANGGE_REDIS_URL"], WANGGE_DATABASE_URL=replication.primary.url())
    base.pop("WANGGE_READ_DATABASE_URL", None)
    reading = ApiServer(
        {**base, "WANGGE_READ_DATABASE_URL": replication.standby.url(),
         "WANGGE_READ_PROBE_SECONDS": "0", "WANGGE_READ_MAX_LAG_SECONDS": "30"}
    )  # fmt: skip
    try:
        plain = ApiServer(base)
    except BaseException:
        reading.close()
        raise
    yield reading, plain
    reading.close()
    plain.close()


def sign_in(server: ApiServer, username: str) -> dict[str, str]:
    r = httpx.post(
        server.base + "/api/v1/auth/token",
        data={"username": username, "password": get_settings().dev_password},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def evaluator(servers: tuple[ApiServer, ApiServer]) -> dict[str, str]:
    return sign_in(servers[1], "evaluator")


def report(server: ApiServer, engine: Engine) -> None:
    """A grid member's report in their grid, written on the primary."""
    body = report_body(interior_point(engine, GRID_01))
    r = httpx.post(
        server.base + "/api/v1/events", headers=sign_in(server, "g01m1"), json=body, timeout=30
    )
    assert r.status_code == 201, r.text


def figures(server: ApiServer, headers: dict[str, str]) -> dict[str, Any]:
    answers = {}
    for route in ROUTES:
        r = httpx.get(server.base + route, params=WINDOW, headers=headers, timeout=30)
        assert r.status_code == 200, (route, r.text)
        answers[route] = r.json()
    return answers


def replica_health(server: ApiServer) -> dict[str, Any]:
    body = httpx.get(server.base + "/api/v1/health", timeout=30).json()
    return dict(body["replica"])


def test_statistics_from_the_replica_equal_the_primary_once_replay_catches_up(
    replication: Replication, servers: tuple[ApiServer, ApiServer], evaluator: dict[str, str]
) -> None:
    reading, plain = servers
    replication.caught_up()
    state = replica_health(reading)
    assert state["configured"] and state["reachable"] and state["serving"], state
    assert state["lag_seconds"] == 0
    replicated = figures(reading, evaluator)
    assert replicated == figures(plain, evaluator)
    assert replicated["/api/v1/stats/indicators"]["indicators"], "an empty month proves nothing"
    assert not replica_health(plain)["configured"]


def test_statistics_are_read_on_the_replica_and_its_lag_is_reported(
    replication: Replication, servers: tuple[ApiServer, ApiServer], evaluator: dict[str, str]
) -> None:
    reading, plain = servers
    replication.caught_up()
    before = figures(plain, evaluator)
    with replication.standby.connect() as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            primary = create_engine(replication.primary.url())
            try:
                report(plain, primary)
            finally:
                primary.dispose()
            after = figures(plain, evaluator)
            assert after != before  # the primary sees the new days
            assert figures(reading, evaluator) == before  # the paused replica does not
            state = replica_health(reading)
            assert state["serving"] and state["lag_seconds"] > 0, state
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    replication.caught_up()
    assert figures(reading, evaluator) == after


def test_a_replica_too_far_behind_is_skipped(replication: Replication) -> None:
    """The lag bound, in process: with replay paused and the primary written to, the lag
    grows past a bound of 0.3 s and the route reads the primary; resumed, the replica again."""
    replica = create_engine(replication.standby.url())
    primary = create_engine(replication.primary.url())
    route = ReadRoute(replica, primary, max_lag=0.3, every=0)
    try:
        replication.caught_up()
        assert route.engine() is replica
        with replication.standby.connect() as standby, replication.primary.connect() as conn:
            standby.execute("SELECT pg_wal_replay_pause()")
            try:
                conn.execute("CREATE TABLE replica_probe_lag (x int)")
                time.sleep(0.6)
                state = route.state()
                assert not state.serving and state.lag_seconds is not None, state
                assert state.lag_seconds > 0.3 and "behind" in (state.reason or "")
                assert route.engine() is primary
            finally:
                standby.execute("SELECT pg_wal_replay_resume()")
                conn.execute("DROP TABLE replica_probe_lag")
        replication.caught_up()
        assert route.engine() is replica
    finally:
        replica.dispose()
        primary.dispose()


def test_a_stopped_replica_sends_reads_to_the_primary(
    replication: Replication, servers: tuple[ApiServer, ApiServer], evaluator: dict[str, str]
) -> None:
    """Last in the module: the standby stays stopped."""
    reading, plain = servers
    replication.caught_up()
    figures(reading, evaluator)  # the reading server holds replica connections in its pool
    replication.standby.stop()
    assert figures(reading, evaluator) == figures(plain, evaluator)
    state = replica_health(reading)
    assert not state["reachable"] and not state["serving"], state
    assert "not answering" in state["reason"]
