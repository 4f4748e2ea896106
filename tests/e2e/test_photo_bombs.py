"""Decompression bombs under the pixel cap (issue 19, finding 4): eight 233 KB PNGs of
7,740×7,740 pixels (240 MB each once decoded) uploaded at once took an API process from 395 MB
to 1.84 GB, and it stayed at 1.67 GB. Now decodes share a budget (256 MB by default), so at
most one such photo is decoded at a time, and freed pixels go back to the system.

Against a real API server (uvicorn), its resident memory sampled from /proc while the eight
uploads run: the peak may exceed the idle size by at most the budget and 128 MB, and once they
are done the process is back within 64 MB of where it started.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from kernel.settings import get_settings
from tests.kit.events import GRID_01, interior_point, report_body
from tests.kit.servers import ApiServer, server_env

Headers = Callable[[str], dict[str, str]]
SIDE = 7740
MB = 1024 * 1024
BUDGET = 256 * MB  # the default photo_decode_budget_bytes
PEAK_BOUND = BUDGET + 128 * MB
AFTER_BOUND = 64 * MB


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_parts() -> tuple[bytes, bytes]:
    """The header and the compressed pixels of a black RGB PNG of SIDE×SIDE (made once)."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, 0))
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * SIDE)
    pixels = b"".join(compressor.compress(row) for _ in range(SIDE)) + compressor.flush()
    return header, _chunk(b"IDAT", pixels)


def bombs(n: int) -> list[bytes]:
    """``n`` different files (a text chunk tells them apart), the same 240 MB decode each."""
    header, idat = _bomb_parts()
    return [
        b"\x89PNG\r\n\x1a\n"
        + header
        + _chunk(b"tEXt", b"n\x00%d" % i)
        + idat
        + _chunk(b"IEND", b"")
        for i in range(n)
    ]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    """The peak resident size of a process, sampled every 5 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.005)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@pytest.fixture
def api(committed: Engine, tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(server_env(os.environ["WANGGE_REDIS_URL"], WANGGE_MEDIA_DIR=str(tmp_path)))
    yield server
    server.close()


def test_eight_concurrent_bombs_keep_the_api_within_its_decode_budget(
    api: ApiServer, committed: Engine, token_for: Headers, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bombs(8)
    assert all(len(f) < 300 * 1024 for f in files)
    member = token_for("g01m1")
    with httpx.Client(base_url=api.base, timeout=120) as http:
        r = http.post(
            "/api/v1/events", json=report_body(interior_point(committed, GRID_01)), headers=member
        )
        assert r.status_code == 201, r.text
        url = f"/api/v1/events/{r.json()['id']}/photos"
        small = _chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        pixels = _chunk(b"IDAT", zlib.compress(b"\x00" * (8 * (1 + 3 * 8))))
        warm = b"\x89PNG\r\n\x1a\n" + small + pixels + _chunk(b"IEND", b"")
        r = http.post(url, files={"file": ("w.png", warm, "image/png")}, headers=member)
        assert r.status_code == 201, r.text  # Pillow's PNG plugin is loaded before measuring
        pid = api.proc.pid
        idle = rss(pid)
        sampler = Sampler(pid)

        def upload(data: bytes) -> int:
            return http.post(
                url, files={"file": ("bomb.png", data, "image/png")}, headers=member
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(upload, files))
        peak = sampler.stop()
        time.sleep(0.5)
        after = rss(pid)
    with capsys.disabled():
        print(
            f"\n8 concurrent {SIDE}×{SIDE} PNG bombs: API RSS idle {idle / MB:.0f} MB, peak "
            f"{peak / MB:.0f} MB (+{(peak - idle) / MB:.0f}, bound +{PEAK_BOUND / MB:.0f}), "
            f"after {after / MB:.0f} MB (+{(after - idle) / MB:.0f}, bound +{AFTER_BOUND / MB:.0f})"
        )
    assert statuses == [201] * 8, statuses  # within the pixel cap: accepted, one at a time
    assert peak - idle <= PEAK_BOUND
    assert after - idle <= AFTER_BOUND
    assert get_settings().photo_decode_budget_bytes == BUDGET
