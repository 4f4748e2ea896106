"""The browser console at ``/console/``: its built files (``console/dist``, made by
``npm run build``), the single-page fallback for deep links, the run-time configuration the
page reads, and the Content-Security-Policy every console response carries.

The console talks only to the public API (``/api/v1``) on the same origin; nothing here knows
about events or users.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from kernel.settings import Settings

PREFIX = "/console"
#: Built assets carry a content hash in their name: cache them for a year.
_IMMUTABLE = "public, max-age=31536000, immutable"
_MISSING = (
    "<!doctype html><meta charset=utf-8><title>控制台未构建</title>"
    "<p>The console is not built: run <code>make run</code> (or <code>cd console &amp;&amp; "
    "npm ci &amp;&amp; npm run build</code>).</p>"
)


def tile_source(template: str | None) -> str | None:
    """The CSP source of a tile URL template: its scheme and host, with a ``{s}`` subdomain
    label widened to ``*`` (``https://webrd0{s}.is.autonavi.com/...`` →
    ``https://*.is.autonavi.com``)."""
    if not template:
        return None
    parts = urlsplit(template)
    if not parts.scheme or not parts.netloc:
        return None
    host = ".".join("*" if "{" in label else label for label in parts.netloc.split("."))
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    """Scripts, styles and connections from this origin only (no inline script, no eval);
    images also from ``data:``/``blob:`` (photos are fetched with the token and shown as blob
    URLs) and from the configured tile host."""
    tiles = tile_source(settings.console_tile_url)
    img = " ".join(filter(None, ("'self'", "data:", "blob:", tiles)))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {img}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


#: Text files worth compressing; built assets never change, so each is compressed once.
_COMPRESSIBLE = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@lru_cache(maxsize=256)
def _gzipped(path: Path, mtime_ns: int) -> bytes:
    return gzip.compress(path.read_bytes(), 6)


def _safe_file(root: Path, relative: str) -> Path | None:
    """The file under ``root`` that ``relative`` names, or None (no escaping the root)."""
    if not relative or ".." in Path(relative).parts:
        return None
    candidate = (root / relative).resolve()
    if not candidate.is_file() or root.resolve() not in candidate.parents:
        return None
    return candidate


def router(settings: Settings) -> APIRouter:
    """The console's routes, with its policy header on every answer."""
    root = settings.console_dir
    csp = content_security_policy(settings)
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    config = json.dumps(
        {
            "tile_url": settings.console_tile_url,
            "tile_coord": settings.console_tile_coord,
            "tile_attribution": settings.console_tile_attribution,
            "timezone": settings.timezone,
        },
        ensure_ascii=False,
    )
    api = APIRouter(prefix=PREFIX, include_in_schema=False)

    def index() -> Response:
        page = root / "index.html"
        if not page.is_file():
            return Response(_MISSING, status_code=503, media_type="text/html", headers=headers)
        return FileResponse(page, headers={**headers, "Cache-Control": "no-cache"})

    @api.api_route("", methods=["GET", "HEAD"])
    def bare() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=308, headers=headers)

    @api.api_route("/config.json", methods=["GET", "HEAD"])
    def run_time_config() -> Response:
        return Response(
            config, media_type="application/json", headers={**headers, "Cache-Control": "no-cache"}
        )

    @api.api_route("/{path:path}", methods=["GET", "HEAD"])
    def console_file(path: str, request: Request) -> Response:
        """A built file (scripts and styles gzipped when the browser accepts it), or the page
        itself for any other path (deep links: the page's own router reads the path). A
        missing asset is a 404, not the page."""
        found = _safe_file(root, path)
        if found is not None:
            cache = _IMMUTABLE if path.startswith("assets/") else "no-cache"
            media = _COMPRESSIBLE.get(found.suffix)
            if media and "gzip" in request.headers.get("accept-encoding", ""):
                body = _gzipped(found, found.stat().st_mtime_ns)
                extra = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
                return Response(
                    body, media_type=media, headers={**headers, **extra, "Cache-Control": cache}
                )
            return FileResponse(found, headers={**headers, "Cache-Control": cache})
        if re.match(r"^assets/|.*\.(js|css|map|png|svg|woff2?|ico)$", path):
            return Response("not found", status_code=404, headers=headers)
        return index()

    return api
