"""The app's route table as the tests see it: every served route with its effective path,
methods and dependency tree, the roles it declares, and a roster user for each role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from domain.roles import Role
from service.api.deps import RolesAllowed

PUBLIC = {"/api/v1/health", "/api/v1/auth/token", "/api/v1/auth/refresh"}
USER_OF_ROLE = {
    Role.MEMBER: "g01m1",
    Role.HEAD: "g01h",
    Role.COMMUNITY: "comm01",
    Role.DISPATCHER: "dispatch1",
    Role.DEPARTMENT: "dept_cg",
    Role.EVALUATOR: "evaluator",
    Role.ADMIN: "admin",
}


def declared_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route admits: the intersection of every RolesAllowed in its dependency tree
    (None when there is none)."""
    found: list[frozenset[Role]] = []
    stack = [dependant]
    while stack:
        d = stack.pop()
        if isinstance(d.call, RolesAllowed):
            found.append(d.call.roles)
        stack.extend(d.dependencies)
    if not found:
        return None
    roles = found[0]
    for more in found[1:]:
        roles &= more
    return roles


@dataclass(frozen=True)
class ApiRoute:
    """One route as the app serves it (FastAPI resolves included routers lazily, so the
    effective path and dependency tree come from ``iter_route_contexts``)."""

    path: str
    methods: frozenset[str]
    dependant: Dependant
    response_class: Any


def all_routes(app: FastAPI) -> list[ApiRoute]:
    out = []
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            out.append(
                ApiRoute(
                    path=str(ctx.path_format),
                    methods=frozenset(ctx.methods or ()),
                    dependant=ctx.dependant,
                    response_class=ctx.response_class,
                )
            )
    return out


def api_routes(app: FastAPI) -> list[ApiRoute]:
    return [r for r in all_routes(app) if r.path.startswith("/api/v1") and r.path not in PUBLIC]
