"""The cost of working-time arithmetic (``domain.calendar``) on the seeded Chinese calendar:
``add_working`` and ``working_between`` for the allowances categories use, from random instants
of 2024–2026 (a deadline is planned three times per clock at each dispatch and resume).

    .venv/bin/python -m bench.calendar [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from bench.common import percentile
from domain.calendar import add_working, parse_calendar, working_between
from kernel.settings import get_settings

ALLOWANCES = {
    "10 min": timedelta(minutes=10),
    "1 h": timedelta(hours=1),
    "1 working day": timedelta(minutes=450),
    "5 working days": timedelta(minutes=5 * 450),
    "20 working days": timedelta(minutes=20 * 450),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per allowance")
    args = parser.parse_args()
    path = get_settings().data_dir / "calendars" / "cn.json"
    cn = parse_calendar(json.loads(path.read_text(encoding="utf-8")))
    rng = random.Random(1)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    print(f"calendar cn, {args.n} calls each; microseconds per call (p50 / p99)")
    for label, amount in ALLOWANCES.items():
        starts = [
            first + timedelta(seconds=rng.randint(0, 2 * 365 * 86_400)) for _ in range(args.n)
        ]
        added: list[float] = []
        measured: list[float] = []
        for start in starts:
            t0 = time.perf_counter()
            end = add_working(cn, start, amount)
            t1 = time.perf_counter()
            working_between(cn, start, end)
            t2 = time.perf_counter()
            added.append((t1 - t0) * 1e6)
            measured.append((t2 - t1) * 1e6)
        print(
            f"  {label:>15}: add_working {percentile(added, 50):7.1f} / "
            f"{percentile(added, 99):7.1f}   working_between {percentile(measured, 50):7.1f} / "
            f"{percentile(measured, 99):7.1f}"
        )


if __name__ == "__main__":
    main()
