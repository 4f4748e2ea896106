"""Packed histograms and their figures, for many groups at once (NumPy; no I/O).

A histogram is a set of entries ``(key, minutes, n, ontime)``: ``n`` closed events of group
``key`` took ``minutes`` whole minutes, ``ontime`` of them within their target. Sealed blocks
store them packed as big-endian uint32 records (``RECORD``), sorted by key and minutes;
PostgreSQL builds the same bytes with ``int4send``. ``figures`` gives each group's count, mean,
nearest-rank percentiles and maximum, equal to ``domain.evaluation.summarize`` per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from domain.evaluation.resolution import PERCENTILES

RECORD = np.dtype([("k", ">u4"), ("m", ">u4"), ("n", ">u4"), ("o", ">u4")])

Ints = NDArray[np.int64]


def _ints(values: object) -> Ints:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class Entries:
    """Parallel arrays of histogram entries (not necessarily sorted or distinct)."""

    k: Ints
    m: Ints
    n: Ints
    o: Ints

    @classmethod
    def empty(cls) -> Entries:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z)

    @classmethod
    def of(cls, k: object, m: object, n: object, o: object) -> Entries:
        return cls(_ints(k), _ints(m), _ints(n), _ints(o))

    def __len__(self) -> int:
        return int(self.k.shape[0])

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> Entries:
        return Entries(self.k[index], self.m[index], self.n[index], self.o[index])

    def with_keys(self, k: Ints) -> Entries:
        return Entries(k, self.m, self.n, self.o)


def decode(blob: bytes | memoryview) -> Entries:
    records = np.frombuffer(blob, dtype=RECORD)
    return Entries(
        records["k"].astype(np.int64),
        records["m"].astype(np.int64),
        records["n"].astype(np.int64),
        records["o"].astype(np.int64),
    )


def concat(parts: list[Entries]) -> Entries:
    if not parts:
        return Entries.empty()
    return Entries(
        np.concatenate([p.k for p in parts]),
        np.concatenate([p.m for p in parts]),
        np.concatenate([p.n for p in parts]),
        np.concatenate([p.o for p in parts]),
    )


def compact(entries: Entries) -> Entries:
    """One entry per (key, minutes) with the counts summed, sorted, without empty entries."""
    if len(entries) == 0:
        return entries
    pair = (entries.k << 32) | entries.m
    unique, inverse = np.unique(pair, return_inverse=True)
    n = np.bincount(inverse, weights=entries.n, minlength=unique.shape[0]).astype(np.int64)
    o = np.bincount(inverse, weights=entries.o, minlength=unique.shape[0]).astype(np.int64)
    keep = n > 0
    unique = unique[keep]
    return Entries(unique >> 32, unique & 0xFFFFFFFF, n[keep], o[keep])


def encode(entries: Entries) -> bytes:
    """The packed bytes of the compacted entries."""
    c = compact(entries)
    records = np.empty(len(c), dtype=RECORD)
    records["k"], records["m"], records["n"], records["o"] = c.k, c.m, c.n, c.o
    return records.tobytes()


@dataclass(frozen=True)
class Figures:
    """Per group (index 0..groups-1): count, sum of minutes, on-time count, max and the
    percentiles (``-1`` where a group has no events)."""

    count: Ints
    total: Ints
    on_time: Ints
    max: Ints
    percentiles: dict[int, Ints]


#: Minutes below this go into a dense groups × minutes table (cumulative sums answer every
#: rank at once); the long tail above it is sorted. The table is used when it has no more
#: cells than there are entries (else sorting every entry is cheaper), and at most DENSE_CELLS.
DENSE_WIDTH = 512
DENSE_CELLS = 4_000_000


def figures(entries: Entries, groups: int) -> Figures:
    """Figures of each group; ``entries.k`` holds group indexes in ``0..groups-1``."""
    e = entries.take(entries.n > 0) if bool((entries.n <= 0).any()) else entries
    count = np.bincount(e.k, weights=e.n, minlength=groups).astype(np.int64)
    total = np.bincount(e.k, weights=e.n * e.m, minlength=groups).astype(np.int64)
    on_time = np.bincount(e.k, weights=e.o, minlength=groups).astype(np.int64)
    ranks = {p: np.maximum(1, (p * count + 99) // 100) for p in PERCENTILES}
    width = min(DENSE_WIDTH, int(e.m.max()) + 1) if len(e) else 1
    if groups * width > min(DENSE_CELLS, max(len(e), 1)):
        return _sorted_figures(e, groups, count, total, on_time, ranks)
    dense = e.m < width
    table = np.bincount(
        e.k[dense] * width + e.m[dense], weights=e.n[dense], minlength=groups * width
    ).reshape(groups, width)
    cumulative = np.cumsum(table, axis=1)
    in_table = cumulative[:, -1].astype(np.int64)
    filled = table > 0
    biggest = np.where(filled.any(axis=1), width - 1 - np.argmax(filled[:, ::-1], axis=1), -1)
    tail = e.take(~dense)
    order = np.lexsort((tail.m, tail.k))
    tail_k, tail_m = tail.k[order], tail.m[order]
    tail_cum = np.cumsum(tail.n[order])
    if len(tail_k):
        np.maximum.at(biggest, tail_k, tail_m)
    present = count > 0
    result: dict[int, Ints] = {}
    for p, rank_of in ranks.items():
        value = np.full(groups, -1, dtype=np.int64)
        head = present & (rank_of <= in_table)
        if head.any():
            value[head] = np.argmax(cumulative[head] >= rank_of[head, None], axis=1)
        rest = present & ~head
        if rest.any():  # the rank lies in the group's tail (minutes ≥ width)
            g = np.nonzero(rest)[0]
            start = np.searchsorted(tail_k, g, side="left")
            before = np.where(start > 0, tail_cum[np.maximum(start - 1, 0)], 0)
            where = np.searchsorted(tail_cum, before + rank_of[g] - in_table[g], side="left")
            value[g] = tail_m[where]
        result[p] = value
    return Figures(count=count, total=total, on_time=on_time, max=biggest.astype(np.int64),
                   percentiles=result)  # fmt: skip


def _sorted_figures(
    e: Entries, groups: int, count: Ints, total: Ints, on_time: Ints, ranks: dict[int, Ints]
) -> Figures:
    """The same figures by sorting every entry (for very many groups)."""
    biggest = np.full(groups, -1, dtype=np.int64)
    np.maximum.at(biggest, e.k, e.m)
    order = np.argsort((e.k << 32) | e.m, kind="stable")
    minutes = e.m[order]
    cumulative = np.cumsum(e.n[order])
    offsets = np.cumsum(count) - count
    present = count > 0
    result: dict[int, Ints] = {}
    for p, rank_of in ranks.items():
        value = np.full(groups, -1, dtype=np.int64)
        if present.any():
            where = np.searchsorted(cumulative, offsets[present] + rank_of[present], side="left")
            value[present] = minutes[where]
        result[p] = value
    return Figures(count=count, total=total, on_time=on_time, max=biggest, percentiles=result)


def overall(entries: Entries) -> Figures:
    """The figures of all entries as one group (a histogram over minutes alone)."""
    e = entries.take(entries.n > 0) if bool((entries.n <= 0).any()) else entries
    count = int(e.n.sum())
    one = np.array([count], dtype=np.int64)
    if count == 0:
        none = np.array([-1], dtype=np.int64)
        return Figures(one, one * 0, one * 0, none, dict.fromkeys(PERCENTILES, none))
    by_minute = np.cumsum(np.bincount(e.m, weights=e.n))
    return Figures(
        count=one,
        total=np.array([int((e.n * e.m).sum())], dtype=np.int64),
        on_time=np.array([int(e.o.sum())], dtype=np.int64),
        max=np.array([int(e.m.max())], dtype=np.int64),
        percentiles={
            p: np.array(
                [np.searchsorted(by_minute, max(1, (p * count + 99) // 100), side="left")],
                dtype=np.int64,
            )
            for p in PERCENTILES
        },
    )
