"""Who may see which event: one rule, used both as a SQL filter (lists) and per object.

- member, head: events of their own grid, and events they reported or are assigned;
- community: events of their community, and events assigned to them;
- department: events routed to their department, and events assigned to them;
- dispatcher, evaluator, admin: every event (evaluators only read: routes say so).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true
from sqlmodel import col

from dispatch.models import Event
from kernel.errors import NotFound
from staff.models import Role
from staff.service import Principal

SEE_ALL = frozenset({Role.dispatcher, Role.evaluator, Role.admin})


def visible(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause selecting the events ``principal`` may see."""
    if principal.role in SEE_ALL:
        return true()
    mine = or_(
        col(Event.assignee_id) == principal.staff_id,
        col(Event.reporter_id) == principal.staff_id,
    )
    if principal.role in (Role.member, Role.head) and principal.grid_id is not None:
        return or_(col(Event.grid_id) == principal.grid_id, mine)
    if principal.role == Role.community and principal.community_id is not None:
        return or_(col(Event.community_id) == principal.community_id, mine)
    if principal.role == Role.department and principal.department:
        return or_(col(Event.department) == principal.department, mine)
    return or_(mine, false())


def can_see(principal: Principal, event: Event) -> bool:
    if principal.role in SEE_ALL:
        return True
    if principal.staff_id in (event.assignee_id, event.reporter_id):
        return True
    if principal.role in (Role.member, Role.head):
        return principal.grid_id is not None and event.grid_id == principal.grid_id
    if principal.role == Role.community:
        return principal.community_id is not None and event.community_id == principal.community_id
    if principal.role == Role.department:
        return bool(principal.department) and event.department == principal.department
    return False


def check_visible(principal: Principal, event: Event | None, event_id: int) -> Event:
    """The event when ``principal`` may see it; otherwise 404 (not 403: no existence leak)."""
    if event is None or not can_see(principal, event):
        raise NotFound({"loc": ["event_id"], "msg": f"no event {event_id}"})
    return event
