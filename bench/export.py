"""Exports under load of rows: peak memory of the API process while it streams a CSV (and
writes an XLSX) of 10 k, 100 k and 1 M events, to show memory flat in the row count.

    .venv/bin/python -m bench.export [--events 1000000] [--grids 1000] [--xlsx 10000,100000]

Uses the simulated year of ``bench.stats`` (its database ``wangge_bench_stats``, loaded once by
the bulk simulator and reused). One uvicorn process serves; before each export its peak RSS
is reset (``/proc/<pid>/clear_refs``), and after it ``VmHWM`` gives the peak during that
export alone. The client reads the body in chunks and throws it away. Prints, per export:
rows, bytes, seconds, rows/s, the server's RSS before and its peak during the export.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path

import httpx

from bench.common import serve_process
from bench.report import sign_in
from bench.stats import ensure_loaded


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def export_once(
    base: str, token: str, pid: int, params: dict[str, str | int]
) -> tuple[int, int, float, int, int]:
    """(rows, bytes, seconds, RSS before in KiB, peak RSS during in KiB)."""
    before = _status_kib(pid, "VmRSS")
    _reset_peak(pid)
    size = 0
    lines = 0
    started = time.perf_counter()
    with httpx.stream(
        "GET", base + "/api/v1/stats/events", params=params,
        headers={"Authorization": f"Bearer {token}"}, timeout=3600,
    ) as reply:  # fmt: skip
        reply.raise_for_status()
        for chunk in reply.iter_bytes(256 * 1024):
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    peak = _status_kib(pid, "VmHWM")
    rows = lines - 1 if params["format"] == "csv" else int(params.get("limit", 0))
    return rows, size, seconds, before, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--csv", default="10000,100000,1000000", help="CSV row counts")
    parser.add_argument("--xlsx", default="10000,100000", help="XLSX row counts")
    args = parser.parse_args()
    env, last = ensure_loaded(args)
    window = {"since": (last - timedelta(days=400)).isoformat(), "until": last.isoformat()}
    with serve_process("service.api.app:app_factory", env=env, workers=1) as (base, pid):
        token = sign_in(base, "evaluator")
        print(f"{'format':<6} {'rows':>9} {'MiB':>8} {'s':>7} {'rows/s':>9} "
              f"{'RSS before':>11} {'peak RSS':>9} {'peak-before':>12}")  # fmt: skip
        runs = [("csv", int(n)) for n in args.csv.split(",") if n] + [
            ("xlsx", int(n)) for n in args.xlsx.split(",") if n
        ]
        for fmt, n in runs:
            params: dict[str, str | int] = {**window, "format": fmt, "limit": n}
            rows, size, seconds, before, peak = export_once(base, token, pid, params)
            print(
                f"{fmt:<6} {rows:>9,} {size / 2**20:>8.1f} {seconds:>7.1f} "
                f"{rows / seconds:>9,.0f} {before / 1024:>9.1f} M {peak / 1024:>7.1f} M "
                f"{(peak - before) / 1024:>10.1f} M",
                flush=True,
            )


if __name__ == "__main__":
    main()
