"""The assignment choice, with plain candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.jurisdiction import Place
from domain.lifecycle import Candidate, Category, NaiveDatetime, choose_assignee
from domain.roles import Role

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
G1 = Place("g1", "xinjing")
SMALL = Category("litter", 10, 60, department="chengguan")
BIG = Category("collapse", 5, 120, big=True, department="zhujian")


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def member(
    id: str, open_count: int = 0, idle: float | None = 10, on_duty: bool = True
) -> Candidate:
    last = None if idle is None else ago(idle)
    return Candidate(id, Role.MEMBER, on_duty, open_count, last_assigned_at=last, workplace=G1)


HEAD = Candidate("h1", Role.HEAD, open_count=9, workplace=G1)


def choose(
    people: list[Candidate],
    category: Category = SMALL,
    *,
    load_cap: int | None = 3,
    level: int | None = None,
    community: str | None = None,
) -> tuple[str | None, int, str]:
    a = choose_assignee(
        people,
        category=category,
        place=Place("g1", community or "xinjing"),
        load_cap=load_cap,
        now=NOW,
        level=level,
    )
    return a.assignee_id, a.level, a.reason


def test_least_open_work_first() -> None:
    assert choose([member("m1", 2), member("m2", 1), HEAD])[0] == "m2"


def test_then_longest_idle() -> None:
    assert choose([member("m1", 1, idle=5), member("m2", 1, idle=50)])[0] == "m2"
    assert choose([member("m1", 1, idle=5), member("m2", 1, idle=None)])[0] == "m2"


def test_then_lowest_id_for_determinism() -> None:
    assert choose([member("m2", 1, idle=5), member("m1", 1, idle=5)])[0] == "m1"


def test_future_last_assignment_counts_as_idle_zero() -> None:
    skewed = Candidate("m1", Role.MEMBER, last_assigned_at=NOW + timedelta(minutes=5), workplace=G1)
    assert choose([skewed, member("m2", 0, idle=0)])[0] == "m1"  # tie on idle: lowest id


def test_other_grids_members_are_not_candidates() -> None:
    other = Candidate("m0", Role.MEMBER, workplace=Place("g2", "xinjing"))
    assert choose([other, member("m1", 2)])[0] == "m1"


def test_head_when_both_members_are_off_duty() -> None:
    people = [member("m1", on_duty=False), member("m2", on_duty=False), HEAD]
    assert choose(people) == ("h1", 0, "head_fallback")


def test_head_when_both_members_are_over_the_load_cap() -> None:
    people = [member("m1", 3), member("m2", 4), HEAD]
    assert choose(people, load_cap=3) == ("h1", 0, "head_fallback")
    assert choose(people, load_cap=None)[0] == "m1"


def test_grid_queue_when_nobody_is_there() -> None:
    off_head = Candidate("h1", Role.HEAD, on_duty=False, workplace=G1)
    assert choose([member("m1", on_duty=False), off_head]) == (None, 0, "queue")


def test_big_categories_wait_in_the_command_centres_shared_queue() -> None:
    """Issue 18: a big event is not given to one named dispatcher (it used to go to the least
    loaded one, "x2"); it waits for any dispatcher to claim it, however many are free."""
    people = [member("m1"), Candidate("x2", Role.DISPATCHER, open_count=1),
              Candidate("x1", Role.DISPATCHER, open_count=2)]  # fmt: skip
    assert choose(people, BIG) == (None, 2, "shared_queue")
    assert choose(people, SMALL, level=2) == (None, 2, "shared_queue")  # escalated there too


def test_community_level_uses_the_grids_community() -> None:
    people = [
        Candidate("c1", Role.COMMUNITY, workplace=Place(None, "yimin")),
        Candidate("c2", Role.COMMUNITY, workplace=Place(None, "xinjing"), open_count=1),
    ]
    assert choose(people, level=1, community="xinjing")[0] == "c2"
    assert choose(people, level=1, community="yimin")[0] == "c1"


def test_department_level_uses_the_categorys_department() -> None:
    people = [
        Candidate("d1", Role.DEPARTMENT, workplace=Place(None, None, "gongan")),
        Candidate("d2", Role.DEPARTMENT, workplace=Place(None, None, "chengguan"), open_count=5),
    ]
    a = choose_assignee(people, category=SMALL, place=G1, load_cap=None, now=NOW, level=3)
    assert (a.assignee_id, a.department, a.role) == ("d2", "chengguan", Role.DEPARTMENT)
    q = choose_assignee(people, category=SMALL, place=G1, load_cap=2, now=NOW, level=3)
    assert (q.assignee_id, q.level, q.department) == (None, 3, "chengguan")


def test_rejects_naive_now_and_bad_level() -> None:
    with pytest.raises(NaiveDatetime):
        choose_assignee([], category=SMALL, place=G1, load_cap=1, now=datetime(2026, 3, 1))
    with pytest.raises(ValueError):
        choose_assignee([], category=SMALL, place=G1, load_cap=1, now=NOW, level=4)
