"""A dispatch batch is one structured log line, with the event ids and the lag from the report,
with the worker's logging (RQ's own three or four lines per job are off)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import Engine
from sqlmodel import Session

from dispatch.engine import relay as relayer
from dispatch.engine.queue import get_dispatch_queue
from kernel.logging import configure_logging
from service.worker import RQ_LOGGING_LEVEL
from tests.kit.dispatch import report


@pytest.fixture
def deployed_logging() -> Iterator[None]:
    """Restores the logging that the test replaces with the worker's (``configure_logging``,
    called in the test itself: its handler must write to the stderr capsys holds then)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {n: logging.getLogger(n).level for n in ("rq.worker", "rq.job", "rq.scheduler")}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)


def test_one_line_per_dispatch(
    committed: Engine, redis: Redis, deployed_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(committed) as session:
        event_id = report(session, "g01m1", now=datetime.now(UTC))
    relayer.relay_all(connection=redis)
    configure_logging("INFO")
    capsys.readouterr()
    worker = SimpleWorker([get_dispatch_queue(redis)], connection=redis)
    worker.work(burst=True, with_scheduler=True, logging_level=RQ_LOGGING_LEVEL)
    err = capsys.readouterr().err.splitlines()
    lines = [json.loads(line) for line in err if line.startswith("{")]
    about = [entry for entry in lines if event_id in entry.get("event_ids", ())]
    assert [entry["msg"] for entry in about] == ["dispatched"], lines
    assert about[0]["logger"] == "wangge.dispatch" and about[0]["level"] == "info", about
    assert about[0]["events"] == 1 and 0 <= about[0]["lag_seconds_max"] < 60
    assert not [e for e in lines if e["logger"].startswith("rq.") and e["level"] == "info"]
