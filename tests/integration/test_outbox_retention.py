"""Outbox retention on the real database: processed rows older than the retention go, in
batches; pending and failing rows stay until handled, and the health page shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from dispatch.engine.tasks import expire_outbox
from dispatch.outbox import PURGE_BATCH
from kernel.settings import get_settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _rows(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [
            (str(p), int(a))
            for p, a in conn.execute(
                text("SELECT payload->>'label', attempts FROM outbox ORDER BY id")
            )
        ]


def test_expired_processed_rows_go_and_unhandled_ones_stay(
    committed: Engine, client: TestClient
) -> None:
    retention = timedelta(days=get_settings().outbox_retention_days)
    old = NOW - retention - timedelta(hours=1)
    expired = PURGE_BATCH * 2 + 7  # more than one batch
    with committed.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox (topic, payload, created_at, available_at, processed_at,"
                " attempts) SELECT 'notify', '{\"label\": \"expired\"}', :old, :old, :old, 0"
                " FROM generate_series(1, :n)"
            ),
            {"old": old, "n": expired},
        )
        for label, processed, attempts in (
            ("recent", NOW - retention + timedelta(hours=1), 0),
            ("failing", None, 3),
            ("pending", None, 0),
        ):
            conn.execute(
                text(
                    "INSERT INTO outbox (topic, payload, created_at, available_at, processed_at,"
                    " attempts, last_error) VALUES ('notify', jsonb_build_object('label',"
                    " CAST(:label AS text)), :at, :at, :processed, :attempts, :error)"
                ),
                {"label": label, "at": old - timedelta(days=30), "processed": processed,
                 "attempts": attempts, "error": "webhook 500" if attempts else None},
            )  # fmt: skip

    assert expire_outbox(NOW) == expired
    assert _rows(committed) == [("recent", 0), ("failing", 3), ("pending", 0)]
    assert expire_outbox(NOW) == 0

    body = client.get("/api/v1/health").json()
    notify = next(t for t in body["outbox"] if t["topic"] == "notify")
    assert (notify["pending"], notify["failing"]) == (2, 1)
