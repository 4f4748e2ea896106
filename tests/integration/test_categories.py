"""Categories without HTTP: the seed's contents, and loading it again. Reading and the admin's
writes over HTTP are in tests/e2e/test_categories.py."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from dispatch.categories.service import load_categories
from kernel.settings import get_settings
from tests.kit.data import SEED


def test_seed_has_the_street_problems_with_sane_limits() -> None:
    names = {c["name"] for c in SEED}
    for must in ("暴露垃圾", "乱堆物料", "占道经营", "违章停车", "井盖缺损", "路灯损坏", "绿化损毁",
                 "小广告", "违法建设", "消防通道堵塞", "安全隐患", "矛盾纠纷"):  # fmt: skip
        assert must in names
    assert 15 <= len(SEED) <= 25
    departments = {"城管", "公安", "住建", "应急", "市场监管", "卫健"}
    for c in SEED:
        assert c["department"] in departments
        assert c["code"].isascii() and c["code"].islower()
        if not c["big"]:
            assert 30 <= c["resolve_minutes"] <= 60, c
        assert 0 < c["ack_minutes"] <= c["resolve_minutes"]
    assert len({c["code"] for c in SEED}) == len({c["name"] for c in SEED}) == len(SEED)


def test_loading_twice_creates_nothing_and_keeps_admin_changes(db: Session) -> None:
    db.execute(text("UPDATE category SET resolve_minutes = 55 WHERE code = 'exposed_garbage'"))
    again = load_categories(session=db, path=get_settings().data_dir / "categories.json")
    assert again == {"categories": len(SEED), "created": 0}
    minutes = db.execute(
        text("SELECT resolve_minutes FROM category WHERE code = 'exposed_garbage'")
    ).scalar_one()
    assert minutes == 55
