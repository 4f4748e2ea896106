"""The command centre's live change stream against a real API server: SSE messages fed by
Redis pub/sub after the relay, ids = audit ids, and resuming with Last-Event-ID replays what
was missed from PostgreSQL before going live."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis import Redis
from sqlalchemy import Engine
from sqlmodel import Session

from dispatch.engine import relay as relayer
from dispatch.lifecycle import actions, system
from domain.lifecycle import Action
from kernel.uow import UnitOfWork
from tests.kit.dispatch import principal, report, username_of
from tests.kit.events import GRID_01, GRID_02
from tests.kit.servers import ApiServer, server_env

Headers = Callable[[str], dict[str, str]]
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def api(engine: Engine) -> Iterator[ApiServer]:
    import os

    server = ApiServer(server_env(os.environ["WANGGE_REDIS_URL"]))
    yield server
    server.close()


class Listener:
    """Reads an SSE stream on a thread; parsed messages and comments land on a queue."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.items: queue.Queue[dict[str, Any] | str] = queue.Queue()
        self.stop = threading.Event()
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self.thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            self._read(url, headers)
        except httpx.HTTPError:
            if not self.stop.is_set():
                raise

    def _read(self, url: str, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(TIMEOUT, read=30)
        with httpx.stream("GET", url, headers=headers, timeout=timeout) as r:
            self.status = r.status_code
            fields: dict[str, str] = {}
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith(":"):
                    self.items.put(line[1:].strip())
                elif line == "":
                    if fields:
                        self.items.put({**fields, "data": json.loads(fields["data"])})
                    fields = {}
                else:
                    key, _, value = line.partition(": ")
                    fields[key] = value

    def next(self) -> dict[str, Any] | str:
        return self.items.get(timeout=TIMEOUT)

    def messages(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < n:
            item = self.next()
            if isinstance(item, dict):
                out.append(item)
        return out

    def wait_live(self) -> list[dict[str, Any]]:
        """Messages before the ': live' comment (the replay)."""
        replayed: list[dict[str, Any]] = []
        while True:
            item = self.next()
            if item == "live":
                return replayed
            if isinstance(item, dict):
                replayed.append(item)

    def close(self) -> None:
        self.stop.set()


def test_stream_is_live_and_resumes_with_last_event_id(
    api: ApiServer, committed: Engine, redis: Redis, token_for: Headers
) -> None:
    url = api.base + "/api/v1/dispatch/stream"
    live = Listener(url, token_for("dispatch1"))
    assert live.wait_live() == [] and live.status == 200
    now = datetime.now(UTC)
    with Session(committed, expire_on_commit=False) as session:
        event_id = report(session, "g01m1", now=now)
        decision = system.auto_dispatch(UnitOfWork(session), event_id, now)
        assert decision is not None and decision.state.assignee_id is not None
        handler = username_of(session, int(decision.state.assignee_id))
        relayer.relay_all(connection=redis)
        got = live.messages(2)
        live.close()
        assert [m["event"] for m in got] == ["change", "change"]
        assert [m["data"]["action"] for m in got] == ["register", "dispatch"]
        assert [int(m["id"]) for m in got] == [m["data"]["audit_id"] for m in got]
        assert (
            got[1]["data"]["to_status"] == "dispatched" and got[1]["data"]["event_id"] == event_id
        )
        first_id = int(got[0]["id"])

        # while nobody listens: the handler acknowledges
        actions.act(
            uow=UnitOfWork(session),
            principal=principal(session, handler),
            event_id=event_id,
            action=Action.ACKNOWLEDGE,
            request=actions.ActionRequest(),
            now=datetime.now(UTC),
        )
        relayer.relay_all(connection=redis)

    resumed = Listener(url, {**token_for("evaluator"), "Last-Event-ID": str(first_id)})
    replayed = resumed.wait_live()
    assert [m["data"]["action"] for m in replayed] == ["dispatch", "acknowledge"]
    assert [int(m["id"]) for m in replayed] == sorted(int(m["id"]) for m in replayed)
    assert all(int(m["id"]) > first_id for m in replayed)

    # then live again: a void by the command centre arrives once
    with Session(committed, expire_on_commit=False) as session:
        actions.act(
            uow=UnitOfWork(session),
            principal=principal(session, "dispatch2"),
            event_id=event_id,
            action=Action.VOID,
            request=actions.ActionRequest(note="重复"),
            now=datetime.now(UTC),
        )
    relayer.relay_all(connection=redis)
    (voided,) = resumed.messages(1)
    resumed.close()
    assert voided["data"]["action"] == "void" and voided["data"]["to_status"] == "voided"
    assert int(voided["id"]) > int(replayed[-1]["id"])


def test_messages_carry_the_event_and_filters_narrow_them(
    api: ApiServer, committed: Engine, redis: Redis, token_for: Headers
) -> None:
    url = api.base + "/api/v1/dispatch/stream"
    everything = Listener(url, token_for("dispatch1"))
    only_02 = Listener(f"{url}?grid={GRID_02}&kind=dispatch", token_for("dispatch1"))
    assert everything.wait_live() == [] and only_02.wait_live() == []
    now = datetime.now(UTC)
    with Session(committed, expire_on_commit=False) as session:
        in_01 = report(session, "g01m1", now=now)
        in_02 = report(session, "g02m1", now=now, grid=GRID_02)
        for event_id in (in_01, in_02):
            assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
        relayer.relay_all(connection=redis)
    got = everything.messages(4)
    (dispatched_02,) = only_02.messages(1)
    everything.close()
    only_02.close()
    assert sorted((m["data"]["event_id"], m["data"]["action"]) for m in got) == sorted(
        [(in_01, "register"), (in_01, "dispatch"), (in_02, "register"), (in_02, "dispatch")]
    )
    data = dispatched_02["data"]
    assert data["event_id"] == in_02 and data["action"] == "dispatch"
    assert data["grid"] == GRID_02 and data["community"] == GRID_02[:12]
    assert data["category"] == "exposed_garbage" and data["to_level"] == 0
    assert data["assignee_id"] is not None and data["due_at"] and data["ack_due_at"]
    assert data["ack_warn_at"] and data["resolve_warn_at"]  # the marks on its calendar
    assert only_02.items.empty(), "the filtered stream got something else"

    # a replay is filtered the same way and carries the same fields
    first = min(int(m["id"]) for m in got) - 1
    resumed = Listener(
        f"{url}?community={GRID_01[:12]}&level=0&kind=register",
        {**token_for("dispatch1"), "Last-Event-ID": str(first)},
    )
    replayed = resumed.wait_live()
    resumed.close()
    assert GRID_02[:12] == GRID_01[:12], "both grids are in 新景楼社区"
    assert [(m["data"]["event_id"], m["data"]["action"]) for m in replayed] == [
        (in_01, "register"), (in_02, "register")
    ]  # fmt: skip
    assert set(data) == set(replayed[0]["data"])


def test_stream_refuses_a_bad_last_event_id(api: ApiServer, token_for: Headers) -> None:
    r = httpx.get(
        api.base + "/api/v1/dispatch/stream",
        headers={**token_for("dispatch1"), "Last-Event-ID": "abc"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 422


def test_stream_without_redis_is_a_503_before_any_byte(engine: Engine, token_for: Headers) -> None:
    from tests.kit.servers import free_port

    server = ApiServer(server_env(f"redis://127.0.0.1:{free_port()}/0"))
    try:
        reply = httpx.get(
            server.base + "/api/v1/dispatch/stream", headers=token_for("dispatch1"), timeout=TIMEOUT
        )
        assert reply.status_code == 503
        assert "Redis" in json.dumps(reply.json()["detail"])
        unauthenticated = httpx.get(server.base + "/api/v1/dispatch/stream", timeout=TIMEOUT)
        assert unauthenticated.status_code == 401  # who asks is checked before Redis is
    finally:
        server.close()
