"""The operators' command line: ``wangge migrate | load-data | create-user | api | worker |
run | simulate | stats rebuild|seal | calendar load|list | audit verify|seal|fill|heads|bundle``.
Commands import what they need when they run, so the CLI starts fast."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kernel.settings import get_settings

if TYPE_CHECKING:
    from alembic.config import Config

app = typer.Typer(help="Wangge 网格化管理: operator commands.", no_args_is_help=True)


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config  # alembic (with mako) costs every other command ~0.5 s

    root = Path(__file__).resolve().parent.parent
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "alembic"))
    if url:
        cfg.attributes["url"] = url
    return cfg


@app.command()
def migrate(revision: str = "head") -> None:
    """Apply the schema migrations (alembic upgrade)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)


@app.command("load-data")
def load_data(
    grids: Annotated[
        Path | None, typer.Option(help="grid map file; default data/grids.geojson")
    ] = None,
) -> None:
    """Load (or refresh) the grid map, the roster and the categories. Idempotent.

    A bad map file changes nothing and exits with status 2, listing each bad feature and why.
    """
    from kernel.errors import WanggeError
    from service.loading import load_all

    try:
        summary = load_all(grids_path=grids)
    except WanggeError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"msg": exc.detail}
        typer.echo(f"error: {detail.get('msg', detail)}", err=True)
        for line in detail.get("problems") or detail.get("grids") or []:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(summary)


@app.command("create-user")
def create_user(
    username: str,
    role: Annotated[
        str, typer.Option(help="member|head|community|dispatcher|department|evaluator|admin")
    ],
    name: Annotated[str | None, typer.Option(help="the person's name")] = None,
    grid: Annotated[str | None, typer.Option(help="grid code, for member and head")] = None,
    community: Annotated[str | None, typer.Option(help="community name or code")] = None,
    department: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a login (and its staff record)."""
    from domain.roles import Role
    from kernel.errors import WanggeError
    from kernel.uow import unit_of_work
    from staff.roster import create_user as create

    try:
        with unit_of_work() as uow:
            user = create(
                uow=uow,
                username=username,
                password=password,
                role=Role(role),
                name=name or username,
                grid_code=grid,
                community=community,
                department=department,
            )
            typer.echo(f"created user {user.username} (id {user.id}, role {role})")
    except (WanggeError, ValueError) as exc:
        typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
        raise typer.Exit(2) from exc


@app.command("deactivate-user")
def deactivate_user(username: str) -> None:
    """Deactivate a login: it cannot sign in or refresh, and its access tokens stop working
    within seconds (WANGGE_TOKEN_REVOCATION_RECHECK_SECONDS)."""
    from kernel.clock import utc_now
    from kernel.errors import WanggeError
    from kernel.redis import get_redis
    from kernel.uow import unit_of_work
    from staff.auth import deactivate

    try:
        with unit_of_work() as uow:
            user = deactivate(uow=uow, redis=get_redis(), username=username, now=utc_now())
    except WanggeError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"deactivated user {user.username} (id {user.id})")


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the HTTP API with uvicorn. With several worker processes their metrics are
    written to a fresh directory of files (Prometheus's multiprocess mode) so one scrape
    counts them all; on SIGTERM open requests get WANGGE_SHUTDOWN_GRACE_SECONDS, then are
    cancelled (a change stream never holds the shutdown)."""
    settings = get_settings()  # refuse to start with insecure settings, before forking workers
    if workers > 1:
        metrics_dir = Path(
            os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="wangge-metrics-")
        )
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics_dir.glob("*.db"):  # counts of an earlier run
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.api.app:app_factory",
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            str(settings.shutdown_grace_seconds),
        ],
    )


@app.command()
def worker(burst: bool = False) -> None:
    """Run the RQ worker (scheduler on) with the heartbeat and periodic tasks."""
    from kernel.logging import configure_logging
    from service.worker import run_worker

    get_settings()
    configure_logging()
    run_worker(burst=burst)


@app.command()
def probe(
    part: Annotated[str, typer.Argument(help="api | worker")],
    url: Annotated[str, typer.Option(help="the API's liveness URL")] = (
        "http://127.0.0.1:8000/livez"
    ),
) -> None:
    """A container healthcheck: exit 0 when the part is alive, 1 (with why) when not.
    ``api`` asks the API's ``/livez``; ``worker`` reads this host's worker heartbeat file."""
    if part == "api":
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=3) as reply:  # noqa: S310 (operator's URL)
                typer.echo(f"{url}: {reply.status}")
                return
        except OSError as exc:
            typer.echo(f"{url}: {exc}", err=True)
            raise typer.Exit(1) from exc
    if part == "worker":
        from kernel.health import probe_worker

        alive, line = probe_worker(get_settings().worker_heartbeat_file)
        typer.echo(line, err=not alive)
        raise typer.Exit(0 if alive else 1)
    typer.echo(f"unknown part {part!r}: api or worker", err=True)
    raise typer.Exit(2)


