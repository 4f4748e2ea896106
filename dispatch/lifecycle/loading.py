"""Reading an event with everything the dispatch core needs to decide about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from dispatch.access import place_of
from dispatch.calendars.service import calendars
from dispatch.categories.models import Category
from dispatch.events.models import Event
from dispatch.store import policy_for, to_state
from domain.jurisdiction import Place
from domain.lifecycle import EventState, SlaPolicy
from grids.models import Grid


@dataclass(frozen=True)
class Loaded:
    """An event row with its category, grid code, SLA policy and the core's state."""

    event: Event
    category: Category
    grid_code: str
    policy: SlaPolicy
    state: EventState

    @property
    def event_id(self) -> int:
        assert self.event.id is not None
        return self.event.id

    @property
    def place(self) -> Place:
        """Where the event is: its grid, community and the department it is routed to."""
        return place_of(self.event)


def load(session: Session, event_id: int) -> Loaded | None:
    """The event with everything the dispatch core needs, read afresh (no lock)."""
    return load_many(session, [event_id]).get(event_id)


def load_many(session: Session, event_ids: Sequence[int]) -> dict[int, Loaded]:
    """Several events in one query (see ``load``)."""
    rows = session.exec(
        select(Event, Category, col(Grid.code))
        .join(Category, col(Category.id) == col(Event.category_id))
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .where(col(Event.id).in_(list(event_ids)))
        .execution_options(populate_existing=True)
    ).all()
    known = calendars(session, (code for _, c, _ in rows for code in c.calendar_codes()))
    policies: dict[int, SlaPolicy] = {}
    found: dict[int, Loaded] = {}
    for event, category, grid_code in rows:
        assert event.id is not None and category.id is not None
        policy = policies.get(category.id) or policies.setdefault(
            category.id, policy_for(category, known)
        )
        found[event.id] = Loaded(
            event=event,
            category=category,
            grid_code=grid_code,
            policy=policy,
            state=to_state(event, category_code=category.code, grid_code=grid_code),
        )
    return found
