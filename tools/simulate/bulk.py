"""``wangge simulate --bulk``: the simulator's history for millions of events, written with COPY.

Running the dispatch core for every step of a million events takes over ten minutes here,
so the bulk writer runs it once per *path* instead. Each event's path (its moves without their
times) comes from ``tools.simulate.paths``: its plan played against the memo of the core's
answers, or acted out on the core when the memo does not know the way. Once a path has been
seen ``TEMPLATE_AFTER`` times, the core derives its ``Template`` (``tools.simulate.templates``)
and the memo learns the path; every event of the path is then written from the template: its
event row and audit rows, the rows ``dispatch.store`` would have written (a test compares the
writers row for row). Events of rarer paths are written from the core's own decisions.

Rows go in with ``dispatch.store.copy_history``, with triggers off for the session
(``session_replication_role = replica``, which needs a superuser; otherwise the triggers stay on
and keep the statistics row by row), then one ``stats_rebuild()`` aggregation and ``seal`` build
the statistics. No outbox rows are written: the simulated past has no timers or notifications
left to send.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine
from sqlmodel import Session

from dispatch import store
from domain.lifecycle import Decision
from evaluation.sealing import rebuild as rebuild_stats
from evaluation.sealing import seal, today_local
from kernel.uow import UnitOfWork
from tools.simulate.paths import Acted, PathMemo
from tools.simulate.patrols import copy_patrols, patrol_plans
from tools.simulate.plans import Plan, default_window, plans, report_of, reporter_of, staff_ids
from tools.simulate.play import act_out
from tools.simulate.public import PublicRows
from tools.simulate.summary import Summary
from tools.simulate.templates import (
    HEAD_COLUMNS,
    STATE_COLUMNS,
    Derivation,
    PathKey,
    Template,
    build_template,
    copy_text,
    render,
)
from tools.simulate.world import World, ensure_synthetic_grids, load_world, to_us

#: A path gets a template once this many of its events have been seen; rarer paths (half
#: of all paths occur once in a million events) are written from the core's decisions.
TEMPLATE_AFTER = 4


def _head(world: World, plan: Plan, event_id: int) -> str:
    """The event row's leading columns (``HEAD_COLUMNS``: what was reported, where), as COPY
    text: the values ``store.insert_event`` writes for a small run."""
    row, lon, lat = report_of(world, plan)
    row["id"] = event_id
    row["community_id"] = world.grids[plan.grid].community_id
    row["geom"] = f"SRID=4326;POINT({lon} {lat})"
    return "\t".join(map(copy_text, [row[name] for name in HEAD_COLUMNS])) + "\t"


def _slots(world: World, plan: Plan, event_id: int) -> dict[str, str]:
    """What fills a template's placeholders for one event."""
    category = world.categories[plan.category]
    reporter = reporter_of(world, plan)
    return {
        **staff_ids(world, plan),
        "E": str(event_id),
        "G": world.grids[plan.grid].code,
        "C": category.code,
        "DEPT": json.dumps(category.department or "", ensure_ascii=False)[1:-1],
        "R": "" if reporter is None else str(reporter),
    }


def _direct_lines(
    world: World, plan: Plan, event_id: int, decisions: Sequence[Decision]
) -> tuple[str, list[str]]:
    """The COPY lines of one event from the core's decisions (with the event's real ids)."""
    state = store.state_columns(decisions[-1].state)
    event = _head(world, plan, event_id) + "\t".join(copy_text(state[c]) for c in STATE_COLUMNS)
    audits = []
    for decision in decisions:
        assert decision.audit is not None
        row = store.audit_values(decision.audit)
        values = [str(event_id), *(copy_text(row[c]) for c in store.AUDIT_ROW_COLUMNS[1:])]
        audits.append("\t".join(values) + "\n")
    return event + "\n", audits


@dataclass
class BulkWriter:
    """Turns plans into COPY lines: events of common paths from templates, the others from the
    core's decisions."""

    world: World
    cutoff: int
    template_after: int = TEMPLATE_AFTER
    memo: PathMemo = field(default_factory=PathMemo)
    templates: dict[PathKey, Template] = field(default_factory=dict)
    seen: dict[PathKey, int] = field(default_factory=lambda: defaultdict(int))
    direct: int = 0
    public: PublicRows | None = None

    def lines(self, batch: Sequence[Plan], first_id: int) -> tuple[list[str], list[str], Summary]:
        groups: dict[PathKey, list[tuple[int, Plan, Acted]]] = defaultdict(list)
        if self.public is None:
            self.public = PublicRows(self.world, self.cutoff)
        for offset, plan in enumerate(batch):
            event_id = first_id + offset
            self.public.note(plan, event_id)
            acted = self.memo.find(self.world, plan, event_id, cutoff=self.cutoff)
            group = groups[acted.key]
            group.append((event_id, plan, acted))
            self.seen[acted.key] += 1
            if acted.key not in self.templates and self.seen[acted.key] >= self.template_after:
                self._learn(acted.key, group[0])
        summary = Summary()
        events: list[str] = []
        audits: list[str] = []
        for key, members in groups.items():
            template = self.templates.get(key)
            if template is None:
                for event_id, plan, acted in members:
                    decisions = acted.decisions
                    if decisions is None:  # the memo knew the way, but the path is rare
                        _, core = act_out(self.world, plan, event_id, cutoff=self.cutoff)
                        decisions = core.decisions
                    event, lines = _direct_lines(self.world, plan, event_id, decisions)
                    events.append(event)
                    audits.extend(lines)
                    summary.count(decisions[-1].state.status)
                self.direct += len(members)
                continue
            variables = np.array(
                [
                    [*self.world.categories[plan.category].flat_allowances, *acted.free]
                    for _, plan, acted in members
                ],
                dtype=np.int64,
            )
            slots = [_slots(self.world, plan, event_id) for event_id, plan, _ in members]
            heads = [_head(self.world, plan, event_id) for event_id, plan, _ in members]
            rendered, lines = render(template, variables, slots, heads)
            events.extend(rendered)
            audits.extend(lines)
            summary.count(template.status, len(members))
        summary.audit_rows = len(audits)
        return events, audits, summary

    def _learn(self, key: PathKey, representative: tuple[int, Plan, Acted]) -> None:
        """The path's template, and its answers for the memo, from the core's runs."""
        _, plan, acted = representative
        allowances = self.world.categories[plan.category].flat_allowances
        derivation = Derivation(key, [*allowances, *acted.free])
        self.templates[key] = build_template(derivation)
        self.memo.learn(derivation)


