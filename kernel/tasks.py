"""Periodic work the worker runs: each feature lists its tasks, the worker entry point runs
them (a thread each, errors logged, never fatal)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every_seconds: float
    run: Callable[[], None]
