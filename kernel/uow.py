"""The unit of work: one transaction for a write, rolled back unless committed.

A service that writes takes a ``UnitOfWork`` and calls ``commit()`` when its change is whole
(some commit in steps: a batch at a time); whatever is not committed when the unit ends is
rolled back. Entry points open units (``unit_of_work()`` in jobs and the CLI, a dependency per
request in the API); read-only code takes a plain session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlmodel import Session

from kernel.db import get_engine

_AFTER_COMMIT = "wangge.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the unit holding ``session`` commits (never when it rolls back):
    for what must only count what the database kept, such as metrics."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        self.session.commit()
        for callback in self.session.info.pop(_AFTER_COMMIT, []):
            callback()

    def rollback(self) -> None:
        self.session.rollback()
        self.session.info.pop(_AFTER_COMMIT, None)


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    """A unit on a session of its own; uncommitted work is rolled back when it ends."""
    with Session(get_engine(), expire_on_commit=False) as session:
        unit = UnitOfWork(session)
        try:
            yield unit
        finally:
            unit.rollback()
