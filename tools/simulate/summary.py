"""What a simulator run wrote, as the CLI reports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from domain.lifecycle import Status

if TYPE_CHECKING:
    from tools.simulate.public import PublicRows


@dataclass
class Summary:
    events: int = 0
    closed: int = 0
    voided: int = 0
    open: int = 0
    audit_rows: int = 0
    patrols: int = 0
    seconds: float = 0.0
    added_grids: int = 0
    public: int = 0
    hotline: int = 0
    duplicates: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def count(self, status: Status, events: int = 1) -> None:
        """``events`` more events, all ending in ``status``."""
        self.events += events
        self.closed += events if status is Status.CLOSED else 0
        self.voided += events if status is Status.VOIDED else 0
        self.open += events if status not in (Status.CLOSED, Status.VOIDED) else 0

    def add_public(self, rows: PublicRows) -> None:
        """The public door's rows about to be written."""
        for row in rows.rows:
            self.public += row[1] == "public"
            self.hotline += row[1] == "hotline"
        self.duplicates += len(rows.links)

    def add(self, other: Summary) -> None:
        for name in ("events", "closed", "voided", "open", "audit_rows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return (
            f"{self.events} events ({self.closed} closed, {self.voided} voided, {self.open} open), "
            f"{self.audit_rows} audit rows, {self.patrols} patrols in {self.seconds:.1f} s"
            + (f"; {self.added_grids} synthetic grids added" if self.added_grids else "")
            + f"; {self.public} public and {self.hotline} hotline reports,"
            f" {self.duplicates} linked as duplicates"
        )
