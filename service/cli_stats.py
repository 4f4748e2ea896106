"""Operator commands: ``wangge simulate`` and ``wangge stats rebuild|seal`` (imports are lazy so
the rest of the CLI starts fast)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

stats_app = typer.Typer(help="Evaluation statistics: rebuild and seal the fast path.")


@stats_app.command("rebuild")
def rebuild() -> None:
    """Recompute every counter and histogram from the events and patrols, then seal the
    blocks (writers wait meanwhile). Needed after a bulk load or editing rows by hand."""
    from evaluation.service import rebuild as run
    from evaluation.service import today_local
    from kernel.db import session_scope

    with session_scope() as session:
        started = datetime.now(UTC)
        blocks = run(session=session, today=today_local(started))
        seconds = (datetime.now(UTC) - started).total_seconds()
    typer.echo(f"statistics rebuilt; {blocks} blocks sealed in {seconds:.1f} s")


@stats_app.command("seal")
def seal() -> None:
    """Seal the blocks of past days that are missing (the worker does this every few minutes)."""
    from evaluation.service import seal as run
    from evaluation.service import today_local
    from kernel.db import session_scope

    with session_scope() as session:
        blocks = run(session=session, today=today_local(datetime.now(UTC)))
    typer.echo(f"{blocks} blocks sealed")


def simulate_command(
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

    Small runs go through the dispatch core and dispatch.store.record with a simulated clock;
    --bulk writes the same kind of rows with COPY, then rebuilds the statistics.
    """
    from kernel.db import get_engine
    from tools.simulate import events as sim

    last = date.fromisoformat(until) if until else None
    if bulk:
        from tools.simulate import bulk as simulate_bulk

        summary = simulate_bulk.run(
            get_engine(), days=days, seed=seed, per_day=per_day, grids=grids, until=last
        )
    else:
        from sqlmodel import Session

        with Session(get_engine()) as session:
            summary = sim.simulate(
                session, days=days, seed=seed, per_day=per_day, grids=grids, until=last
            )
            from evaluation.service import seal as run_seal
            from evaluation.service import today_local

            run_seal(session=session, today=today_local(datetime.now(UTC)))
    typer.echo(summary.line())
