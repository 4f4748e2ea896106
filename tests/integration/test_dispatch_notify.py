"""Notifications: outbox message → relay → RQ job with retries → webhook adapter, against a real
HTTP server on 127.0.0.1 that fails the first delivery with a 500."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.engine import jobs
from dispatch.engine import relay as relayer
from dispatch.engine.queue import get_dispatch_queue
from dispatch.lifecycle import system
from dispatch.notify import DeliveryFailed, NotificationMessage, WebhookAdapter
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.kit.dispatch import report
from tests.kit.dispatch import work as _work


class Receiver:
    """A tiny webhook endpoint: answers each request with the next planned status."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, Any], str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    (json.loads(body), self.headers.get("Idempotency-Key", ""))
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver([500])
    monkeypatch.setattr(get_settings(), "webhook_url", r.url)
    monkeypatch.setattr(get_settings(), "webhook_retry_intervals", [1, 1, 1])
    yield r
    r.close()


def test_assignment_notice_reaches_the_webhook_after_a_retry(
    committed: Engine, redis: Redis, receiver: Receiver
) -> None:
    now = datetime.now(UTC)
    with Session(committed, expire_on_commit=False) as session:
        event_id = report(session, "g01m1", now=now)
        decision = system.auto_dispatch(UnitOfWork(session), event_id, now)
        assert decision is not None
        notify_id = session.execute(
            text("SELECT id FROM outbox WHERE event_id = :e AND topic = 'notify'"),
            {"e": event_id},
        ).scalar_one()
    relayer.relay_all(connection=redis)
    assert f"notify-{notify_id}" in get_dispatch_queue(redis).job_ids

    _work(redis)  # first attempt: 500 → failed, retry scheduled in 1 s
    assert len(receiver.received) == 1
    deadline = time.monotonic() + 10
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
        _work(redis)  # RQ's scheduler moves the retry to the queue once due
    assert len(receiver.received) == 2, "delivered on the retry"
    (first, key1), (second, key2) = receiver.received
    assert first == second and key1 == key2 == f"wangge-notify-{notify_id}"
    assert second["type"] == "assigned" and second["event_id"] == event_id
    assert second["recipients"] == [decision.state.assignee_id]
    assert second["id"] == notify_id and second["level"] == 0


def test_without_an_adapter_notifications_are_not_queued(committed: Engine, redis: Redis) -> None:
    assert get_settings().webhook_url is None
    now = datetime.now(UTC)
    with Session(committed, expire_on_commit=False) as session:
        event_id = report(session, "g01m1", now=now)
        assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
    relayer.relay_all(connection=redis)
    queued = get_dispatch_queue(redis).job_ids
    assert not [j for j in queued if j.startswith("notify-")]
    assert jobs.notify_job(1) == "no adapter configured"


def test_webhook_adapter_raises_on_refusal_and_on_network_errors(receiver: Receiver) -> None:
    message = NotificationMessage(id=7, type="warning", event_id=1, recipients=["3"])
    with pytest.raises(DeliveryFailed, match="500"):
        WebhookAdapter(receiver.url).deliver(message)
    WebhookAdapter(receiver.url).deliver(message)
    assert [m for m, _ in receiver.received][-1]["type"] == "warning"
    with pytest.raises(DeliveryFailed):
        WebhookAdapter("http://127.0.0.1:1/hook", timeout_seconds=1).deliver(message)
