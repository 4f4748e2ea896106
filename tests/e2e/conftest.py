"""Through HTTP, every test starts with full rate-limit budgets and no token revocations:
buckets are keyed by account and address, and a test that moved its clock days ahead would
otherwise leave them full for the next."""

from __future__ import annotations

import pytest

from tests.conftest import forget_limits_and_revocations


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    forget_limits_and_revocations()
