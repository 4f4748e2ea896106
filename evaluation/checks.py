"""A check of ``wangge audit verify``: what it looked at and every discrepancy it found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Event ids listed per discrepancy at most (the count says how many there were).
MAX_IDS = 50


@dataclass
class Discrepancy:
    what: str
    event_ids: list[int] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    more_ids: int = 0


@dataclass
class Check:
    name: str
    description: str
    counts: dict[str, int] = field(default_factory=dict)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def add(self, what: str, ids: Iterable[int] = (), **detail: Any) -> None:
        listed = sorted(set(ids))
        self.discrepancies.append(
            Discrepancy(what, listed[:MAX_IDS], detail, max(0, len(listed) - MAX_IDS))
        )
