"""The public door's rows of a simulated history: one ``public_report`` per public or hotline
report (its verification as the plan acted it out) and the links of duplicates to their first
report. Both writers (small and bulk) collect them the same way and write them last."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tools.simulate.plans import Plan
from tools.simulate.world import US, World, from_us

_COLUMNS = (
    "event_id", "channel", "token", "hotline_case", "attributes", "verify_due_at",
    "verified_at", "outcome", "outcome_note", "verified_by",
)  # fmt: skip


@dataclass
class PublicRows:
    """What the public door wrote for the plans seen so far."""

    world: World
    cutoff: int
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[int, int]] = field(default_factory=list)
    firsts: dict[uuid.UUID, int] = field(default_factory=dict)

    def note(self, plan: Plan, event_id: int) -> None:
        """A written event: its public row, its link, or its id if it will be linked to."""
        if plan.duplicated:
            self.firsts[plan.client_id] = event_id
        if not plan.public:
            return
        verified = plan.t0 + plan.verify_after * US
        done = verified <= self.cutoff
        if plan.duplicate_of is not None:
            outcome, note = "duplicate", ""
            if done:
                self.links.append((event_id, self.firsts[plan.duplicate_of]))
        elif plan.void_pending:
            outcome, note = "rejected", "现场未发现"
        else:
            outcome, note = "confirmed", ""
        grid = self.world.grids[plan.grid]
        category = self.world.categories[plan.category]
        case = f"12345-{from_us(plan.t0):%Y%m%d}-{event_id}" if plan.source == "hotline" else None
        self.rows.append(
            (
                event_id,
                plan.source,
                plan.client_id,
                case,
                "{}",
                from_us(plan.t0 + category.verify_us),
                from_us(verified) if done else None,
                outcome if done else None,
                note if done else "",
                grid.head if done else None,
            )
        )

    def write(self, conn: psycopg.Connection[Any]) -> None:
        """COPY the rows and set the links (no commit)."""
        if self.rows:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY public_report ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in self.rows:
                    copy.write_row(row)
        if self.links:
            conn.execute(
                "UPDATE event e SET duplicate_of = v.o"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, o) WHERE e.id = v.id",
                ([i for i, _ in self.links], [o for _, o in self.links]),
            )
        self.rows.clear()
        self.links.clear()