def _chunks(batches: Iterator[list[Plan]], size: int, cutoff: int) -> Iterator[list[Plan]]:
    pending: list[Plan] = []
    for batch in batches:
        pending.extend(p for p in batch if p.t0 <= cutoff)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


def run(
    engine: Engine,
    *,
    days: int,
    seed: int,
    per_day: float | None = None,
    grids: int | None = None,
    until: date | None = None,
    now: datetime | None = None,
    chunk: int = 50_000,
    template_after: int = TEMPLATE_AFTER,
    patrols: bool = True,
    rebuild: bool = True,
    progress: bool = False,
) -> Summary:
    """Write a simulated history with COPY and rebuild the statistics; returns what was
    written. The same seed and arguments write what the small mode writes."""
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    total = Summary()
    with Session(engine) as session:
        if grids:
            total.added_grids = ensure_synthetic_grids(session, grids)
            session.commit()
        world = load_world(session, grids=grids, seed=seed)
    window = default_window(days, until, now)
    cutoff = to_us(now)
    rate = per_day if per_day is not None else 1.5 * len(world.grids)
    writer = BulkWriter(world, cutoff, template_after=template_after)
    url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as ids, psycopg.connect(url) as conn:
        triggers_off = _triggers_off(conn)
        work: queue.Queue[tuple[list[str], list[str]] | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def copier() -> None:  # COPY runs while the next chunk is generated
            try:
                while (item := work.get()) is not None:
                    store.copy_history(conn, *item)
                    conn.commit()
            except BaseException as exc:  # handed to the main thread
                failure.append(exc)
                while work.get() is not None:
                    pass

        thread = threading.Thread(target=copier, name="bulk-copy")
        thread.start()
        try:
            for batch in _chunks(plans(world, window, seed=seed, per_day=rate), chunk, cutoff):
                first_id = _reserve_ids(ids, len(batch))
                events, audits, summary = writer.lines(batch, first_id)
                work.put((events, audits))
                total.add(summary)
                if progress:
                    print(f"  {total.events} events, {len(writer.templates)} templates, "
                          f"{writer.memo.acted_out} acted out, {writer.direct} direct, "
                          f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
                if failure:
                    break
        finally:
            work.put(None)
            thread.join()
        if failure:
            raise failure[0]
        if writer.public is not None:  # after every event row: links point at earlier chunks
            total.add_public(writer.public)
            writer.public.write(conn)
            conn.commit()
        if patrols:
            total.patrols = copy_patrols(
                conn, patrol_plans(world, window, seed=seed, cutoff=cutoff)
            )
            conn.commit()
    total.extra["templates"] = len(writer.templates)
    total.extra["acted_out"] = writer.memo.acted_out
    total.extra["direct"] = writer.direct
    total.extra["load_seconds"] = round(time.perf_counter() - began, 1)
    if rebuild:
        with Session(engine) as session:
            started = time.perf_counter()
            uow, today = UnitOfWork(session), today_local(now)
            # without the statistics triggers the rows need the whole rebuild, else sealing
            blocks = (
                rebuild_stats(uow=uow, today=today) if triggers_off else seal(uow=uow, today=today)
            )
            total.extra["blocks"] = blocks
            total.extra["rebuild_seconds"] = round(time.perf_counter() - started, 1)
    total.seconds = time.perf_counter() - began
    return total


def _triggers_off(conn: psycopg.Connection[Any]) -> bool:
    """Skip triggers (statistics, foreign keys) for this session when allowed."""
    try:
        conn.execute("SET session_replication_role = replica")
        conn.commit()
        return True
    except psycopg.Error:
        conn.rollback()
        return False


def _reserve_ids(conn: psycopg.Connection[Any], n: int) -> int:
    """A block of ``n`` consecutive event ids (the bulk writer runs alone)."""
    row = conn.execute(
        "SELECT setval(pg_get_serial_sequence('event', 'id'),"
        " nextval(pg_get_serial_sequence('event', 'id')) + %s - 1) - %s + 1",
        (n, n),
    ).fetchone()
    assert row is not None
    return int(row[0])
