"""The foundation over HTTP on the real servers: health, metrics, request ids, the OpenAPI
document. PostGIS itself and the settings are in tests/integration/test_foundation.py."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis import Redis

from kernel.redis import write_heartbeat
from service.api.deps import redis_connection


def test_health_ok_lists_versions_redis_and_worker(client: TestClient, redis: Redis) -> None:
    write_heartbeat(redis, "test-worker", datetime.now(UTC))
    r = client.get("/api/v1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["down"] == []
    assert body["postgis"].startswith("3.")
    assert body["postgres"].startswith("15") or body["postgres"][:2].isdigit()
    assert body["redis"] is True
    assert body["worker_heartbeat"] is not None


def test_health_503_names_the_missing_worker(client: TestClient, redis: Redis) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 503
    assert r.json()["down"] == ["worker"]


def test_health_503_names_redis_when_it_is_down(app: FastAPI) -> None:
    closed = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    app.dependency_overrides[redis_connection] = lambda: closed
    with TestClient(app) as c:
        r = c.get("/api/v1/health")
    assert r.status_code == 503
    body = r.json()
    assert "redis" in body["down"] and body["redis"] is False
    assert body["postgis"] is not None  # the database is still reported


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    r = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = client.get("/api/v1/health").headers["x-request-id"]
    assert len(made) == 32


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/v1/grids/123456789012345")  # 401, but counted under its template
    text_ = client.get("/metrics").text
    assert "wangge_http_request_duration_seconds_bucket" in text_
    assert 'route="/api/v1/grids/{code}"' in text_


def test_openapi_document_is_served(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/api/v1/health" in doc["paths"]
    assert client.get("/docs").status_code == 200
