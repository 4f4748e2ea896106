#!/usr/bin/env python3
"""Check a Wangge evaluation bundle without the system: standard-library Python 3.11+ only.

    python3 check.py            # in the unpacked bundle's folder (or: python3 check.py DIR)
    python3 check.py --json     # the recomputed figures as JSON

It checks, from the files alone:
1. every file against manifest.json (SHA-256 and size);
2. every audit row's hash: sha256(previous row's hash of the event || canonical text), the
   canonical text being the row as PostgreSQL writes a record, (id,event_id,version,action,
   from_status,to_status,from_level,to_level,actor,at,note,reason,data), with ``at`` in
   microseconds since 1970 UTC; versions 1, 2, 3, ... per event;
3. every day head of heads.csv: sha256(previous head || 'YYYY-MM-DD:rows:' || sha256 of the
   day's row hashes in (event_id, version) order), starting from the manifest's previous head;
   publish or compare the last head to fix the whole history;
4. that each event's audit log, replayed (each row's data holds the fields it changed), gives
   the event's status, level and times in events.csv;
5. every counter, indicator and score, recomputed from events.csv (the reports registered in
   the window, ``created_at``, for the event and audit counters; the reports received in it,
   ``received_at``, for the intake counters: a report received before midnight and confirmed
   after it belongs to two windows), audit.csv, patrols.csv,
   grids.csv, staff.csv and categories.csv by the definitions in definitions.json, against
   results.json (what the system published). The map's coverage needs the grid polygons, which
   are not in the bundle: its figures are taken from results.json and said so.
Exit status 0 when everything agrees, 1 otherwise; each disagreement is printed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COUNTERS = (
    "reported",
    "voided",
    "registered",
    "public_registered",
    "dispatched",
    "dispatched_on_time",
    "redispatches",
    "escalations",
    "handled",
    "handled_on_time",
    "reworks",
    "closed",
    "closed_on_time",
    "closed_level0",
    "closed_le2",
    "handled_on_promise",
    "ever_registered",
    "registered_on_time",
    "voided_after_registration",
    "reviews",
    "reviews_on_time",
    "dispatched_cases",
    "extended_cases",
    "parked_cases",
    "returned_cases",
    "reopened_cases",
    "all_reports",
    "linked_reports",
    "public_reports",
    "verifications_due",
    "verified_on_time",
    "public_decided",
    "public_valid",
)
#: The counters a report linked as another event's duplicate does not count (the event it
#: joined counts once): every counter of the events, up to the audit's and the intake's.
EVENT_COUNTERS = COUNTERS[: COUNTERS.index("handled_on_promise") + 1]
#: Verification outcomes that found the problem real (a duplicate is real too).
VALID_OUTCOMES = ("confirmed", "duplicate")


def read_csv(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def instant(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def local_day(text: str) -> date:
    """The day of an instant written in the service's time zone (its own date part)."""
    return date.fromisoformat(text[:10])


def field(value: str | None) -> str:
    """A field of PostgreSQL's record text form: nothing for NULL; quoted (with " and \\
    doubled) when empty or holding any of " \\ ( ) , or white space; else as it is."""
    if value is None:
        return ""
    if value and not any(c in '"\\(),' or c in " \t\n\r\v\f" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '""') + '"'


def canonical(row: dict[str, str]) -> str:
    at = instant(row["at"])
    assert at is not None
    micros = (at - EPOCH) // timedelta(microseconds=1)
    values = [
        row["id"],
        row["event_id"],
        row["version"],
        row["action"],
        row["from_status"] or None,
        row["to_status"],
        row["from_level"] or None,
        row["to_level"],
        row["actor"],
        str(micros),
        row["note"],
        row["reason"] or None,
        row["data"],
    ]
    return "(" + ",".join(field(v) for v in values) + ")"


