"""Settings refuse what would make a deployment insecure (issue 19, finding 6): an unset
WANGGE_ENV is not development, so the public development secret is refused unless WANGGE_ENV
says dev or test explicitly."""

from __future__ import annotations

import jwt
import pytest

from kernel.settings import DEV_SECRET, InsecureSettings, Settings


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WANGGE_ENV", "WANGGE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_unset_env_refuses_the_dev_secret() -> None:
    with pytest.raises(InsecureSettings, match="WANGGE_ENV unset"):
        Settings(_env_file=None)


@pytest.mark.parametrize("env", ["prod", "staging", "Dev", ""])
def test_any_env_but_dev_or_test_refuses_the_dev_secret(env: str) -> None:
    with pytest.raises(InsecureSettings):
        Settings(_env_file=None, env=env)
    with pytest.raises(InsecureSettings):
        Settings(_env_file=None, env=env, secret_key="short")


@pytest.mark.parametrize("env", ["dev", "test"])
def test_dev_and_test_accept_it_explicitly(env: str) -> None:
    assert Settings(_env_file=None, env=env).secret_key == DEV_SECRET


def test_a_long_secret_runs_anywhere_and_a_forged_dev_token_fails() -> None:
    secret = "s" * 48
    settings = Settings(_env_file=None, secret_key=secret)
    assert not settings.is_dev
    forged = jwt.encode({"sub": "1", "role": "admin", "typ": "access", "exp": 2**40}, DEV_SECRET)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, settings.secret_key, algorithms=["HS256"])


def test_rates_are_checked_when_settings_load() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        Settings(_env_file=None, env="test", report_rate_per_source="lots")
