"""Who reports a problem, how often, and where they say it is: the simulator's model of public
and hotline reports, duplicates and missed events, with the truth kept (which problem each
report is about), so the duplicate rule can be scored against it.

Problems appear in the street (Poisson); grid staff find most of them first on patrol, the
rest are first reported by residents (Open311 clients) or the 12345 hotline — the events staff
missed (漏报). Some problems are reported again while open, by residents, the hotline or staff
(duplicates), from a place off by the reporter's GPS and description (lognormal, median 15 m;
one in fifteen farther than 50 m) and after a delay (lognormal, median 45 min). Problems of a
category cluster (a second garbage pile down the same street, 20–120 m away): reports of
different problems close together are what a distance rule can confuse. Some public reports
are about nothing the verifier finds (rejected). Distances are metres on a local plane.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

#: Shares among the problems' first reports (the rest: grid staff on patrol).
FIRST_BY_PUBLIC = 0.05
FIRST_BY_HOTLINE = 0.03
#: A problem is reported again while open with this probability (again and again, geometric).
REPORTED_AGAIN = 0.18
#: Who reports again: public, hotline, staff.
AGAIN_BY = (("public", 0.55), ("hotline", 0.25), ("staff", 0.20))
#: Public and hotline reports about nothing found on site.
FALSE_REPORT = 0.12
#: Problems placed near an earlier open problem of the same category.
CLUSTERED = 0.15


@dataclass(frozen=True)
class Report:
    """One report: when (s), where (m), of which category, from whom, about which problem
    (the truth; negative for a false report), and when that problem's event closes (s)."""

    at: float
    x: float
    y: float
    category: int
    source: str
    problem: int
    closes_at: float


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _off(rng: random.Random, x: float, y: float, median_m: float) -> tuple[float, float]:
    r, a = _lognormal(rng, median_m, 0.8), rng.uniform(0.0, 2.0 * math.pi)
    return x + r * math.cos(a), y + r * math.sin(a)


def reports(
    *, seed: int, days: float, per_day: float, categories: int, extent_m: float
) -> Iterator[Report]:
    """The reports of ``days`` days over a square ``extent_m`` wide, in time order."""
    rng = random.Random(seed)
    out: list[Report] = []
    t, horizon = 0.0, days * 86_400.0
    recent: list[tuple[float, float, float, int]] = []  # (closes_at, x, y, category)
    problem = 0
    while True:
        t += rng.expovariate(per_day / 86_400.0)
        if t > horizon:
            break
        category = min(int(rng.paretovariate(1.2)) - 1, categories - 1)
        recent = [r for r in recent if r[0] > t]
        near = [r for r in recent if r[3] == category]
        if near and rng.random() < CLUSTERED:
            _, bx, by, _ = rng.choice(near)
            a, d = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(20.0, 120.0)
            x, y = bx + d * math.cos(a), by + d * math.sin(a)
        else:
            x, y = rng.uniform(0.0, extent_m), rng.uniform(0.0, extent_m)
        closes = t + _lognormal(rng, 50 * 60.0, 0.7)
        u = rng.random()
        first = (
            "public" if u < FIRST_BY_PUBLIC
            else "hotline" if u < FIRST_BY_PUBLIC + FIRST_BY_HOTLINE
            else "staff"
        )  # fmt: skip
        fx, fy = _off(rng, x, y, 8.0 if first == "staff" else 15.0)
        out.append(Report(t, fx, fy, category, first, problem, closes))
        recent.append((closes, x, y, category))
        again = t
        while rng.random() < REPORTED_AGAIN:
            again += _lognormal(rng, 45 * 60.0, 1.0)
            if again >= closes:
                break
            w, source = rng.random(), "staff"
            for name, share in AGAIN_BY:
                if w < share:
                    source = name
                    break
                w -= share
            ax, ay = _off(rng, x, y, 15.0)
            out.append(Report(again, ax, ay, category, source, problem, closes))
        if first != "staff" and rng.random() < FALSE_REPORT:
            # a report about nothing real nearby, voided on site
            fx, fy = _off(rng, x, y, 200.0)
            out.append(Report(t + 60.0, fx, fy, category, first, -1 - problem, t + 1800.0))
        problem += 1
    out.sort(key=lambda r: r.at)
    yield from out
