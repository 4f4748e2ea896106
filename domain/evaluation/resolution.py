"""Resolution times: whole minutes from report to close, ``floor((closed - created) / 1 min)``;
percentiles by nearest rank, the value at rank ``ceil(p * N / 100)`` of the sorted values (what
PostgreSQL's ``percentile_disc(p / 100)`` returns), exact to the minute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Groups with fewer closed events than this are flagged ``small_sample``.
SMALL_SAMPLE = 5
#: The percentiles reported for resolution times.
PERCENTILES: tuple[int, ...] = (50, 90, 95)


def rank(count: int, percent: int) -> int:
    """The 1-based nearest rank of the ``percent``-th percentile of ``count`` values."""
    if count <= 0:
        raise ValueError("no values")
    return max(1, -(-percent * count // 100))


def percentile(hist: Mapping[int, int], percent: int) -> int | None:
    """Nearest-rank percentile of a histogram ``{minutes: count}`` (None when empty)."""
    total = sum(hist.values())
    if total == 0:
        return None
    target = rank(total, percent)
    seen = 0
    for minutes in sorted(hist):
        seen += hist[minutes]
        if seen >= target:
            return minutes
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True)
class Resolution:
    """Report → close times of one group of closed events, in whole minutes."""

    count: int
    mean: float | None
    p50: int | None
    p90: int | None
    p95: int | None
    max: int | None
    on_time: int
    on_time_rate: float | None

    @property
    def small_sample(self) -> bool:
        return self.count < SMALL_SAMPLE


def summarize(hist: Mapping[int, tuple[int, int]]) -> Resolution:
    """The figures of a histogram ``{minutes: (count, on_time)}`` (the reference
    implementation; ``evaluation.histogram`` computes the same for many groups at once)."""
    counts = {m: n for m, (n, _) in hist.items() if n > 0}
    total = sum(counts.values())
    on_time = sum(o for n, o in hist.values() if n > 0)
    if total == 0:
        return Resolution(0, None, None, None, None, None, 0, None)
    p50, p90, p95 = (percentile(counts, p) for p in PERCENTILES)
    return Resolution(
        count=total,
        mean=round(sum(m * n for m, n in counts.items()) / total, 2),
        p50=p50,
        p90=p90,
        p95=p95,
        max=max(counts),
        on_time=on_time,
        on_time_rate=round(on_time / total, 4),
    )
