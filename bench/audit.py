"""``wangge audit verify`` on a simulated year of a 1,000-grid city (1 M events, ~6.9 M audit rows).

    .venv/bin/python -m bench.audit [--month-only] [--skip-bundle]

Works on its own database, ``wangge_bench_audit``: a copy (``CREATE DATABASE ... TEMPLATE``) of
the history ``python -m bench.stats`` loads into ``wangge_bench_stats`` (loaded first if it is
missing), migrated to the audit chain (the migration hashes every existing row; timed). Then it
prints, each timed on this machine:

- sealing the day heads of the year (first seal; later seals are one day each);
- ``verify`` over the whole year (goal ≤ 60 s) and over the last full month, with the time and
  counts of each check and the number of discrepancies (0 expected on untouched history);
- the indicators of the last month (the national ones read the audit log);
- the evaluation bundle of the last month: its size, and ``check.py`` run on it.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import create_engine
from sqlmodel import Session

from bench.common import ROOT, bench_database
from dispatch.ledger import seal_days
from evaluation.bundle import write_bundle
from evaluation.indicators import indicator_report
from evaluation.scope import window
from evaluation.verify import VerifyReport, verify
from kernel.db import libpq_url
from kernel.settings import get_settings
from kernel.uow import UnitOfWork

DB = "wangge_bench_audit"
SOURCE = "wangge_bench_stats"
GOAL_SECONDS = 60.0


def ensure_database() -> dict[str, str]:
    """The bench database with the audit chain (copied from bench.stats' history once)."""
    env = bench_database(fresh=False, name=SOURCE)  # created empty if missing
    admin = libpq_url(env["WANGGE_DATABASE_URL"], "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
    url = env["WANGGE_DATABASE_URL"].rsplit("/", 1)[0] + f"/{DB}"
    env = {**env, "WANGGE_DATABASE_URL": url}
    if exists:
        print(f"reusing {DB}")
        return env
    with psycopg.connect(libpq_url(env["WANGGE_DATABASE_URL"], SOURCE)) as conn:
        events = conn.execute("SELECT count(*) FROM event").fetchone()
    if not events or events[0] < 900_000:
        print(f"{SOURCE} holds no year of history: loading it (python -m bench.stats)…")
        subprocess.run([sys.executable, "-m", "bench.stats", "--runs", "1"], check=True)
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DB}" TEMPLATE "{SOURCE}"')
    copied = time.perf_counter() - started
    wangge = str(ROOT / ".venv" / "bin" / "wangge")
    started = time.perf_counter()
    subprocess.run([wangge, "migrate"], check=True, env=env, capture_output=True)
    print(
        f"copied {SOURCE} in {copied:.0f} s; migrated (hashing every existing audit row) "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return env


def show(title: str, report: VerifyReport) -> None:
    found = sum(len(c.discrepancies) for c in report.checks)
    print(
        f"\n{title}: {report.since} .. {report.until}: {report.seconds:.1f} s, "
        f"{found} discrepancies"
    )
    for check in report.checks:
        counts = ", ".join(f"{k} {v:,}" for k, v in check.counts.items())
        took = f"{check.seconds:6.1f} s" if check.seconds else "      ″ "
        print(f"  {took}  {check.name:18} {'ok' if check.ok else 'DISCREPANCIES'}  {counts}")
    if found:
        print("\n".join(report.lines()[:60]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month-only", action="store_true", help="skip the year's verify")
    parser.add_argument("--skip-bundle", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="connections verify uses at once")
    args = parser.parse_args()
    env = ensure_database()
    engine = create_engine(env["WANGGE_DATABASE_URL"])
    with Session(engine) as session:
        last_event = (
            session.connection().exec_driver_sql("SELECT max(created_at) FROM event").scalar_one()
        )
    last = last_event.astimezone(get_settings().tz).date()
    year = window(last - timedelta(days=364), last)
    month_end = date(last.year, last.month, 1) - timedelta(days=1)
    month = window(month_end.replace(day=1), month_end)
    print(f"history: {year.since} .. {year.until}")

    with Session(engine) as session:
        started = time.perf_counter()
        sealed = seal_days(UnitOfWork(session), now=datetime.now(UTC))
        print(f"sealed {sealed} day heads in {time.perf_counter() - started:.1f} s")
        rows = (
            session.connection()
            .exec_driver_sql(
                "SELECT count(*), count(*) FILTER (WHERE hash IS NULL) FROM event_audit"
            )
            .one()
        )
        print(f"audit rows: {rows[0]:,} ({rows[1]:,} without a hash)")

    if not args.month_only:
        with Session(engine) as session:
            year_report = verify(session, year, jobs=args.jobs)
        show(f"verify, the year ({args.jobs} connections)", year_report)
        verdict = "within" if year_report.seconds <= GOAL_SECONDS else "OVER"
        print(f"  goal ≤ {GOAL_SECONDS:.0f} s: {verdict}")
    with Session(engine) as session:
        show("verify, the last month", verify(session, month, jobs=args.jobs))

    with Session(engine) as session:
        started = time.perf_counter()
        indicator_report(session=session, scope=month)
        print(
            f"\nindicators of {month.since:%Y-%m} (with the audit log's): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )

    if not args.skip_bundle:
        buffer = io.BytesIO()
        with Session(engine) as session:
            started = time.perf_counter()
            manifest = write_bundle(session, month, buffer)
        built = time.perf_counter() - started
        sizes = ", ".join(
            f"{n} {e['bytes'] / 1e6:.1f} MB"
            for n, e in manifest["files"].items()
            if e["bytes"] > 1e6
        )
        print(
            f"bundle of {month.since:%Y-%m}: {len(buffer.getvalue()) / 1e6:.1f} MB zipped, "
            f"built in {built:.1f} s ({sizes})"
        )
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(buffer) as archive:
                archive.extractall(tmp)
            (folder,) = Path(tmp).iterdir()
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-I", "-S", "check.py"],
                cwd=folder,
                capture_output=True,
                text=True,
                check=False,
            )
            print(
                f"check.py on it: exit {done.returncode} in "
                f"{time.perf_counter() - started:.1f} s; {done.stdout.splitlines()[-1]}"
            )
    engine.dispose()


if __name__ == "__main__":
    main()
