"""The pure rules of the statistics, with plain values: blocks, percentiles, the NumPy merge,
indicator formulas, the scorecard."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.evaluation.days import MAX_BLOCK_LEVEL, GroupBy, block_end, cover, decompose, periods
from domain.evaluation.indicators import (
    AUDIT_COUNTERS,
    INDICATOR_BY_CODE,
    INDICATORS,
    Kind,
    Source,
    evaluate,
)
from domain.evaluation.resolution import percentile, rank, summarize
from domain.evaluation.scorecard import Scorecard, ScoreRule, score
from evaluation import histogram as hist

ROOT = Path(__file__).resolve().parents[3]


# --- blocks ----------------------------------------------------------------------------------


@given(st.integers(0, 30_000), st.integers(0, 1500))
def test_decompose_tiles_the_window_with_aligned_blocks(first: int, length: int) -> None:
    last = first + length
    blocks = decompose(first, last)
    days = [d for lvl, start in blocks for d in range(start, block_end(lvl, start) + 1)]
    assert days == list(range(first, last + 1))
    for lvl, start in blocks:
        assert start % (1 << lvl) == 0 and 0 <= lvl <= MAX_BLOCK_LEVEL
    per_level: dict[int, int] = {}
    for lvl, _ in blocks:
        per_level[lvl] = per_level.get(lvl, 0) + 1
    assert all(n <= 2 for lvl, n in per_level.items() if lvl < MAX_BLOCK_LEVEL)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 800), st.integers(0, 2**32))
def test_cover_uses_sealed_blocks_and_reads_the_rest_as_days(
    first: int, length: int, seed: int
) -> None:
    rng = random.Random(seed)
    last = first + length
    sealed = {
        (lvl, start)
        for lvl in range(MAX_BLOCK_LEVEL + 1)
        for start in range(first - (first % (1 << lvl)), last + 1, 1 << lvl)
        if rng.random() < 0.5
    }
    use, leaves = cover(first, last, sealed)
    assert set(use) <= sealed
    days = sorted([d for lvl, s in use for d in range(s, block_end(lvl, s) + 1)] + list(leaves))
    assert days == list(range(first, last + 1))


def test_a_window_of_a_year_reads_few_blocks() -> None:
    first = 20_000
    blocks = decompose(first, first + 364)
    assert len(blocks) <= 2 * (MAX_BLOCK_LEVEL + 1)
    assert max(lvl for lvl, _ in blocks) >= 7


def test_periods_days_iso_weeks_and_months_are_clipped_to_the_window() -> None:
    days = periods(date(2024, 1, 30), date(2024, 2, 2), GroupBy.day)
    assert [p.label for p in days] == ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
    weeks = periods(date(2024, 1, 3), date(2024, 1, 16), GroupBy.week)
    assert [(p.label, p.first, p.last) for p in weeks] == [
        ("2024-W01", date(2024, 1, 3), date(2024, 1, 7)),
        ("2024-W02", date(2024, 1, 8), date(2024, 1, 14)),
        ("2024-W03", date(2024, 1, 15), date(2024, 1, 16)),
    ]
    months = periods(date(2023, 12, 15), date(2024, 2, 10), GroupBy.month)
    assert [(p.label, p.first, p.last) for p in months] == [
        ("2023-12", date(2023, 12, 15), date(2023, 12, 31)),
        ("2024-01", date(2024, 1, 1), date(2024, 1, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 10)),
    ]
    with pytest.raises(ValueError):
        periods(date(2024, 1, 1), date(2024, 1, 2), GroupBy.grid)


# --- percentiles -----------------------------------------------------------------------------


def test_nearest_rank_percentiles() -> None:
    assert [rank(10, p) for p in (50, 90, 95)] == [5, 9, 10]
    assert [rank(1, p) for p in (50, 90, 95)] == [1, 1, 1]
    assert rank(70, 90) == 63  # exact: 0.9 * 70 is 63, not 63.000…01
    values = {30: 1, 31: 2, 45: 3, 90: 1, 400: 1}  # 8 values: 30 31 31 45 45 45 90 400
    assert percentile(values, 50) == 45
    assert percentile(values, 90) == 400
    assert percentile({}, 50) is None
    with pytest.raises(ValueError):
        rank(0, 50)


def test_summarize_counts_on_time_and_flags_small_groups() -> None:
    r = summarize({30: (2, 2), 50: (1, 0), 70: (1, 0)})
    assert (r.count, r.mean, r.p50, r.p90, r.p95, r.max) == (4, 45.0, 30, 70, 70, 70)
    assert (r.on_time, r.on_time_rate, r.small_sample) == (2, 0.5, True)
    assert summarize(dict.fromkeys(range(5), (1, 1))).small_sample is False
    empty = summarize({})
    assert (empty.count, empty.p50, empty.on_time_rate, empty.small_sample) == (0, None, None, True)


entries = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 3000), st.integers(0, 9)), max_size=300
)


@pytest.mark.parametrize("cells", [hist.DENSE_CELLS, 1])  # dense table + tail, or all sorted
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=entries)
def test_numpy_figures_equal_the_reference_per_group(
    rows: list[tuple[int, int, int]], cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hist, "DENSE_CELLS", cells)
    groups = 7
    e = hist.Entries.of(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[2] // 2 for r in rows]
    )
    f = hist.figures(e, groups)
    for g in range(groups):
        ref: dict[int, tuple[int, int]] = {}
        for k, m, n in rows:
            if k == g:
                a, b = ref.get(m, (0, 0))
                ref[m] = (a + n, b + n // 2)
        expect = summarize(ref)
        assert int(f.count[g]) == expect.count
        assert int(f.on_time[g]) == expect.on_time
        if expect.count:
            assert round(int(f.total[g]) / expect.count, 2) == expect.mean
            assert int(f.max[g]) == expect.max
            assert [int(f.percentiles[p][g]) for p in (50, 90, 95)] == [
                expect.p50, expect.p90, expect.p95,
            ]  # fmt: skip


@given(entries)
def test_packed_histograms_round_trip_and_merge(rows: list[tuple[int, int, int]]) -> None:
    e = hist.Entries.of(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [0] * len(rows)
    )
    blob = hist.encode(e)
    back = hist.decode(blob)
    merged = hist.compact(hist.concat([back, back]))
    c = hist.compact(e)
    assert np.array_equal(back.k, c.k) and np.array_equal(back.n, c.n)
    assert np.array_equal(merged.n, 2 * c.n) and np.array_equal(merged.m, c.m)
    assert len(blob) == 16 * len(c)


# --- indicators ------------------------------------------------------------------------------


def test_indicator_formulas_with_plain_values() -> None:
    totals = {
        "reported": 200.0, "voided": 10.0, "registered": 185.0, "public_registered": 9.0,
        "dispatched": 188.0, "dispatched_on_time": 180.0, "redispatches": 12.0,
        "escalations": 47.0,
        "handled": 170.0, "handled_on_time": 160.0, "handled_on_promise": 130.0, "reworks": 10.0,
        "closed": 168.0,
        "closed_on_time": 150.0, "closed_level0": 140.0, "closed_le2": 160.0,
        "patrolled_grid_days": 27.0, "grid_days": 30.0, "covered_area_km2": 16.18,
        "jurisdiction_area_km2": 16.18, "staffed_grids": 43.0, "grids": 44.0,
        "ever_registered": 186.0, "registered_on_time": 180.0, "voided_after_registration": 1.0,
        "reviews": 178.0, "reviews_on_time": 170.0, "dispatched_cases": 188.0,
        "extended_cases": 9.0, "parked_cases": 2.0, "returned_cases": 4.0, "reopened_cases": 1.0,
        "all_reports": 220.0, "linked_reports": 20.0, "verifications_due": 25.0,
        "verified_on_time": 22.0, "public_decided": 24.0, "public_valid": 18.0,
    }  # fmt: skip
    value = {i.code: evaluate(i, totals) for i in INDICATORS}
    expected = {
        "coverage": (16.18, 16.18, 1.0),
        "staffing": (43, 44, round(43 / 44, 6)),
        "patrol_coverage": (27, 30, 0.9),
        "valid_report": (190, 200, 0.95),
        "on_time_dispatch": (180, 188, round(180 / 188, 6)),
        "accurate_dispatch": (188, 200, 0.94),  # (dispatches − re-dispatches) / dispatches
        "on_time_handling": (130, 170, round(130 / 170, 6)),  # against the original promise
        "on_time_handling_stage": (160, 170, round(160 / 170, 6)),  # against the stage clock
        "closure_rate": (168, 190, round(168 / 190, 6)),
        "on_time_closure": (150, 190, round(150 / 190, 6)),
        "rework_rate": (10, 180, round(10 / 180, 6)),
        "kept_in_grid": (140, 168, round(140 / 168, 6)),
        "kept_in_subdistrict": (160, 168, round(160 / 168, 6)),
        "missed_report": (9, 185, round(9 / 185, 6)),
        "escalation_rate": (47, 188, 0.25),  # escalations (department dispatches too) / dispatched
        "registered_count": (186, 0, 186),  # a count: its value is the numerator
        "on_time_registration": (180, 186, round(180 / 186, 6)),
        "accurate_registration": (185, 186, round(185 / 186, 6)),
        "dispatch_count": (200, 0, 200),
        "closed_count": (168, 0, 168),
        "due_count": (190, 0, 190),
        "on_time_closure_of_closed": (150, 168, round(150 / 168, 6)),
        "on_time_review": (170, 178, round(170 / 178, 6)),
        "on_time_verification": (22, 25, 0.88),
        "valid_public_report": (18, 24, 0.75),
        "duplicate_share": (20, 220, round(20 / 220, 6)),
        "extension_rate": (9, 188, round(9 / 188, 6)),  # per dispatched case
        "parking_rate": (2, 188, round(2 / 188, 6)),
        "return_rate": (4, 188, round(4 / 188, 6)),
        "reopen_rate": (1, 188, round(1 / 188, 6)),
    }
    assert set(expected) == set(value)
    for code, (num, den, v) in expected.items():
        got = value[code]
        assert (got.numerator, got.denominator, got.value) == pytest.approx((num, den, v)), code


def test_an_indicator_without_a_denominator_has_no_value_and_says_why() -> None:
    got = evaluate(INDICATOR_BY_CODE["closure_rate"], {"reported": 3.0, "voided": 3.0})
    assert (got.numerator, got.denominator, got.value) == (0, 0, None)
    assert got.note == "no data: the denominator (reported + voided) is 0 in the window"
    assert evaluate(INDICATOR_BY_CODE["closed_count"], {}).value == 0  # a count is never blank


def test_a_published_city_bulletin_s_arithmetic() -> None:
    """911 cases closed, 737 of them on time, of 972 due to close: 结案率 93.72 %,
    按期结案率 75.82 % (over 应结案数); the variant over 结案数 gives 80.90 %."""
    totals = {"reported": 980.0, "voided": 8.0, "closed": 911.0, "closed_on_time": 737.0}
    value = {i.code: evaluate(i, totals) for i in INDICATORS if i.source is Source.events}
    assert value["due_count"].value == 972 and value["closed_count"].value == 911
    assert f"{value['closure_rate'].value:.2%}" == "93.72%"
    assert (value["closure_rate"].numerator, value["closure_rate"].denominator) == (911, 972)
    assert f"{value['on_time_closure'].value:.2%}" == "75.82%"
    assert (value["on_time_closure"].numerator, value["on_time_closure"].denominator) == (737, 972)
    assert f"{value['on_time_closure_of_closed'].value:.2%}" == "80.90%"


def test_every_national_indicator_is_defined_with_its_formula() -> None:
    names = {i.name for i in INDICATORS}
    national = set(
        "立案数 按时立案率 准确立案率 派遣数 按时派遣率 准确派遣率 结案数 结案率 按期结案率"
        " 按期结案率（按结案数） 返工率 按时核查率 有效上报率".split()
    )
    assert national <= names
    for indicator in INDICATORS:
        assert indicator.formula and (indicator.denominator or indicator.kind is Kind.COUNT)


def test_every_event_indicator_names_known_counters() -> None:
    from evaluation.models import COUNTER_COLUMNS

    for indicator in INDICATORS:
        names = set(indicator.numerator) | set(indicator.denominator)
        if indicator.source is Source.events:
            assert names <= set(COUNTER_COLUMNS)
        if indicator.source is Source.audit:
            assert names <= set(AUDIT_COUNTERS)


# --- scorecard -------------------------------------------------------------------------------


def test_score_rule_points_are_linear_and_clamped_either_way() -> None:
    higher = ScoreRule("closure_rate", 10, full_at=0.9, zero_at=0.6)
    assert [higher.points(v) for v in (0.5, 0.6, 0.75, 0.9, 1.0)] == pytest.approx(
        [0, 0, 5, 10, 10]
    )
    lower = ScoreRule("rework_rate", 8, full_at=0.02, zero_at=0.2)
    assert [lower.points(v) for v in (0.0, 0.02, 0.11, 0.2, 0.5)] == pytest.approx([8, 8, 4, 0, 0])


def _card() -> Scorecard:
    return Scorecard(
        rules=(
            ScoreRule("closure_rate", 60, full_at=1.0, zero_at=0.0),
            ScoreRule("rework_rate", 40, full_at=0.0, zero_at=1.0),
        )
    )


@pytest.mark.parametrize(
    ("closure", "rework", "points", "grade"),
    [
        (1.0, 0.0, 100.0, "优"),
        (0.9, 0.125, 89.0, "良"),  # 54 + 35
        (0.8, 0.2, 80.0, "良"),
        (0.7, 0.45, 64.0, "中"),  # 42 + 22
        (0.5, 0.3, 58.0, "差"),  # 30 + 28
    ],
)
def test_grades_follow_the_seed_scale(
    closure: float, rework: float, points: float, grade: str
) -> None:
    result = score(_card(), {"closure_rate": closure, "rework_rate": rework})
    assert result.score == pytest.approx(points)
    assert result.grade == grade
    assert [line.points for line in result.lines] == pytest.approx(
        [60 * closure, 40 * (1 - rework)]
    )


def test_a_grade_boundary_belongs_to_the_better_grade() -> None:
    card = _card()
    assert card.grade(90.0) == "优" and card.grade(89.99) == "良"
    assert card.grade(80.0) == "良" and card.grade(60.0) == "中" and card.grade(59.99) == "差"


def test_indicators_without_data_are_left_out_and_the_rest_rescaled() -> None:
    result = score(_card(), {"closure_rate": 0.5, "rework_rate": None})
    assert result.score == pytest.approx(50.0)  # 30 of the 60 applicable points
    assert result.weights_applied == 60
    assert result.lines[1].applicable is False and result.notes
    assert score(_card(), {}).score is None


def test_scorecard_weights_must_add_up_to_100_and_name_indicators() -> None:
    with pytest.raises(ValueError, match="100"):
        Scorecard(rules=(ScoreRule("closure_rate", 50, 1.0, 0.0),))
    with pytest.raises(ValueError, match="unknown"):
        Scorecard(rules=(ScoreRule("nonsense", 100, 1.0, 0.0),))


def test_the_scorecard_in_data_is_valid() -> None:
    data = json.loads((ROOT / "data" / "scorecard.json").read_text(encoding="utf-8"))
    card = Scorecard.from_data(data)
    assert sum(r.weight for r in card.rules) == 100
    assert [g for _, g in card.grades] == ["优", "良", "中", "差"]
    assert card.grade(90) == "优" and card.grade(59.9) == "差"


def test_the_five_band_scale_and_any_indicator_can_be_chosen() -> None:
    data = json.loads((ROOT / "data" / "scorecard.json").read_text(encoding="utf-8"))
    data["grade_scale"] = "A-E"
    data["rules"] = [
        {"indicator": "on_time_registration", "weight": 40, "full_at": 1.0, "zero_at": 0.5},
        {"indicator": "on_time_review", "weight": 30, "full_at": 1.0, "zero_at": 0.5},
        {"indicator": "on_time_closure_of_closed", "weight": 30, "full_at": 1.0, "zero_at": 0.5},
    ]
    card = Scorecard.from_data(data)
    assert [g for _, g in card.grades] == ["A", "B", "C", "D", "E"]
    assert [card.grade(x) for x in (95, 85, 75, 65, 10)] == ["A", "B", "C", "D", "E"]
    result = score(card, {"on_time_registration": 1.0, "on_time_review": 0.75,
                          "on_time_closure_of_closed": 0.9})  # fmt: skip
    assert result.score == pytest.approx(40 + 15 + 24) and result.grade == "C"
    data["grade_scale"] = "nonsense"
    with pytest.raises(ValueError, match="grade_scale"):
        Scorecard.from_data(data)
    data["grade_scale"] = "bad"
    data["grade_scales"]["bad"] = [{"grade": "X", "min": 50}]
    with pytest.raises(ValueError, match="starting at 0"):
        Scorecard.from_data(data)
