"""回退 (returns) per category: cases a level sent back to the command centre as not theirs,
the mis-dispatches of the national process, beside the dispatches they came from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from evaluation.scope import Scope, bounds

_SQL = text(
    """
    SELECT c.code, c.name,
           count(*) FILTER (WHERE a.action = 'return') AS returns,
           count(*) FILTER (WHERE a.action = 'dispatch') AS dispatches
    FROM event_audit a
    JOIN event e ON e.id = a.event_id
    JOIN category c ON c.id = e.category_id
    WHERE a.action IN ('return', 'dispatch') AND a.at >= :start AND a.at < :end
    GROUP BY c.code, c.name
    HAVING count(*) FILTER (WHERE a.action = 'return') > 0
    ORDER BY c.code
    """
)


@dataclass(frozen=True)
class CategoryReturns:
    category: str
    name: str
    returns: int
    dispatches: int  # dispatches recorded in the window (first, re-dispatches, by level)

    @property
    def rate(self) -> float | None:
        return self.returns / self.dispatches if self.dispatches else None


def returns_by_category(session: Session, scope: Scope) -> list[CategoryReturns]:
    """Returns recorded in the window's days, per category, with its dispatches."""
    start, end = bounds(scope)
    rows = session.execute(_SQL, {"start": start, "end": end}).all()
    return [CategoryReturns(str(c), str(n), int(r), int(d)) for c, n, r, d in rows]
