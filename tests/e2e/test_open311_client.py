"""A third-party Open311 client against a real API server: civicbot's ``Open311Client``
(PyPI ``civicbot``, a GeoReport v2 client written for city endpoints, standard library only)
lists the services, reads a definition, files a request with a key and reads it back by id,
by token and in the list; an unknown key is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from sqlalchemy import Engine
from sqlmodel import Session

from dispatch.public import keys
from domain.intake import Channel
from kernel.uow import UnitOfWork
from tests.kit.events import GRID_01, interior_point
from tests.kit.servers import ApiServer, server_env


@pytest.fixture(scope="module")
def api(engine: Engine) -> Iterator[ApiServer]:
    server = ApiServer(server_env(os.environ["WANGGE_REDIS_URL"]))
    yield server
    server.close()


def _client(api: ApiServer, fmt: str = "json") -> Open311Client:
    endpoint = Endpoint(id="wangge", name="Wangge", base_url=f"{api.base}/open311/v2", write=True)
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0.0))
    return Open311Client(endpoint, transport=transport, fmt=fmt)


def test_civicbot_creates_and_reads_a_request(api: ApiServer, committed: Engine) -> None:
    with Session(committed) as session:
        issued = keys.issue(
            uow=UnitOfWork(session), name="civicbot", channel=Channel.PUBLIC, now=datetime.now(UTC)
        )
    lon, lat = interior_point(committed, GRID_01)
    client = _client(api)
    codes = {s["service_code"] for s in client.list_services()}
    assert {"exposed_garbage", "gas_safety"} <= codes
    definition = client.get_service_definition("gas_safety")
    assert definition["attributes"][0]["code"] == "gas_smell"

    sent = client.create_request(
        "exposed_garbage",
        dry_run=False,
        confirm="SEND",
        api_key=issued.key,
        validate_remote=True,
        lat=lat,
        lng=lon,
        address_string="新景楼小区东门",
        description="路边垃圾堆放",
        phone="13800138000",
    )
    (created,) = sent.response
    sid, token = created["service_request_id"], created["token"]
    got = client.get_request(sid)
    assert got is not None and got["service_request_id"] == sid
    assert got["status"] == "open" and got["service_code"] == "exposed_garbage"
    assert abs(got["lat"] - lat) < 1e-5 and "phone" not in got
    assert client.get_token(token) == [{"service_request_id": sid, "token": token}]
    listed = client.list_requests(service_code="exposed_garbage", status="open")
    assert sid in {r["service_request_id"] for r in listed}

    # a key the server does not know is refused, in the spec's error shape
    refused = _client(api)
    with pytest.raises(Exception, match="403"):
        refused.create_request(
            "exposed_garbage",
            dry_run=False,
            confirm="SEND",
            api_key="w311_unknown",
            lat=lat,
            lng=lon,
            description="x",
        )
