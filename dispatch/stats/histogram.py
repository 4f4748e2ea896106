"""Packed histograms and their figures, for many groups at once (NumPy; no I/O).

A histogram is a set of entries ``(key, minutes, n, ontime)``: ``n`` closed events of group
``key`` took ``minutes`` whole minutes, ``ontime`` of them within their target. Sealed blocks
store them packed as big-endian uint32 records (``RECORD``), sorted by key and minutes;
PostgreSQL builds the same bytes with ``int4send``. ``figures`` gives each group's count, mean,
nearest-rank percentiles and maximum, equal to ``dispatch.stats.domain.summarize`` per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dispatch.stats.domain import PERCENTILES

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


def figures(entries: Entries, groups: int) -> Figures:
    """Figures of each group; ``entries.k`` holds group indexes in ``0..groups-1``."""
    e = entries.take(entries.n > 0)
    count = np.bincount(e.k, weights=e.n, minlength=groups).astype(np.int64)
    total = np.bincount(e.k, weights=e.n * e.m, minlength=groups).astype(np.int64)
    on_time = np.bincount(e.k, weights=e.o, minlength=groups).astype(np.int64)
    biggest = np.full(groups, -1, dtype=np.int64)
    np.maximum.at(biggest, e.k, e.m)
    order = np.argsort((e.k << 32) | e.m, kind="stable")
    minutes = e.m[order]
    cumulative = np.cumsum(e.n[order])
    offsets = np.cumsum(count) - count
    present = count > 0
    result: dict[int, Ints] = {}
    for p in PERCENTILES:
        value = np.full(groups, -1, dtype=np.int64)
        if present.any():
            ranks = np.maximum(1, (p * count[present] + 99) // 100)
            where = np.searchsorted(cumulative, offsets[present] + ranks, side="left")
            value[present] = minutes[where]
        result[p] = value
    return Figures(count=count, total=total, on_time=on_time, max=biggest, percentiles=result)
