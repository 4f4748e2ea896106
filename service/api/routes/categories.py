"""Routes of the categories. Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from dispatch.categories import service
from dispatch.categories.models import Category
from dispatch.categories.schemas import CategoryCreate, CategoryOut, CategoryUpdate
from domain.jurisdiction import Principal
from domain.roles import Role
from service.api.deps import AnyUser, Now, RolesAllowed, SessionDep, UowDep
from service.api.docs import AUTHENTICATED, problems

router = APIRouter(prefix="/api/v1/categories", tags=["categories"], responses=AUTHENTICATED)
Admin = Annotated[Principal, Depends(RolesAllowed(Role.ADMIN))]
CodePath = Annotated[str, Path(max_length=32)]


def _out(c: Category) -> CategoryOut:
    return CategoryOut.model_validate(c, from_attributes=True)


@router.get("", response_model=list[CategoryOut])
def list_categories(
    session: SessionDep, _: AnyUser, include_inactive: bool = False
) -> list[CategoryOut]:
    """The categories a report can name (add ``include_inactive=true`` for retired ones)."""
    return [
        _out(c) for c in service.list_categories(session=session, include_inactive=include_inactive)
    ]


@router.post("", response_model=CategoryOut, status_code=201, responses=problems(409))
def create_category(body: CategoryCreate, uow: UowDep, _: Admin, now: Now) -> CategoryOut:
    """Add a category (admin). Minutes may be fractional; a taken code or name is a 409; a
    calendar that has no days loaded for the current year is a 422."""
    return _out(service.create(uow=uow, data=body, now=now))


@router.patch("/{code}", response_model=CategoryOut, responses=problems(404, 409))
def update_category(
    code: CodePath, body: CategoryUpdate, uow: UowDep, _: Admin, now: Now
) -> CategoryOut:
    """Change a category's name, minutes, big flag, department, active flag or calendar
    (admin). New minutes and calendars apply to deadlines set from now on."""
    return _out(service.update(uow=uow, code=code, changes=body.changes(), now=now))
