"""Races through the real app and connection pool (``get_session`` not overridden): the
per-stage photo limit, one photo for identical uploads, one patrol per client_id, and a
retried point batch that lands once."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text
from sqlmodel import Session

from kernel.settings import get_settings
from service.api.app import create_app
from tests.kit.events import register_event

Headers = Callable[[str], dict[str, str]]
N = 8


@pytest.fixture
def media_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    media = tmp_path / "media"
    monkeypatch.setattr(get_settings(), "media_dir", media)
    return media


def _race(n: int, call: Callable[[TestClient, int], Any]) -> list[Any]:
    app: FastAPI = create_app()
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        client = TestClient(app)
        barrier.wait()
        return call(client, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (i * 17 % 256, 90, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _event(committed: Engine) -> int:
    """A committed event of g01m1 (registered directly through the event store, so these
    races depend on the photo service only)."""
    with Session(committed) as session:
        event_id = register_event(
            session, datetime.now(UTC), "g01m1", category_code="exposed_garbage"
        )
        session.commit()
    return event_id


def test_twelve_concurrent_photos_attach_nine(
    committed: Engine, token_for: Headers, media_dir: Path
) -> None:
    headers = token_for("g01m1")
    event_id = _event(committed)
    photos = [_jpeg(i) for i in range(12)]

    def upload(client: TestClient, i: int) -> int:
        r = client.post(
            f"/api/v1/events/{event_id}/photos",
            headers=headers,
            files={"file": (f"{i}.jpg", photos[i], "image/jpeg")},
        )
        return int(r.status_code)

    statuses = sorted(_race(12, upload))
    assert statuses == [201] * 9 + [422] * 3
    with committed.connect() as conn:
        linked = conn.execute(
            text("SELECT count(*) FROM event_photo WHERE event_id = :e"), {"e": event_id}
        ).scalar_one()
    assert linked == 9


def test_identical_concurrent_uploads_are_one_photo(
    committed: Engine, token_for: Headers, media_dir: Path
) -> None:
    headers = token_for("g01m1")
    event_id = _event(committed)
    data = _jpeg(1)

    def upload(client: TestClient, _: int) -> tuple[int, int]:
        r = client.post(
            f"/api/v1/events/{event_id}/photos",
            headers=headers,
            files={"file": ("same.jpg", data, "image/jpeg")},
        )
        return r.status_code, r.json()["id"]

    results = _race(N, upload)
    assert sorted(s for s, _ in results) == [200] * (N - 1) + [201]
    assert len({pid for _, pid in results}) == 1
    with committed.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM photo")).scalar_one()
        links = conn.execute(text("SELECT count(*) FROM event_photo")).scalar_one()
    assert (rows, links) == (1, 1)
    files = [p for p in media_dir.rglob("*") if p.is_file() and "tmp" not in p.parent.name]
    assert [p.name for p in files] == [hashlib.sha256(data).hexdigest()]


def test_concurrent_starts_and_batch_retries_land_once(
    committed: Engine, token_for: Headers
) -> None:
    headers = token_for("g02m1")
    client_id = str(uuid.uuid4())

    def start(client: TestClient, _: int) -> tuple[int, int]:
        r = client.post("/api/v1/patrols", headers=headers, json={"client_id": client_id})
        return r.status_code, r.json()["id"]

    started = _race(N, start)
    assert sorted(s for s, _ in started) == [200] * (N - 1) + [201]
    (patrol_id,) = {pid for _, pid in started}

    now = datetime.now(UTC)
    batch = {
        "batch_id": str(uuid.uuid4()),
        "points": [
            {"lon": 118.17 + i * 1e-4, "lat": 39.67, "coord": "wgs84", "at": now.isoformat()}
            for i in range(50)
        ],
    }

    def send(client: TestClient, _: int) -> int:
        r = client.post(f"/api/v1/patrols/{patrol_id}/points", headers=headers, json=batch)
        return int(r.status_code)

    assert sorted(_race(N, send)) == [200] * (N - 1) + [201]
    with committed.connect() as conn:
        points = conn.execute(
            text("SELECT count(*) FROM patrol_point WHERE patrol_id = :p"), {"p": patrol_id}
        ).scalar_one()
        patrols = conn.execute(text("SELECT count(*) FROM patrol")).scalar_one()
    assert (points, patrols) == (50, 1)
