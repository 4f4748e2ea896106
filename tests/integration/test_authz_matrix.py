"""The authorization matrix's premise, from the app's route table (no request is made):
every ``/api/v1`` route must declare its roles with ``RolesAllowed`` (found in
``route.dependant``, through sub-dependencies); a route added later without one fails here.
Calling every route as every role is tests/e2e/test_authz_matrix.py.
"""

from __future__ import annotations

from service.api.app import create_app
from tests.kit.routes import PUBLIC, all_routes, api_routes, declared_roles


def test_every_api_route_declares_its_roles() -> None:
    app = create_app()
    routes = api_routes(app)
    assert len(routes) >= 8, "the route table looks empty"
    undeclared = [
        f"{sorted(r.methods)} {r.path}" for r in routes if not declared_roles(r.dependant)
    ]
    assert not undeclared, f"routes without RolesAllowed: {undeclared}"
    public = {r.path for r in all_routes(app)} & PUBLIC
    assert public == PUBLIC, "the public exceptions must still exist (else shrink PUBLIC)"
