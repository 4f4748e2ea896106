"""What one report contributes to the intake counters: the public door's indicators
(按时核实率, 公众有效上报率, 重复上报占比) count reports by their report time, whatever became of
them. The SQL of ``evaluation.intake`` is the same definition, held to this one by a test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.evaluation.counters import STAFF_SOURCE
from domain.intake import Outcome, verified_on_time

#: The intake counters, in the order ``evaluation.intake`` sums them.
INTAKE_COUNTERS = (
    "all_reports",
    "linked_reports",
    "public_reports",
    "verifications_due",
    "verified_on_time",
    "public_decided",
    "public_valid",
)
#: Outcomes that found the reported problem real (a duplicate of an open event is real too).
VALID_OUTCOMES = frozenset({Outcome.CONFIRMED, Outcome.DUPLICATE})


@dataclass(frozen=True)
class ReportFacts:
    source: str
    duplicate_of: int | None
    verify_due_at: datetime | None  # public and hotline reports only
    verified_at: datetime | None
    outcome: Outcome | None


def intake_counts(report: ReportFacts, now: datetime) -> dict[str, int]:
    """The report's contribution to each intake counter at ``now``: a verification counts as
    due once it was done or its deadline passed (an overdue pending one is not on time)."""
    public = report.source != STAFF_SOURCE and report.verify_due_at is not None
    due = public and (
        report.verified_at is not None
        or (report.verify_due_at is not None and report.verify_due_at <= now)
    )
    on_time = (
        public
        and report.verify_due_at is not None
        and verified_on_time(report.verified_at, report.verify_due_at)
    )
    return {
        "all_reports": 1,
        "linked_reports": int(report.duplicate_of is not None),
        "public_reports": int(public),
        "verifications_due": int(due),
        "verified_on_time": int(on_time),
        "public_decided": int(public and report.outcome is not None),
        "public_valid": int(public and report.outcome in VALID_OUTCOMES),
    }
