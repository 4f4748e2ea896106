"""The foundation without HTTP: PostGIS on the test database, settings. Health, metrics,
request ids and the OpenAPI document over HTTP are in tests/e2e/test_foundation.py."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session

from kernel.settings import DEV_SECRET, InsecureSettings, Settings


def test_postgis_extension_exists(db: Session) -> None:
    version = db.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    ).scalar_one_or_none()
    assert version is not None and version.startswith("3.")
    assert db.execute(text("SELECT ST_AsText(ST_MakePoint(1, 2))")).scalar_one() == "POINT(1 2)"


def test_settings_refuse_the_dev_secret_outside_dev() -> None:
    with pytest.raises(InsecureSettings, match="WANGGE_SECRET_KEY"):
        Settings(env="prod", secret_key=DEV_SECRET)
    assert Settings(env="prod", secret_key="x" * 40).env == "prod"
    assert Settings(env="dev").secret_key == DEV_SECRET
