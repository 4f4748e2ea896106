"""The evaluator-only audit API over HTTP: the verification report as JSON, the day heads,
the refusals (other roles 403, a reversed window 422, both in FastAPI's list form)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from domain.roles import Role
from kernel.settings import get_settings
from tests.conftest import Clock
from tests.kit.events import MakeEvent
from tests.kit.routes import USER_OF_ROLE

Headers = Callable[[str], dict[str, str]]


def _today(clock: Clock) -> str:
    return clock.now.astimezone(get_settings().tz).date().isoformat()


def test_the_evaluator_verifies_a_window_and_sees_an_edit(
    client: TestClient, token_for: Headers, make_event: MakeEvent, db: Session, clock: Clock
) -> None:
    ids = [make_event("g01m1", assignee="g01m2") for _ in range(3)]
    window = {"since": _today(clock), "until": _today(clock)}
    answer = client.get("/api/v1/audit/verify", params=window, headers=token_for("evaluator"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is True, report
    chain = next(c for c in report["checks"] if c["name"] == "chain")
    assert chain["counts"]["events"] == 3 and chain["counts"]["audit rows"] >= 6

    db.execute(text("UPDATE event SET assignee_id = NULL WHERE id = :id"), {"id": ids[1]})
    report = client.get(
        "/api/v1/audit/verify", params=window, headers=token_for("evaluator")
    ).json()
    assert report["ok"] is False
    replay = next(c for c in report["checks"] if c["name"] == "replay")
    assert replay["discrepancies"] == [
        {
            "what": "event row's assignee_id differs from its audit log",
            "event_ids": [ids[1]],
            "more_ids": 0,
            "detail": {"events": 1},
        }
    ]


def test_other_roles_are_refused(client: TestClient, token_for: Headers) -> None:
    for role, user in USER_OF_ROLE.items():
        for path in ("/api/v1/audit/verify", "/api/v1/audit/heads"):
            answer = client.get(path, headers=token_for(user))
            if role is Role.EVALUATOR:
                assert answer.status_code == 200, (path, answer.text)
                continue
            assert answer.status_code == 403, (role, path)
            (error,) = answer.json()["detail"]
            assert set(error) >= {"loc", "msg", "type"}
            assert error["msg"].startswith(f"role {role.value} may not do this")


def test_a_reversed_window_is_a_422_naming_until(client: TestClient, token_for: Headers) -> None:
    answer = client.get(
        "/api/v1/audit/verify",
        params={"since": "2026-03-02", "until": "2026-03-01"},
        headers=token_for("evaluator"),
    )
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["query", "until"] and error["msg"] == "until is before since"
