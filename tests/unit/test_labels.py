"""Every code an export writes in Chinese has its Chinese name (a new status or channel without
one would show its code to the evaluator)."""

from __future__ import annotations

from domain.intake import CHANNEL_LABELS, Channel
from domain.lifecycle.model import STATUS_LABELS, Status
from domain.roles import LEVEL_LABELS, LEVELS, ROLE_LABELS, Role


def test_every_code_has_a_chinese_name() -> None:
    assert set(STATUS_LABELS) == set(Status)
    assert set(CHANNEL_LABELS) == set(Channel)
    assert set(ROLE_LABELS) == set(Role)
    assert set(LEVEL_LABELS) == set(LEVELS)
    for labels in (STATUS_LABELS, CHANNEL_LABELS, ROLE_LABELS, LEVEL_LABELS):
        names = list(labels.values())
        assert len(set(names)) == len(names)
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names)