@app.command()
def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """API and worker together in the foreground; Ctrl-C stops both."""
    get_settings()

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)  # a supervisor's TERM stops both children too
    exe = [sys.executable, "-m", "service.cli"]
    procs = [
        subprocess.Popen([*exe, "worker"]),
        subprocess.Popen(
            [*exe, "api", "--host", host, "--port", str(port), "--workers", str(workers)]
        ),
    ]
    try:
        while all(p.poll() is None for p in procs):
            try:
                procs[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    codes = [p.returncode for p in procs]
    raise typer.Exit(0 if all(c in (0, -signal.SIGINT, 130) for c in codes) else 1)


stats_app = typer.Typer(help="Evaluation statistics: rebuild and seal the fast path.")
app.add_typer(stats_app, name="stats")


@stats_app.command("rebuild")
def stats_rebuild() -> None:
    """Recompute every counter and histogram from the events and patrols, then seal the
    blocks (writers wait meanwhile). Needed after a bulk load or editing rows by hand."""
    from evaluation.sealing import rebuild, today_local
    from kernel.clock import utc_now
    from kernel.uow import unit_of_work

    started = utc_now()
    with unit_of_work() as uow:
        blocks = rebuild(uow=uow, today=today_local(started))
    seconds = (utc_now() - started).total_seconds()
    typer.echo(f"statistics rebuilt; {blocks} blocks sealed in {seconds:.1f} s")


@stats_app.command("seal")
def stats_seal() -> None:
    """Seal the blocks of past days that are missing (the worker does this every few minutes)."""
    from evaluation.sealing import seal, today_local
    from kernel.clock import utc_now
    from kernel.uow import unit_of_work

    with unit_of_work() as uow:
        blocks = seal(uow=uow, today=today_local(utc_now()))
    typer.echo(f"{blocks} blocks sealed")


calendar_app = typer.Typer(help="Working calendars (工作日历): load a year, list what is known.")
app.add_typer(calendar_app, name="calendar")


@calendar_app.command("load")
def calendar_load(path: Annotated[Path, typer.Argument(help="calendar JSON file")]) -> None:
    """Validate and store a calendar file: a new code is created; a known one gets the file's
    years (years loaded before are kept), time zone, week and hours. An invalid file changes
    nothing and exits with status 2, listing every problem."""
    from dispatch.calendars.service import load_calendar_file
    from kernel.clock import utc_now
    from kernel.errors import WanggeError
    from kernel.uow import unit_of_work

    try:
        with unit_of_work() as uow:
            summary = load_calendar_file(uow.session, path, now=utc_now())
            uow.commit()
    except WanggeError as exc:
        typer.echo(f"error: calendar file {path} was not loaded", err=True)
        for problem in exc.detail if isinstance(exc.detail, list) else [exc.detail]:
            loc = ".".join(str(p) for p in problem.get("loc", []))
            typer.echo(f"  {loc}: {problem.get('msg', problem)}", err=True)
        raise typer.Exit(2) from exc
    verb = "created" if summary["created"] else "updated"
    years = summary["years"]
    span = f"{years[0]}–{years[-1]}" if years else "all (continuous)"
    typer.echo(f"calendar {summary['code']} {verb}: years {span}, revision {summary['revision']}")


@calendar_app.command("list")
def calendar_list() -> None:
    """The calendars, the years each knows, and the categories that use it."""
    from sqlmodel import Session

    from dispatch.calendars.service import list_calendars
    from kernel.db import get_engine

    with Session(get_engine()) as session:
        for c in list_calendars(session):
            years = c["years"]
            span = "all years" if c["continuous"] else f"{years[0]}–{years[-1]}"
            used = ", ".join(c["categories"]) or "-"
            typer.echo(f"{c['code']:<12} {c['time_zone']:<16} {span:<12} categories: {used}")


audit_app = typer.Typer(help="The audit log's evidence: verify, seal and publish day heads.")
app.add_typer(audit_app, name="audit")
Day = Annotated[str | None, typer.Option(help="YYYY-MM-DD (service time zone), inclusive")]


def _days(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    try:
        return (
            date.fromisoformat(since) if since else None,
            date.fromisoformat(until) if until else None,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@audit_app.command("verify")
def audit_verify(
    since: Day = None,
    until: Day = None,
    json_output: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
    jobs: Annotated[
        int, typer.Option(min=1, max=16, help="connections checking at once (one snapshot)")
    ] = 2,
) -> None:
    """Recompute the hash chains and day heads, replay every event's audit log against its row,
    recompute every statistic, indicator and score of the window from the raw rows and compare
    them with what is served, and check the report's own consistency. Default window: from the
    first report to today. Exit status 1 when anything disagrees."""
    import json

    from evaluation.verify import verify_window
    from kernel.uow import unit_of_work

    first, last = _days(since, until)
    with unit_of_work() as uow:
        report = verify_window(uow.session, first, last, jobs=jobs)
    if json_output:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            typer.echo(line)
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("seal")
def audit_seal() -> None:
    """Seal the day heads of finished days (the worker does this every few minutes)."""
    from dispatch.ledger import seal_days
    from kernel.clock import utc_now
    from kernel.uow import unit_of_work

    with unit_of_work() as uow:
        days = seal_days(uow, now=utc_now())
    typer.echo(f"{days} days sealed")


@audit_app.command("fill")
def audit_fill() -> None:
    """Hash the audit rows that have no hash (inserted with the trigger audit_chain disabled)."""
    from dispatch.ledger import fill_chain
    from kernel.uow import unit_of_work

    with unit_of_work() as uow:
        rows = fill_chain(uow.session)
        uow.commit()
    typer.echo(f"{rows} audit rows hashed")


@audit_app.command("bundle")
def audit_bundle(
    since: Annotated[str, typer.Option(help="first report day YYYY-MM-DD")],
    until: Annotated[str, typer.Option(help="last report day YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="the zip to write")] = Path("bundle.zip"),
) -> None:
    """Write the evaluation bundle of a window (what GET /api/v1/stats/bundle serves): check
    it anywhere with `python3 check.py` inside it."""
    from evaluation.bundle import write_bundle
    from evaluation.scope import window
    from kernel.uow import unit_of_work

    first, last = _days(since, until)
    assert first is not None and last is not None
    with unit_of_work() as uow, out.open("wb") as f:
        manifest = write_bundle(uow.session, window(first, last), f)
    typer.echo(f"{out}: {len(manifest['files'])} files, {manifest['label']}")


@audit_app.command("heads")
def audit_heads(since: Day = None, until: Day = None) -> None:
    """Print the sealed day heads (CSV: day, rows, digest, head) for publication."""
    from dispatch.ledger import day_heads
    from kernel.uow import unit_of_work

    first, last = _days(since, until)
    with unit_of_work() as uow:
        typer.echo("day,rows,digest,head")
        for h in day_heads(uow.session, first, last):
            typer.echo(f"{h.day.isoformat()},{h.rows},{h.digest.hex()},{h.head.hex()}")


@app.command()
def simulate(
    days: Annotated[int, typer.Option(min=1, max=3660, help="days of history")] = 30,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same history)")] = 1,
    bulk: Annotated[
        bool, typer.Option("--bulk", help="write rows with COPY (millions of events)")
    ] = False,
    grids: Annotated[
        int | None,
        typer.Option(min=1, help="grids to use; above the map's count adds synthetic grids"),
    ] = None,
    per_day: Annotated[
        float | None, typer.Option(min=0, help="mean reports per day (default 1.5 per grid)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="last simulated day YYYY-MM-DD (default yesterday)")
    ] = None,
) -> None:
    """Simulate a realistic history for the loaded map (events and patrols).

    Small runs go through the dispatch core and dispatch.store with a simulated clock; --bulk
    writes the same kind of rows with COPY, then rebuilds the statistics.
    """
    from evaluation.sealing import seal, today_local
    from kernel.clock import utc_now
    from kernel.db import get_engine
    from kernel.uow import unit_of_work

    last = date.fromisoformat(until) if until else None
    if bulk:
        from tools.simulate import bulk as simulate_bulk

        summary = simulate_bulk.run(
            get_engine(), days=days, seed=seed, per_day=per_day, grids=grids, until=last
        )
    else:
        from tools.simulate import small as simulation

        with unit_of_work() as uow:
            summary = simulation.simulate(
                uow, days=days, seed=seed, per_day=per_day, grids=grids, until=last
            )
            seal(uow=uow, today=today_local(utc_now()))
    typer.echo(summary.line())


if __name__ == "__main__":
    app()