class Checker:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[str] = []
        self.checked: dict[str, int] = {}

    def problem(self, text: str) -> None:
        self.problems.append(text)

    # 1 -----------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(
            (self.folder / "manifest.json").read_text(encoding="utf-8")
        )
        for name, entry in manifest["files"].items():
            data = (self.folder / name).read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["bytes"]:
                self.problem(f"manifest: {name} is not the file the manifest lists")
        self.checked["files"] = len(manifest["files"])
        return manifest

    # 2, 3, 4 -------------------------------------------------------------------------------
    def audit(self, manifest: dict[str, Any], events: dict[int, dict[str, str]]) -> None:
        rows = read_csv(self.folder, "audit.csv")
        by_event: dict[int, list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            by_event[int(row["event_id"])].append(row)
        for event_id, chain in by_event.items():
            chain.sort(key=lambda r: int(r["version"]))
            previous = b""
            state: dict[str, Any] = {}
            for n, row in enumerate(chain, start=1):
                if int(row["version"]) != n:
                    self.problem(
                        f"audit: event {event_id} version {row['version']} out of "
                        "sequence (a row missing or moved)"
                    )
                digest = hashlib.sha256(previous + canonical(row).encode("utf-8")).digest()
                if digest.hex() != row["hash"]:
                    self.problem(
                        f"audit: event {event_id} version {row['version']}: the hash "
                        "does not match the row"
                    )
                previous = bytes.fromhex(row["hash"]) if row["hash"] else b""
                state.update(json.loads(row["data"]))
            if event_id in events:
                self.replay(event_id, state, chain[-1], events[event_id])
        self.checked["audit rows"] = len(rows)
        self.checked["events replayed"] = sum(1 for e in by_event if e in events)
        for event_id in events:
            if event_id not in by_event:
                self.problem(f"audit: event {event_id} has no audit rows")
        self.day_heads(manifest, rows)

    def replay(
        self, event_id: int, state: dict[str, Any], last: dict[str, str], event: dict[str, str]
    ) -> None:
        if (last["to_status"], last["to_level"], last["version"]) != (
            event["status"],
            event["level"],
            event["version"],
        ):
            self.problem(
                f"replay: event {event_id}: its last audit row ends at "
                f"{last['to_status']}/{last['to_level']}/v{last['version']}, the event "
                f"row says {event['status']}/{event['level']}/v{event['version']}"
            )
        for name in (
            "status",
            "level",
            "version",
            "assignee_id",
            "rework_count",
            "redispatch_count",
            "escalation_count",
        ):
            logged = state.get(name)
            if str("" if logged is None else logged) != event[name]:
                self.problem(
                    f"replay: event {event_id}: {name} is {event[name]!r}, the audit "
                    f"log says {logged!r}"
                )
        for name in (
            "created_at",
            "dispatched_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "voided_at",
            "due_at",
            "promised_due_at",
            "dispatch_due_at",
            # the public report's 按时核实 deadline (events.csv) is the verification clock's
            "verify_due_at",
        ):
            if name in ("promised_due_at", "dispatch_due_at", "verify_due_at") and (
                name not in state
            ):
                continue  # logged before migration 0019 (backfilled, ADR 0013), 0027 or 0032
            logged = state.get(name)
            if instant(logged or "") != instant(event[name]):
                self.problem(
                    f"replay: event {event_id}: {name} is {event[name]!r}, the audit "
                    f"log says {logged!r}"
                )

    def day_heads(self, manifest: dict[str, Any], rows: list[dict[str, str]]) -> None:
        days: dict[date, list[tuple[int, int, bytes]]] = defaultdict(list)
        for row in rows:
            days[local_day(row["at"])].append(
                (int(row["event_id"]), int(row["version"]), bytes.fromhex(row["hash"]))
            )
        head = bytes.fromhex(manifest["previous_head"] or "")
        heads = read_csv(self.folder, "heads.csv")
        for sealed in heads:
            day = date.fromisoformat(sealed["day"])
            hashes = [h for _, _, h in sorted(days.get(day, []))]
            digest = hashlib.sha256(b"".join(hashes)).digest()
            if (len(hashes), digest.hex()) != (int(sealed["rows"]), sealed["digest"]):
                self.problem(
                    f"day heads: {day}: the audit rows give {len(hashes)} rows and "
                    "another digest than the sealed head"
                )
            head = hashlib.sha256(
                head + f"{day}:{sealed['rows']}:".encode() + bytes.fromhex(sealed["digest"])
            ).digest()
            if head.hex() != sealed["head"]:
                self.problem(f"day heads: {day}: the head does not follow from the one before")
        self.checked["day heads"] = len(heads)
        if heads:
            print(f"last day head {heads[-1]['day']}: {heads[-1]['head']}", file=sys.stderr)

    # 5 -----------------------------------------------------------------------------------
    def figures(
        self, manifest: dict[str, Any], events: dict[int, dict[str, str]]
    ) -> dict[str, Any]:
        definitions = json.loads((self.folder / "definitions.json").read_text(encoding="utf-8"))
        results = json.loads((self.folder / "results.json").read_text(encoding="utf-8"))
        settings = definitions["settings"]
        categories = {c["code"]: c for c in read_csv(self.folder, "categories.csv")}
        grids = {g["code"]: g for g in read_csv(self.folder, "grids.csv")}
        audit: dict[int, list[dict[str, str]]] = defaultdict(list)
        for row in read_csv(self.folder, "audit.csv"):
            audit[int(row["event_id"])].append(row)
        per_grid: dict[str, dict[str, float]] = {g: dict.fromkeys(COUNTERS, 0.0) for g in grids}
        since, until = date.fromisoformat(manifest["since"]), date.fromisoformat(manifest["until"])
        for event_id, event in events.items():
            counts: dict[str, float] = {}
            # the events and the audit count a report by the day it was registered (立案:
            # created_at, which a confirmation moves), the intake by the day it was received
            if since <= local_day(event["created_at"]) <= until:
                counts |= event_counts(
                    event,
                    categories[event["category"]],
                    settings,
                    sorted(audit[event_id], key=lambda r: int(r["version"])),
                )
                if event["duplicate_of"]:
                    counts |= dict.fromkeys(EVENT_COUNTERS, 0.0)
            if since <= local_day(event["received_at"]) <= until:
                counts |= intake_counts(event, instant(manifest["generated_at"]) or EPOCH)
            for name, value in counts.items():
                per_grid[event["grid"]][name] += value
        days = (until - since).days + 1
        walked: set[tuple[str, date]] = set()
        for patrol in read_csv(self.folder, "patrols.csv"):
            day = local_day(patrol["started_at"])
            if patrol["walked"] == "true" and since <= day <= until:
                walked.add((patrol["grid"], day))
        staff = read_csv(self.folder, "staff.csv")
        for code, totals in per_grid.items():
            totals["patrolled_grid_days"] = float(sum(1 for g, _ in walked if g == code))
            totals["grid_days"] = float(days)
            totals["grids"] = 1.0
            heads = sum(1 for s in staff if s["grid"] == code and s["role"] == "head")
            members = sum(1 for s in staff if s["grid"] == code and s["role"] == "member")
            totals["staffed_grids"] = 1.0 if heads >= 1 and members >= 2 else 0.0
        total = {k: sum(t[k] for t in per_grid.values()) for k in next(iter(per_grid.values()))}
        served = {i["code"]: i for i in results["indicators"]}
        for name in ("covered_area_km2", "jurisdiction_area_km2"):
            total[name] = results["totals"][name]  # the map's geometry is not in the bundle
        indicators = {}
        for indicator in definitions["indicators"]:
            mine = evaluate(indicator, total)
            indicators[indicator["code"]] = mine
            theirs = served[indicator["code"]]
            if (mine["numerator"], mine["value"]) != (theirs["numerator"], theirs["value"]):
                self.problem(
                    f"indicator {indicator['code']} ({indicator['name']}): recomputed "
                    f"{mine['numerator']}/{mine['denominator']} = {mine['value']}, "
                    f"published {theirs['numerator']}/{theirs['denominator']} = "
                    f"{theirs['value']}"
                )
            if theirs["value"] is None and not theirs.get("note"):
                self.problem(f"indicator {indicator['code']} is blank without a reason")
        self.checked["indicators"] = len(indicators)
        scores = self.scores(definitions, results, per_grid, grids)
        label = results["label"]
        if label_days(label) != (since, until):
            self.problem(f"the window's label {label!r} does not name {since} .. {until}")
        return {"indicators": indicators, "scores": scores, "totals": total}

    def scores(
        self,
        definitions: dict[str, Any],
        results: dict[str, Any],
        per_grid: dict[str, dict[str, float]],
        grids: dict[str, dict[str, str]],
    ) -> dict[str, Any]:
        card = definitions["scorecard"]
        scale = sorted(
            ((float(g["min"]), g["grade"]) for g in card["grade_scales"][card["grade_scale"]]),
            reverse=True,
        )
        indicators = {i["code"]: i for i in definitions["indicators"]}
        units: dict[str, dict[str, float]] = dict(per_grid)
        for code, g in grids.items():
            # a community, and its subdistrict graded as a whole: their grids summed
            for key in ("community:" + g["community_code"], "subdistrict:" + g["subdistrict_code"]):
                unit = units.setdefault(key, {})
                for k, v in per_grid[code].items():
                    unit[k] = unit.get(k, 0.0) + v
        out: dict[str, Any] = {}
        for key, totals in units.items():
            earned = applied = 0.0
            for rule in card["rules"]:
                value = evaluate(indicators[rule["indicator"]], totals)["value"]
                if value is None:
                    continue
                share = (value - rule["zero_at"]) / (rule["full_at"] - rule["zero_at"])
                earned += round(rule["weight"] * min(1.0, max(0.0, share)), 4)
                applied += rule["weight"]
            score = round(earned * 100.0 / applied, 2) if applied else None
            grade = None if score is None else next(g for m, g in scale if score >= m)
            out[key] = {"score": score, "grade": grade}
        published = {
            ("" if u["kind"] == "grid" else u["kind"] + ":") + u["code"]: u
            for u in results["scorecard"]
        }
        for key, mine in out.items():
            theirs = published.get(key)
            if theirs is None or (theirs["score"], theirs["grade"]) != (
                mine["score"],
                mine["grade"],
            ):
                self.problem(
                    f"scorecard {key}: recomputed {mine['score']} {mine['grade']}, "
                    f"published {theirs and (theirs['score'], theirs['grade'])}"
                )
        self.checked["scorecard units"] = len(out)
        return out


def event_counts(
    event: dict[str, str],
    category: dict[str, str],
    settings: dict[str, Any],
    audit: list[dict[str, str]],
) -> dict[str, float]:
    """What one event contributes to each counter (definitions.json: "counters")."""
    status, level = event["status"], int(event["level"])
    created = instant(event["created_at"])
    assert created is not None
    registered = status not in ("pending_verification", "voided")
    handled = status in ("resolved", "closed")
    closed = status == "closed"
    resolved_at, due_at, closed_at, promised = (
        instant(event[k]) for k in ("resolved_at", "due_at", "closed_at", "promised_due_at")
    )
    first_dispatch = next(
        (
            instant(r["at"])
            for r in audit
            if r["action"] == "dispatch" and r["from_status"] == "registered"
        ),
        None,
    )
    # 按时派遣: by the event's own dispatch deadline (the 派遣 stage clock, working time on its
    # category's calendar); an event registered before it was stored has none: within the
    # global limit of the report
    dispatch_due = instant(event["dispatch_due_at"]) or (
        created + timedelta(minutes=float(settings["dispatch_limit_minutes"]))
    )
    registrations = [instant(r["at"]) for r in audit if r["to_status"] == "registered"]
    register_limit = timedelta(minutes=float(settings["register_limit_minutes"]))
    review_limit = timedelta(minutes=float(settings["review_limit_minutes"]))
    reviews = reviews_on_time = 0
    previous: datetime | None = None  # the row a review decides: its fix
    review_due: datetime | None = None  # the review deadline logged with that row
    for r in audit:
        if r["action"] in ("resolve", "review") or r["to_status"] == "registered":
            at = instant(r["at"])
            if r["action"] == "review":
                reviews += 1
                due = review_due or (previous + review_limit if previous else None)
                if due is not None and at is not None and at <= due:
                    reviews_on_time += 1
            previous = at
            review_due = instant(json.loads(r["data"] or "{}").get("review_due_at") or "")
    first_registration = min((r for r in registrations if r), default=None)
    return {
        "reported": 1,
        "voided": float(status == "voided"),
        "registered": float(registered),
        "public_registered": float(registered and event["source"] != "staff"),
        "dispatched": float(bool(event["dispatched_at"])),
        "dispatched_on_time": float(
            bool(event["dispatched_at"])
            and first_dispatch is not None
            and first_dispatch <= dispatch_due
        ),
        "redispatches": float(event["redispatch_count"]),
        "escalations": float(event["escalation_count"]),
        "handled": float(handled),
        "handled_on_time": float(
            handled and resolved_at is not None and due_at is not None and resolved_at <= due_at
        ),
        "reworks": float(event["rework_count"]),
        "closed": float(closed),
        "closed_on_time": float(
            closed
            and closed_at is not None
            and (closed_at - created).total_seconds() <= float(category["resolve_minutes"]) * 60
        ),
        "closed_level0": float(closed and level == 0),
        "closed_le2": float(closed and level <= 2),
        "handled_on_promise": float(
            handled and resolved_at is not None and promised is not None and resolved_at <= promised
        ),
        "ever_registered": float(bool(registrations)),
        "registered_on_time": float(
            first_registration is not None and first_registration - created <= register_limit
        ),
        "voided_after_registration": float(bool(registrations) and status == "voided"),
        "reviews": float(reviews),
        "reviews_on_time": float(reviews_on_time),
        "dispatched_cases": float(bool(event["dispatched_at"])),
        "extended_cases": float(any(r["action"] == "approve_extension" for r in audit)),
        "parked_cases": float(any(r["action"] == "approve_parking" for r in audit)),
        "returned_cases": float(any(r["action"] == "return" for r in audit)),
        "reopened_cases": float(any(r["action"] == "reopen" for r in audit)),
    }


def intake_counts(event: dict[str, str], now: datetime) -> dict[str, float]:
    """What one report contributes to the public door's counters at ``now`` (the bundle's
    generated_at): a verification is due once done or past its deadline."""
    due_at, verified_at = instant(event["verify_due_at"]), instant(event["verified_at"])
    public = event["source"] != "staff" and due_at is not None
    outcome = event["outcome"] or None
    return {
        "all_reports": 1.0,
        "linked_reports": float(bool(event["duplicate_of"])),
        "public_reports": float(public),
        "verifications_due": float(
            public and (verified_at is not None or (due_at is not None and due_at <= now))
        ),
        "verified_on_time": float(
            public and verified_at is not None and due_at is not None and verified_at <= due_at
        ),
        "public_decided": float(public and outcome is not None),
        "public_valid": float(public and outcome in VALID_OUTCOMES),
    }


def evaluate(indicator: dict[str, Any], totals: dict[str, float]) -> dict[str, Any]:
    """definitions.json's formula: sum(numerator) / sum(denominator), rounded to 6 places
    (None when the denominator is 0), or the numerator itself for a count."""
    num = sum(k * totals.get(n, 0.0) for n, k in indicator["numerator"].items())
    den = sum(k * totals.get(n, 0.0) for n, k in indicator["denominator"].items())
    if indicator["kind"] == "count":
        return {"numerator": num, "denominator": 0.0, "value": num}
    return {"numerator": num, "denominator": den, "value": round(num / den, 6) if den else None}


def label_days(label: str) -> tuple[date, date] | None:
    """The days a window label names: 2026年, 2026年10月, 2026年第4季度, 2026-10-01至2026-10-15."""
    if "至" in label:
        a, b = label.split("至")
        return date.fromisoformat(a), date.fromisoformat(b)
    year, rest = label.split("年", 1)
    y = int(year)
    if not rest:
        return date(y, 1, 1), date(y, 12, 31)
    if rest.startswith("第"):
        q = int(rest[1])
        first, months = date(y, 3 * q - 2, 1), 3
    else:
        first, months = date(y, int(rest.rstrip("月")), 1), 1
    end = first.month - 1 + months
    following = date(first.year + end // 12, end % 12 + 1, 1)
    return first, following - timedelta(days=1)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    folder = Path(args[0]) if args else Path(__file__).resolve().parent
    checker = Checker(folder)
    manifest = checker.manifest()
    events = {int(e["id"]): e for e in read_csv(folder, "events.csv")}
    checker.checked["events"] = len(events)
    checker.audit(manifest, events)
    figures = checker.figures(manifest, events)
    if "--json" in argv:
        print(
            json.dumps(
                {
                    "ok": not checker.problems,
                    "problems": checker.problems,
                    "checked": checker.checked,
                    **figures,
                },
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        print(f"bundle {manifest['since']} .. {manifest['until']} ({manifest['label']})")
        for name, n in checker.checked.items():
            print(f"  checked {name}: {n}")
        for text in checker.problems:
            print(f"  PROBLEM {text}")
        print(
            "RESULT: "
            + (
                "every figure checks out"
                if not checker.problems
                else f"{len(checker.problems)} problems"
            )
        )
    return 0 if not checker.problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
