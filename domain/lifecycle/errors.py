"""Domain exceptions of the dispatch core.

The web layer maps them to HTTP status codes in one table; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.lifecycle.model import Action, EventState


class DomainError(Exception):
    """Base class of every error the dispatch domain raises on purpose."""


class IllegalTransition(DomainError):
    """The action is not allowed in the event's current state (the web layer answers 409)."""

    def __init__(self, state: EventState, action: Action, allowed: Sequence[Action]) -> None:
        self.state = state
        self.action = action
        self.allowed: tuple[Action, ...] = tuple(allowed)
        names = ", ".join(a.value for a in self.allowed) or "none"
        super().__init__(
            f"action {action.value!r} is not allowed for event {state.event_id} in status "
            f"{state.status.value!r} at level {state.level}; allowed: {names}"
        )


class StaleVersion(DomainError):
    """The caller acted on an older version of the event (the web layer answers 409)."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"event version is {actual}, the command expected {expected}")


class InvalidCommand(DomainError, ValueError):
    """The command lacks a field its action needs, or carries one that contradicts the state;
    ``field`` names the field at fault when there is one (the web layer's ``loc``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NaiveDatetime(DomainError, ValueError):
    """A datetime without a time zone reached the domain; every instant must be aware UTC."""


class ReplayError(DomainError):
    """The audit log does not describe a consistent history (gap, reordering, foreign event)."""
