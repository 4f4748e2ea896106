"""The roster: people (staff) and their logins. Creating one checks the workplace the role
needs (a grid for grid staff, a community, a department); the demo roster loads from JSON."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, col, select

from domain.roles import GRID_ROLES, Role
from grids.models import Community, Grid
from kernel.errors import Invalid
from kernel.uow import UnitOfWork
from staff.models import Staff, User
from staff.security import hash_password


def _resolve_community(session: Session, community: str) -> Community:
    """By code, or by name where only one subdistrict has a community of that name."""
    rows = session.exec(
        select(Community).where(
            (col(Community.name) == community) | (col(Community.code) == community)
        )
    ).all()
    by_code = [row for row in rows if row.code == community]
    if by_code:
        return by_code[0]
    if not rows:
        raise Invalid({"field": "community", "msg": f"no community named {community!r}"})
    if len(rows) > 1:
        raise Invalid(
            {"field": "community", "msg": f"{community!r} is in several subdistricts: use the code"}
        )
    return rows[0]


def create_user(
    *,
    uow: UnitOfWork,
    username: str,
    password: str,
    role: Role,
    name: str,
    grid_code: str | None = None,
    community: str | None = None,
    department: str | None = None,
    phone: str | None = None,
) -> User:
    """Create a staff record and its login (committed); grid roles need a grid, departments a
    department."""
    session = uow.session
    if len(password) < 8:
        raise Invalid({"field": "password", "msg": "at least 8 characters"})
    if session.execute(select(col(User.id)).where(col(User.username) == username)).first():
        raise Invalid({"field": "username", "msg": f"{username!r} is taken"})
    grid_id = community_id = None
    if role in GRID_ROLES:
        if not grid_code:
            raise Invalid({"field": "grid", "msg": f"role {role} needs --grid"})
        grid = session.execute(select(Grid).where(col(Grid.code) == grid_code)).scalar_one_or_none()
        if grid is None:
            raise Invalid({"field": "grid", "msg": f"no grid with code {grid_code!r}"})
        grid_id, community_id = grid.id, grid.community_id
    elif role == Role.COMMUNITY:
        if not community:
            raise Invalid({"field": "community", "msg": "role community needs --community"})
        community_id = _resolve_community(session, community).id
    elif role == Role.DEPARTMENT and not department:
        raise Invalid({"field": "department", "msg": "role department needs --department"})
    staff = Staff(
        name=name,
        phone=phone,
        role=role,
        grid_id=grid_id,
        community_id=community_id,
        department=department,
    )
    session.add(staff)
    session.flush()
    assert staff.id is not None
    user = User(username=username, password_hash=hash_password(password), staff_id=staff.id)
    session.add(user)
    uow.commit()
    return user


def load_roster(*, session: Session, path: Path, password: str) -> dict[str, int]:
    """Create the roster's staff and logins; people already loaded (by username) are kept.
    Part of the caller's transaction (no commit)."""
    people = json.loads(path.read_text(encoding="utf-8"))["people"]
    existing = set(session.execute(select(col(User.username))).scalars())
    pw_hash = hash_password(password)  # one hash for all demo accounts: argon2 is slow on purpose
    grids = {g.code: g for g in session.execute(select(Grid)).scalars()}
    communities = {c.name: c for c in session.execute(select(Community)).scalars()}
    created = 0
    for p in people:
        if p["username"] in existing:
            continue
        role = Role(p["role"])
        grid = grids.get(p.get("grid_code") or "")
        if role in GRID_ROLES and grid is None:
            raise Invalid(
                {
                    "field": "grid_code",
                    "msg": f"{p['username']}: unknown grid {p.get('grid_code')!r}",
                }
            )
        community = communities.get(p.get("community") or "")
        staff = Staff(
            name=p["name"],
            phone=p.get("phone"),
            role=role,
            grid_id=grid.id if grid else None,
            community_id=grid.community_id if grid else (community.id if community else None),
            department=p.get("department"),
        )
        session.add(staff)
        session.flush()
        assert staff.id is not None
        session.add(User(username=p["username"], password_hash=pw_hash, staff_id=staff.id))
        created += 1
    session.flush()
    return {"people": len(people), "created": created}


def username_for(session: Session, staff_id: int) -> str | None:
    """The login name of a staff member (None when they have no login)."""
    return session.exec(select(User.username).where(col(User.staff_id) == staff_id)).first()
