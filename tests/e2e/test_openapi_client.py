"""A client generated from the OpenAPI document (openapi-python-client, as a consumer would)
builds without a warning and makes one call of each kind against a real server: a form
sign-in, a JSON body, a JSON list, typed GeoJSON, a multipart photo, the photo's bytes and a
CSV export."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine

from kernel.settings import get_settings
from tests.kit.events import GRID_01, interior_point
from tests.kit.servers import ROOT, ApiServer, server_env


@pytest.fixture(scope="module")
def api(engine: Engine) -> Iterator[ApiServer]:
    server = ApiServer(server_env(os.environ["WANGGE_REDIS_URL"]))
    yield server
    server.close()


@pytest.fixture(scope="module")
def generated(api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("client")
    bin_dir = ROOT / ".venv" / "bin"
    run = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--url", api.base + "/openapi.json",
         "--meta", "none", "--config", str(ROOT / "docs" / "openapi-client.yaml"),
         "--output-path", str(out / "wangge_client")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )  # fmt: skip
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    assert "warning" not in said.lower() and "unable to parse" not in said.lower(), said
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("wangge_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.split(".")[0] == "wangge_client"]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"wangge_client.{name}")


def _sign_in(base: str, username: str) -> Any:
    client_mod, models = _module("client"), _module("models")
    token = _module("api.auth.token")
    body = models.BodyToken(username=username, password=get_settings().dev_password)
    out = token.sync(client=client_mod.Client(base_url=base), body=body)
    assert isinstance(out, models.TokenOut), out
    return client_mod.AuthenticatedClient(base_url=base, token=out.access_token)


def test_one_call_of_each_kind(generated: ModuleType, api: ApiServer, committed: Engine) -> None:
    """(``committed``: the server's writes are committed; they are truncated afterwards, so the
    tests after this one do not count its event.)"""
    engine = committed
    models, types = _module("models"), _module("types")
    member = _sign_in(api.base, "g01m1")  # form body

    lon, lat = interior_point(engine, GRID_01)
    create = models.EventCreate.from_dict(
        {"client_id": str(uuid.uuid4()), "category": "exposed_garbage",
         "description": "生成的客户端上报", "location": {"lon": lon, "lat": lat, "coord": "wgs84"}}
    )  # fmt: skip
    event = _module("api.events.report_event").sync(client=member, body=create)  # JSON body
    assert isinstance(event, models.EventOut) and event.status == "registered", event

    page = _module("api.events.list_events").sync(client=member)  # JSON list
    assert isinstance(page, models.EventPage) and event.id in [e.id for e in page.items]

    grids = _module("api.grids.list_grids").sync(client=member)  # typed GeoJSON
    assert isinstance(grids, models.GridCollection)
    assert GRID_01 in [f.id for f in grids.features]
    assert grids.features[0].geometry.type_ == "MultiPolygon"

    png = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(png, format="PNG")
    upload = models.UploadPhotoBody(
        file=types.File(
            payload=io.BytesIO(png.getvalue()), file_name="a.png", mime_type="image/png"
        )
    )
    photo = _module("api.photos.upload_photo").sync(event.id, client=member, body=upload)
    assert isinstance(photo, models.PhotoOut), photo  # multipart

    got = _module("api.photos.get_photo").sync_detailed(photo.id, client=member)  # bytes
    assert got.status_code == 200 and got.content == png.getvalue()
    assert isinstance(got.parsed, types.File) and got.parsed.payload.read() == png.getvalue()

    evaluator = _sign_in(api.base, "evaluator")
    today = date.today()
    # A generator reads one media type per status (JSON here): a CSV goes through the
    # generated client's own httpx client, authenticated and based like every call.
    window = {"since": str(today - timedelta(days=2)), "until": str(today + timedelta(days=1))}
    csv = evaluator.get_httpx_client().get(
        "/api/v1/stats/events", params={**window, "format": "csv"}
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    listed = _module("api.statistics.stats_events").sync(
        client=evaluator, since=today - timedelta(days=2), until=today + timedelta(days=1)
    )
    assert isinstance(listed, models.PageOut) and listed.items
    csv_ids = {line.split(",", 1)[0] for line in lines[1:]}
    assert {str(item["id"]) for item in listed.to_dict()["items"]} <= csv_ids
    assert lines[0].startswith("id,") and any(line.startswith(f"{event.id},") for line in lines)

    refused = _module("api.statistics.stats_events").sync_detailed(
        client=member, since=today, until=today
    )  # errors are typed too
    assert refused.status_code == 403 and isinstance(refused.parsed, models.Problem)
    assert refused.parsed.detail[0].type_ == "forbidden"


def test_the_document_names_each_operation_once_and_shortly(api: ApiServer) -> None:
    import httpx

    doc = httpx.get(api.base + "/openapi.json").json()
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert max(len(i) for i in ids) <= 24, sorted(ids, key=len)[-3:]
    titles = [s.get("title", k) for k, s in doc["components"]["schemas"].items()]
    assert len(titles) == len(set(titles))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path.startswith("/api/v1/") and path not in ("/api/v1/auth/token", "/api/v1/health"):
                assert "401" in op["responses"], (method, path)
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)
    assert Path(ROOT / "docs" / "openapi-client.yaml").is_file()
