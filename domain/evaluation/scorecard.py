"""The scorecard: 100 points shared among indicators (weights and bands as data), graded on a
configurable scale: the seed's 优 ≥ 90, 良 80–90, 中 60–80, 差 < 60 by default, or any other
(``grade_scale`` naming one of ``grade_scales`` in data/scorecard.json, such as A–E)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.evaluation.indicators import INDICATOR_BY_CODE


@dataclass(frozen=True)
class ScoreRule:
    """``weight`` points for an indicator: all of them at ``full_at`` or better, none at
    ``zero_at`` or worse, linear in between (``full_at < zero_at`` when lower is better)."""

    indicator: str
    weight: float
    full_at: float
    zero_at: float

    def points(self, value: float) -> float:
        share = (value - self.zero_at) / (self.full_at - self.zero_at)
        return self.weight * min(1.0, max(0.0, share))


@dataclass(frozen=True)
class Scorecard:
    rules: tuple[ScoreRule, ...]
    grades: tuple[tuple[float, str], ...] = ((90.0, "优"), (80.0, "良"), (60.0, "中"), (0.0, "差"))

    def __post_init__(self) -> None:
        total = sum(r.weight for r in self.rules)
        if abs(total - 100.0) > 1e-9:
            raise ValueError(f"scorecard weights add up to {total}, not 100")
        for rule in self.rules:
            if rule.indicator not in INDICATOR_BY_CODE:
                raise ValueError(f"scorecard names an unknown indicator {rule.indicator!r}")
            if rule.full_at == rule.zero_at:
                raise ValueError(f"{rule.indicator}: full_at and zero_at must differ")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Scorecard:
        rules = tuple(
            ScoreRule(
                indicator=str(r["indicator"]),
                weight=float(r["weight"]),
                full_at=float(r["full_at"]),
                zero_at=float(r["zero_at"]),
            )
            for r in data["rules"]
        )
        scales = data.get("grade_scales") or {}
        name = data.get("grade_scale")
        if name is None:
            return cls(rules=rules)
        if name not in scales:
            raise ValueError(f"grade_scale {name!r} is not one of {sorted(scales)}")
        grades = tuple(sorted(((float(g["min"]), str(g["grade"])) for g in scales[name]),
                              reverse=True))  # fmt: skip
        if not grades or grades[-1][0] > 0:
            raise ValueError(f"grade scale {name!r} must have a band starting at 0")
        if len({floor for floor, _ in grades}) != len(grades):
            raise ValueError(f"grade scale {name!r} has two bands with the same floor")
        return cls(rules=rules, grades=grades)

    def grade(self, score: float) -> str:
        for floor, name in self.grades:
            if score >= floor:
                return name
        return self.grades[-1][1]


@dataclass(frozen=True)
class ScoreLine:
    """How one indicator earned its points; ``applicable`` False when it had no data."""

    rule: ScoreRule
    value: float | None
    points: float | None

    @property
    def applicable(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Score:
    lines: tuple[ScoreLine, ...]
    score: float | None
    grade: str | None
    weights_applied: float = 0.0
    notes: tuple[str, ...] = field(default=())


def score(card: Scorecard, values: Mapping[str, float | None]) -> Score:
    """The 100-point score: points of each applicable indicator, rescaled to 100 when some had
    no data (their weight is left out rather than given or taken away)."""
    lines: list[ScoreLine] = []
    earned = applied = 0.0
    for rule in card.rules:
        value = values.get(rule.indicator)
        if value is None:
            lines.append(ScoreLine(rule, None, None))
            continue
        points = round(rule.points(value), 4)
        lines.append(ScoreLine(rule, value, points))
        earned += points
        applied += rule.weight
    if applied == 0:
        return Score(tuple(lines), None, None, 0.0, ("no indicator had data in the window",))
    total = round(earned * 100.0 / applied, 2)
    notes: tuple[str, ...] = ()
    if applied < 100.0:
        notes = (f"rescaled: indicators worth {100.0 - applied:g} points had no data",)
    return Score(tuple(lines), total, card.grade(total), applied, notes)
