"""GDAL's OAPIF driver (``ogrinfo``, Debian's gdal-bin, installed by the test set-up) reads the
OGC API – Features door of a real API server: the layers, every grid through the pages, a
spatial filter, one feature by id, and nothing without the bearer token."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from tests.kit.events import GRID_01
from tests.kit.servers import ApiServer, server_env

Headers = Callable[[str], dict[str, str]]


@pytest.fixture(scope="module")
def api(engine: Engine) -> Iterator[ApiServer]:
    server = ApiServer(server_env(os.environ["WANGGE_REDIS_URL"]))
    yield server
    server.close()


def _ogrinfo(api: ApiServer, token: dict[str, str] | None, *args: str) -> str:
    exe = shutil.which("ogrinfo")
    assert exe, "ogrinfo not found: scripts/bootstrap.sh test installs gdal-bin (run make test)"
    header = None if token is None else f"Authorization: {token['Authorization']}"
    auth = [] if header is None else ["--config", "GDAL_HTTP_HEADERS", header]
    done = subprocess.run(
        [exe, "-ro", *auth, f"OAPIF:{api.base}/api/v1/ogc", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GDAL_HTTP_TIMEOUT": "30", "CPL_CURL_VERBOSE": "NO"},
    )
    return done.stdout + done.stderr


def test_gdal_lists_the_collections_and_reads_every_grid(
    api: ApiServer, token_for: Headers
) -> None:
    token = token_for("evaluator")
    layers = _ogrinfo(api, token)
    for name in ("grids", "communities", "events", "patrol-coverage"):
        assert re.search(rf"^\d+: {name} ", layers, re.M), layers
    summary = _ogrinfo(api, token, "-so", "grids")
    assert "Feature Count: 44" in summary and "Multi Polygon" in summary, summary
    # every feature through the pages (the driver follows the next links)
    listed = _ogrinfo(api, token, "-q", "grids")
    assert len(re.findall(r"^OGRFeature\(grids\)", listed, re.M)) == 44, listed[-500:]


def test_gdal_filters_by_extent_and_reads_one_feature(api: ApiServer, token_for: Headers) -> None:
    token = token_for("dispatch1")
    near = _ogrinfo(api, token, "-so", "-spat", "118.14", "39.645", "118.15", "39.655", "grids")
    count = int(re.search(r"Feature Count: (\d+)", near).group(1))  # type: ignore[union-attr]
    assert 0 < count < 44, near
    one = _ogrinfo(api, token, "-q", "-where", f"code = '{GRID_01}'", "grids")
    assert len(re.findall(r"^OGRFeature\(grids\)", one, re.M)) == 1, one
    assert f"code (String) = {GRID_01}" in one, one


def test_gdal_without_a_token_is_refused(api: ApiServer) -> None:
    out = _ogrinfo(api, None)
    assert "401" in out and "FAILURE" in out, out
