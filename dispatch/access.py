"""Who may see which event: ``domain.jurisdiction`` applied to events, as a SQL filter for
lists and per object. An event's place is its grid, its community and the department it is
routed to; its reporter and its holder see it too."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col

from dispatch.events.models import Event
from domain.jurisdiction import Place, Principal, can_see
from kernel.errors import NotFound
from staff.jurisdiction import visible_sql


def place_of(event: Event) -> Place:
    return Place(event.grid_id, event.community_id, event.department)


def visible(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause selecting the events ``principal`` may see."""
    return visible_sql(
        principal,
        grid=col(Event.grid_id),
        community=col(Event.community_id),
        department=col(Event.department),
        involved=(col(Event.assignee_id), col(Event.reporter_id)),
    )


def check_visible(principal: Principal, event: Event | None, event_id: int) -> Event:
    """The event when ``principal`` may see it; otherwise 404 (not 403: no existence leak)."""
    if event is None or not can_see(
        principal, place_of(event), (event.assignee_id, event.reporter_id)
    ):
        raise NotFound({"loc": ["event_id"], "msg": f"no event {event_id}"})
    return event
