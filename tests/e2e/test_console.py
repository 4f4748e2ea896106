"""The browser console end to end: Playwright (``console/tests/e2e``, Node) drives Debian's
Chromium against a real API and worker on a database of the console's own (the test database's
name + ``_console``: migrated, map and roster loaded, a month of simulated history), with a
throw-away Redis. Access tokens live 15 s there, so the silent refresh is exercised.

``make test`` builds the console and installs its Node packages first; this test fails, naming
the command, when either is missing."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook
from PIL import ExifTags, Image
from sqlalchemy.engine import make_url

from kernel.db import libpq_url
from tests.kit.servers import ROOT, ApiServer, PrivateRedis, WorkerProcess, server_env

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

CONSOLE = ROOT / "console"
ARTIFACTS = CONSOLE / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT = CONSOLE / "node_modules" / ".bin" / "playwright"


def _console_database() -> str:
    url = make_url(os.environ["WANGGE_DATABASE_URL"])
    return url.set(database=f"{url.database}_console").render_as_string(hide_password=False)


def _recreate(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def _jpeg(colour: tuple[int, int, int], *, gps: bool) -> bytes:
    """A small photo; the report's carries EXIF GPS and a capture time (evidence)."""
    img = Image.new("RGB", (160, 120), colour)
    buf = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (39.0, 40.0, 12.5),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (118.0, 9.0, 30.0),
        }
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:05:10 10:00:00"
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="module")
def console_stack() -> Iterator[dict[str, str]]:
    needs = (
        ((CONSOLE / "dist" / "index.html").is_file(), "the console is not built: run `make test`"),
        (PLAYWRIGHT.exists(), "console/node_modules is missing: run `make test` (npm ci)"),
        (Path(CHROMIUM).exists(), "no Chromium: `apt-get install chromium` (make test does)"),
    )
    missing = [hint for ok, hint in needs if not ok]
    if missing:
        pytest.fail("; ".join(missing))
    db_url = _console_database()
    _recreate(db_url)
    redis = PrivateRedis()
    redis.start()
    env = server_env(
        redis.url,
        WANGGE_DATABASE_URL=db_url,
        WANGGE_ENV="test",
        WANGGE_ACCESS_TOKEN_MINUTES="0.25",
        WANGGE_MEDIA_DIR=str(ARTIFACTS / "media"),
    )
    wangge = str(ROOT / ".venv" / "bin" / "wangge")
    for args in (["migrate"], ["load-data"], ["simulate", "--days", "30", "--seed", "7", "--bulk"]):
        subprocess.run([wangge, *args], env=env, check=True, capture_output=True, timeout=300)
    api = ApiServer(env)
    worker = WorkerProcess(env)
    try:
        yield {"base": api.base, "db": db_url}
    finally:
        worker.close()
        api.close()
        redis.close()


def test_console_in_chromium(console_stack: dict[str, str]) -> None:
    """Every browser test of console/tests/e2e passes (their list is printed on failure)."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    photos = {}
    for name, colour, gps in (
        ("report", (200, 40, 40), True),
        ("fix1", (60, 140, 60), False),
        ("fix2", (40, 90, 190), False),
    ):
        path = ARTIFACTS / f"photo_{name}.jpg"
        path.write_bytes(_jpeg(colour, gps=gps))
        photos[name] = str(path)
    env = {
        **os.environ,
        "CONSOLE_BASE_URL": console_stack["base"],
        "CONSOLE_ARTIFACTS": str(ARTIFACTS),
        "CONSOLE_PHOTO_REPORT": photos["report"],
        "CONSOLE_PHOTO_FIX1": photos["fix1"],
        "CONSOLE_PHOTO_FIX2": photos["fix2"],
        "CHROMIUM": CHROMIUM,
    }
    run = subprocess.run(
        [str(PLAYWRIGHT), "test"],
        cwd=CONSOLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    print(run.stdout[-6000:])
    report = f"{run.stdout[-12000:]}\n{run.stderr[-3000:]}"
    assert run.returncode == 0, f"browser tests failed:\n{report}"

    # the evaluator's XLSX download opens with openpyxl, with Chinese headers
    book = load_workbook(ARTIFACTS / "evaluation.xlsx", read_only=True)
    header = next(book.active.iter_rows(max_row=1, values_only=True))
    assert any(cell and any("\u4e00" <= ch <= "\u9fff" for ch in str(cell)) for cell in header)
