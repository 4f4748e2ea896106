"""Who people are and where events stand: roles and the escalation ladder's levels.

The ladder (DESIGN §2): level 0 grid (网格) → 1 community (社区) → 2 subdistrict command centre
(街道指挥中心) → 3 department (职能部门). Each handling role works at one level; evaluators and
administrators work at none (they read, or manage the system).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"  # 网格员
    HEAD = "head"  # 网格长
    COMMUNITY = "community"  # 社区工作人员
    DISPATCHER = "dispatcher"  # 街道指挥中心
    DEPARTMENT = "department"  # 职能部门
    EVALUATOR = "evaluator"  # 考核评估
    ADMIN = "admin"


GRID_LEVEL, COMMUNITY_LEVEL, COMMAND_CENTRE_LEVEL, DEPARTMENT_LEVEL = 0, 1, 2, 3
MIN_LEVEL, MAX_LEVEL = GRID_LEVEL, DEPARTMENT_LEVEL
LEVELS: tuple[int, ...] = tuple(range(MIN_LEVEL, MAX_LEVEL + 1))
#: How the API and exports name a level (codes), and how people read it (Chinese).
LEVEL_NAMES: Mapping[int, str] = {0: "grid", 1: "community", 2: "command_centre", 3: "department"}
LEVEL_LABELS: Mapping[int, str] = {0: "网格", 1: "社区", 2: "街道指挥中心", 3: "职能部门"}
ROLE_LABELS: Mapping[str, str] = {
    Role.MEMBER: "网格员",
    Role.HEAD: "网格长",
    Role.COMMUNITY: "社区工作人员",
    Role.DISPATCHER: "街道指挥中心",
    Role.DEPARTMENT: "职能部门",
    Role.EVALUATOR: "考核评估",
    Role.ADMIN: "管理员",
}

#: The level each handling role works at.
ROLE_LEVEL: Mapping[Role, int] = {
    Role.MEMBER: GRID_LEVEL,
    Role.HEAD: GRID_LEVEL,
    Role.COMMUNITY: COMMUNITY_LEVEL,
    Role.DISPATCHER: COMMAND_CENTRE_LEVEL,
    Role.DEPARTMENT: DEPARTMENT_LEVEL,
}
#: The roles that handle events at each level.
LEVEL_ROLES: Mapping[int, tuple[Role, ...]] = {
    level: tuple(role for role, at in ROLE_LEVEL.items() if at == level) for level in LEVELS
}
#: The role that stands for a level when an event waits in that level's queue.
LEVEL_QUEUE_ROLE: Mapping[int, Role] = {
    GRID_LEVEL: Role.HEAD,
    COMMUNITY_LEVEL: Role.COMMUNITY,
    COMMAND_CENTRE_LEVEL: Role.DISPATCHER,
    DEPARTMENT_LEVEL: Role.DEPARTMENT,
}
#: Levels worked from a shared queue: an event dispatched there waits for any of the level's
#: staff to claim it (``claim``, or ``acknowledge``) and the assignment rules never name one
#: person. The command centre works this way (big events start there; escalations reach it):
#: whichever dispatcher is free takes the next one (issue 18, docs/decisions/0014).
SHARED_QUEUE_LEVELS: frozenset[int] = frozenset({COMMAND_CENTRE_LEVEL})
#: Whose work a role's superior oversees (督办, and the approval of a holder's extension or
#: parking request): a grid member's is the grid head (网格长), the head's the community, the
#: community's and a department's the command centre, which supervises itself (another of its
#: staff, or its lead, decides).
SUPERIOR: Mapping[Role, Role] = {
    Role.MEMBER: Role.HEAD,
    Role.HEAD: Role.COMMUNITY,
    Role.COMMUNITY: Role.DISPATCHER,
    Role.DISPATCHER: Role.DISPATCHER,
    Role.DEPARTMENT: Role.DISPATCHER,
}
#: Roles tied to one grid (一长两员).
GRID_ROLES: frozenset[Role] = frozenset({Role.MEMBER, Role.HEAD})
#: Everyone but the evaluators may write (evaluators only read).
WRITERS: frozenset[Role] = frozenset(Role) - {Role.EVALUATOR}


def start_level(big: bool) -> int:
    """Where a new event starts: "small matters stay in the grid" (level 0), big categories at
    the command centre (level 2), which sends them on to a department."""
    return COMMAND_CENTRE_LEVEL if big else GRID_LEVEL
