"""HTTP observability: a request id in and out, one access-log line, Prometheus metrics by
route template (a change stream's duration is not a latency: it is left out of the histogram);
and the headers every reply carries: ``X-Content-Type-Options: nosniff``, and
``Cache-Control: no-store`` on the API's (unless the route set its own)."""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from functools import lru_cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.logging import request_id_var
from service.api.metrics import exposition

REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is used (logged, echoed) only when it is a plain token: letters, digits
# and ``._:-``, at most 64; anything else is replaced by one made here.
_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Replies that must not be stored by browsers or proxies (API data, health, metrics); the
# console's static files keep their own caching.
_NO_STORE_PREFIXES = ("/api/", "/metrics", "/livez", "/readyz", "/openapi.json", "/docs")
REQUESTS = Counter("wangge_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "wangge_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def _route_template(scope: Scope) -> str:
    # Starlette records the matched route in the scope once routing has run.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


access_log = logging.getLogger("wangge.access")


# Request ids made here: 32 hex digits, a random prefix per process and a counter (unique
# without asking the OS for randomness on every request).
_ID_PREFIX = uuid.uuid4().hex[:12]
_id_counter = itertools.count(1)


@lru_cache(maxsize=1024)
def _request_counter(method: str, route: str, status: int) -> Any:
    return REQUESTS.labels(method, route, str(status))


@lru_cache(maxsize=512)
def _latency(method: str, route: str) -> Any:
    return LATENCY.labels(method, route)


class ObservabilityMiddleware:
    """Pure ASGI middleware: request id in and out, one access-log line, metrics by route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = (
            sent.decode("ascii")
            if sent is not None and _VALID_ID.fullmatch(sent)
            else f"{_ID_PREFIX}{next(_id_counter):020x}"
        )
        api = scope["path"].startswith(_NO_STORE_PREFIXES)
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500
        streaming = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                streaming = any(
                    k == b"content-type" and v.startswith(b"text/event-stream")
                    for k, v in message.get("headers", ())
                )
                headers = [*message.get("headers", ()), (b"x-request-id", rid.encode("ascii"))]
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_template(scope)
            method = scope["method"]
            _request_counter(method, route, status).inc()
            if not streaming:  # a change stream lasts as long as its client: no latency
                _latency(method, route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": method,
                            "path": scope["path"],
                            "route": route,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                        }
                    },
                )
            request_id_var.reset(token)


def metrics_response() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
