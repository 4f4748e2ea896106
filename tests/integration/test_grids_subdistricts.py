"""Several subdistricts (街道) of a district in one deployment (issue 16, ADR 0024): one file
loads the grids of several at once, each grid and community belongs to the subdistrict its code
begins with, a file replaces the map of the subdistricts it names and leaves the others alone,
and codes stay hierarchical (a mismatch, or an overlap with another subdistrict, changes
nothing)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import text
from sqlmodel import Session

from evaluation.scope import window, with_place
from grids.loading import load_map
from kernel.errors import Invalid
from tests.kit.data import HOME_SUBDISTRICT, neighbour_subdistrict

HOME = HOME_SUBDISTRICT


def neighbour(serial: str, *, dx: float, rename: bool = True) -> dict[str, Any]:
    return neighbour_subdistrict(serial, dx=dx, rename=rename)


def counts(db: Session) -> dict[str, tuple[int, int]]:
    rows = db.execute(
        text("""
        SELECT s.code,
               (SELECT count(*) FROM grid g WHERE g.subdistrict_id = s.id),
               (SELECT count(*) FROM community c WHERE c.subdistrict_id = s.id)
        FROM subdistrict s ORDER BY s.code
        """)
    ).all()
    return {str(code): (int(g), int(c)) for code, g, c in rows}


def test_every_grid_and_community_belongs_to_the_subdistrict_its_code_begins_with(
    db: Session,
) -> None:
    wrong = db.execute(
        text("""
        SELECT g.code FROM grid g JOIN subdistrict s ON s.id = g.subdistrict_id
        WHERE left(g.code, 9) <> s.code
        UNION ALL
        SELECT c.code FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE left(c.code, 9) <> s.code
        """)
    ).all()
    assert wrong == []
    assert counts(db) == {HOME: (44, 6)}


def test_one_file_loads_two_subdistricts_and_a_later_file_leaves_the_other_alone(
    db: Session,
) -> None:
    east, far = neighbour("002", dx=0.2), neighbour("003", dx=0.4)
    both = {
        "type": "FeatureCollection",
        "features": east["features"] + far["features"],
        "metadata": {
            "subdistricts": {
                "130203002": {"name": "东街道"},
                "130203003": {"name": "远街道"},
            }
        },
    }
    summary = load_map(session=db, fc=both)
    assert (summary.grids, summary.communities, summary.created) == (88, 12, 88)
    assert counts(db) == {HOME: (44, 6), "130203002": (44, 6), "130203003": (44, 6)}
    names = dict(db.execute(text("SELECT code, name FROM subdistrict")).all())
    assert (names["130203002"], names["130203003"]) == ("东街道", "远街道")
    # each new subdistrict's boundary is the union of its own grids, not of the whole map
    areas = dict(db.execute(text("SELECT code, area_m2 FROM subdistrict")).all())
    assert areas["130203002"] == pytest.approx(areas[HOME], rel=2e-3)

    # reloading only 002 without one grid removes that grid of 002; 003 and home are untouched
    smaller = neighbour("002", dx=0.2)
    gone = smaller["features"].pop()["properties"]["code"]
    summary = load_map(session=db, fc=smaller)
    assert (summary.grids, summary.created, summary.updated, summary.removed) == (43, 0, 43, 1)
    assert counts(db) == {HOME: (44, 6), "130203002": (43, 6), "130203003": (44, 6)}
    assert db.execute(text("SELECT 1 FROM grid WHERE code = :c"), {"c": gone}).first() is None


def test_a_community_name_may_repeat_in_another_subdistrict_but_then_needs_its_code(
    db: Session,
) -> None:
    load_map(session=db, fc=neighbour("002", dx=0.2, rename=False))
    assert counts(db)["130203002"] == (44, 6)
    name = db.execute(text("SELECT name FROM community ORDER BY code LIMIT 1")).scalar_one()
    month = window(date(2026, 3, 1), date(2026, 3, 31))
    with pytest.raises(Invalid) as exc:
        with_place(db, month, grid=None, community=name)
    assert "several subdistricts" in str(exc.value.detail)
    code = db.execute(
        text("SELECT code FROM community WHERE name = :n AND left(code, 9) = '130203002'"),
        {"n": name},
    ).scalar_one()
    grids = with_place(db, month, grid=None, community=code).grid_ids or ()
    assert len(grids) > 0 and set(grids) <= set(
        db.execute(text("SELECT id FROM grid WHERE left(code, 9) = '130203002'")).scalars()
    )


def test_codes_stay_hierarchical_and_subdistricts_do_not_overlap(db: Session) -> None:
    before = counts(db)
    mismatch = neighbour("002", dx=0.2)
    mismatch["metadata"]["subdistrict_code"] = "130203009"
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=mismatch)
    assert "does not prefix grid codes of 130203002" in str(exc.value.detail)

    unnamed = neighbour("002", dx=0.2)
    unnamed["metadata"] = {"subdistricts": {"130203004": {"name": "别的"}}}
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=unnamed)
    assert "does not name subdistrict 130203002" in str(exc.value.detail)

    on_top = neighbour("002", dx=0.001)  # mostly on the home subdistrict's grids
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=on_top)
    detail = exc.value.detail
    assert detail["msg"] == "grids overlap grids of another subdistrict; nothing was changed"
    assert any(p.startswith("grid 130203002") and HOME in p for p in detail["problems"])

    apart = neighbour("002", dx=0.2)
    moved = shapely.affinity.translate(shape(apart["features"][0]["geometry"]), xoff=0.05)
    apart["features"][0]["geometry"] = mapping(moved)
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=apart)
    assert any("disconnected" in p for p in exc.value.detail["problems"])
    assert counts(db) == before
