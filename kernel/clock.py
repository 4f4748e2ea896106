"""The clock: aware UTC instants. Code that decides takes ``now`` as an argument; entry points
and jobs read it here (tests inject their own through the API's ``get_now`` dependency)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
