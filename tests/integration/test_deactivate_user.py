"""``wangge deactivate-user``: the login can no longer sign in or refresh, its refresh tokens
are revoked in PostgreSQL and its access tokens marked void in Redis (issue 19, finding 6)."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from domain.roles import Role
from kernel.uow import UnitOfWork
from service.cli import app as cli
from staff.auth import issue_tokens, principal_for
from staff.models import RefreshToken, User
from staff.revocation import USER_KEY
from staff.roster import create_user


def test_cli_deactivates_and_revokes(committed: Engine, redis: Redis) -> None:
    with Session(committed, expire_on_commit=False) as session:
        uow = UnitOfWork(session)
        user = create_user(uow=uow, username="leaver", password="leaver-password-1",
                           role=Role.EVALUATOR, name="离职者")  # fmt: skip
        uow.commit()
        issue_tokens(session, principal_for(session, user), datetime.now(UTC))
        session.commit()
    try:
        result = CliRunner().invoke(cli, ["deactivate-user", "leaver"])
        assert result.exit_code == 0, result.output
        assert "deactivated user leaver" in result.output
        with Session(committed) as session:
            row = session.exec(select(User).where(col(User.username) == "leaver")).one()
            assert row.is_active is False
            tokens = session.exec(
                select(RefreshToken).where(col(RefreshToken.user_id) == row.id)
            ).all()
            assert tokens and all(t.revoked_at is not None for t in tokens)
            assert redis.get(f"{USER_KEY}{row.id}") is not None
        missing = CliRunner().invoke(cli, ["deactivate-user", "nobody-at-all"])
        assert missing.exit_code == 2 and "no user named" in missing.output
    finally:
        with committed.begin() as conn:
            conn.execute(text("DELETE FROM refresh_token WHERE user_id IN "
                              "(SELECT id FROM users WHERE username = 'leaver')"))  # fmt: skip
            staff = conn.execute(
                text("DELETE FROM users WHERE username = 'leaver' RETURNING staff_id")
            ).scalar_one()
            conn.execute(text("DELETE FROM staff WHERE id = :id"), {"id": staff})
