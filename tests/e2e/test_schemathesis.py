"""Schemathesis against the app's own OpenAPI document: no request it generates, valid or not,
may produce a 5xx. In process (ASGI), on the rolled-back test session, each operation called
with a token of a role it declares, a bounded number of examples each (deterministic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from domain.roles import Role
from tests.kit.events import MakeEvent
from tests.kit.routes import USER_OF_ROLE, api_routes, declared_roles

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

Headers = Callable[[str], dict[str, str]]
EXAMPLES = 15
# Who calls an operation: the first of these roles it declares (grid staff first, so reports
# and patrols get past the role check and into validation).
PREFERENCE = [
    Role.MEMBER,
    Role.HEAD,
    Role.DISPATCHER,
    Role.ADMIN,
    Role.COMMUNITY,
    Role.DEPARTMENT,
    Role.EVALUATOR,
]
SKIP = {
    ("POST", "/api/v1/auth/token"),  # argon2 on purpose: slow by design, covered by test_auth
    ("GET", "/api/v1/health"),  # 503 by design while no worker runs (test_foundation covers it)
}


def _callers(app: FastAPI) -> dict[tuple[str, str], str]:
    callers: dict[tuple[str, str], str] = {}
    for route in api_routes(app):
        roles = declared_roles(route.dependant) or frozenset()
        user = next((USER_OF_ROLE[r] for r in PREFERENCE if r in roles), "admin")
        for method in route.methods:
            callers[(method, route.path)] = user
    return callers


def _streams(op: Any) -> bool:
    """Endless responses (SSE) are not fuzzed here; test_authz_matrix checks their roles."""
    for response in (op.definition.raw.get("responses") or {}).values():
        if "text/event-stream" in (response.get("content") or {}):
            return True
    return False


def _fuzz(
    label: str, strategy: Any, headers: dict[str, str], failures: list[str], sent: list[int]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        sent.append(1)
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the in-process transport re-raises what would be a 500
            failures.append(f"{label}: raised {exc!r}\n  {case.as_curl_command()}")
            raise
        if response.status_code >= 500:
            failures.append(
                f"{label}: {response.status_code} {response.text[:300]}\n  {case.as_curl_command()}"
            )

    run()


def test_no_operation_answers_5xx(
    app: FastAPI, token_for: Headers, make_event: MakeEvent, capsys: Any
) -> None:
    event_id = make_event("g01m1", assignee="g01m2")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # valid and invalid cases, NUL characters included (test_hostile_input.py sends what a
    # schema cannot describe: surrogates, NaN, numbers past 64 bits, edge dates, cursors)
    schema.config.generation.update(modes=list(GenerationMode), allow_x00=True)
    callers = _callers(app)
    failures: list[str] = []
    sent: list[int] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]
        method, path = op.method.upper(), op.path
        if (method, path) in SKIP or _streams(op):
            continue
        user = callers.get((method, path), "admin")
        strategies = [op.as_strategy()]
        if "{event_id}" in path:  # also on a real event, so handlers get past the lookup
            strategies.append(op.as_strategy(path_parameters={"event_id": event_id}))
        _fuzz(f"{method} {path} as {user}", st.one_of(*strategies), token_for(user), failures, sent)
        fuzzed += 1
    with capsys.disabled():
        print(f"\nschemathesis: {fuzzed} operations, {len(sent)} requests, {len(failures)} 5xx")
    assert fuzzed >= 20, f"only {fuzzed} operations were fuzzed"
    assert not failures, "\n".join(failures)
