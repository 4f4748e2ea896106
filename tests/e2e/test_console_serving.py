"""How the API serves the console (``service.api.console``): the built files, the single-page
fallback for deep links, a 404 for a missing asset, the run-time configuration, and the
Content-Security-Policy on every answer (a configured tile host added to ``img-src`` only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kernel.settings import Settings
from service.api import console


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>控制台</title>", encoding="utf-8")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    return tmp_path


def _client(settings: Settings) -> TestClient:
    app = FastAPI()
    app.include_router(console.router(settings))
    return TestClient(app)


def test_files_fallback_and_headers(built: Path) -> None:
    client = _client(Settings(console_dir=built))
    page = client.get("/console/")
    assert page.status_code == 200 and "控制台" in page.text
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "http" not in csp
    for deep in ("/console/events/12", "/console/map", "/console/evaluation?tab=x"):
        answer = client.get(deep)
        assert answer.status_code == 200 and "控制台" in answer.text, deep
    asset = client.get("/console/assets/index-abc.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert "content-security-policy" in asset.headers
    assert asset.headers["content-encoding"] == "gzip" and asset.text == "console.log(1)"
    plain = client.get("/console/assets/index-abc.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == "console.log(1)"
    assert client.get("/console/assets/gone.js").status_code == 404
    assert client.get("/console/../pyproject.toml").status_code in (200, 404)
    assert "[project]" not in client.get("/console/%2e%2e/pyproject.toml").text
    bare = client.get("/console", follow_redirects=False)
    assert bare.status_code == 308 and bare.headers["location"] == "/console/"
    config = client.get("/console/config.json").json()
    assert config == {
        "tile_url": None,
        "tile_coord": "wgs84",
        "tile_attribution": "",
        "timezone": "Asia/Shanghai",
    }


def test_a_tile_host_is_allowed_for_images_only(built: Path) -> None:
    url = "https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8"
    client = _client(Settings(console_dir=built, console_tile_url=url, console_tile_coord="gcj02"))
    csp = client.get("/console/").headers["content-security-policy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert "https://*.is.autonavi.com" in directives["img-src"]
    assert "autonavi" not in directives["connect-src"] + directives["script-src"]
    assert client.get("/console/config.json").json()["tile_coord"] == "gcj02"


def test_not_built_says_how(tmp_path: Path) -> None:
    answer = _client(Settings(console_dir=tmp_path / "missing")).get("/console/map")
    assert answer.status_code == 503 and "make run" in answer.text


@pytest.mark.parametrize(
    ("template", "source"),
    [
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("https://webst0{s}.is.autonavi.com/a?x={x}", "https://*.is.autonavi.com"),
        ("not a url", None),
        (None, None),
    ],
)
def test_tile_source(template: str | None, source: str | None) -> None:
    assert console.tile_source(template) == source
