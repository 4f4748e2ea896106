"""A real primary and hot standby for the read-replica tests: a private PostgreSQL cluster
(initdb under ``.local/replica*/``, free port) holding a Wangge database, and a standby made
from it with ``pg_basebackup -R`` streaming from it on another port.

The shared test server is not used as the primary: its pg_hba allows no replication
connections, and a base backup would copy every other database it holds."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.kit.servers import ROOT, free_port

# ``wangge`` commands run in one interpreter (each CLI start imports the whole service).
_RUN_COMMANDS = (
    "import json, sys; from service.cli import app\n"
    "for args in json.loads(sys.argv[1]): app(args, standalone_mode=False)"
)

BINDIR = Path(
    sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
)
DATABASE = "wangge_replica_test"


def _as_postgres(args: list[str], **kwargs: object) -> None:
    """Clusters cannot be run by root: run as the postgres user when we are root."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


class Cluster:
    """One postmaster on 127.0.0.1:``port`` serving ``data`` (socket and log beside it)."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = DATABASE) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
            autocommit=True,
            connect_timeout=5,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c shared_buffers=32MB -c max_connections=40"
        )
        log = self.data.parent / f"{self.data.name}.log"
        _as_postgres(
            [f"{BINDIR}/pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60",
             "-o", options, "start"]
        )  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _as_postgres([f"{BINDIR}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])


class Replication:
    """A primary with the schema and reference data, and a standby streaming from it."""

    def __init__(
        self,
        env: dict[str, str],
        commands: list[list[str]],
        folder: Path | None = None,
    ) -> None:
        """``commands``: ``wangge`` commands to run on the primary after ``migrate`` and
        ``load-data``, before the base backup (e.g. a simulated history)."""
        # one folder per pytest-xdist worker (``replica-gw0``), ``replica`` without xdist
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        folder = folder or ROOT / ".local" / ("replica-" + worker if worker else "replica")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(folder, pw.pw_uid, pw.pw_gid)
        self.primary = Cluster(folder / "primary", free_port())
        self.standby = Cluster(folder / "standby", free_port())
        # initdb's trust set-up allows replication connections from 127.0.0.1.
        _as_postgres(
            [f"{BINDIR}/initdb", "-D", str(self.primary.data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
        )  # fmt: skip
        self.primary.start()
        with self.primary.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with self.primary.connect() as conn:
            conn.execute("CREATE EXTENSION postgis")
        env = {**env, "WANGGE_DATABASE_URL": self.primary.url()}
        env.pop("WANGGE_READ_DATABASE_URL", None)
        commands = [["migrate"], ["load-data"], *commands]
        subprocess.run(
            [sys.executable, "-c", _RUN_COMMANDS, json.dumps(commands)],
            check=True, env=env, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        _as_postgres(
            [f"{BINDIR}/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
             "-U", "postgres", "-D", str(self.standby.data), "-R", "-X", "stream",
             "-c", "fast"]
        )  # fmt: skip
        self.standby.start()

    def caught_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with self.primary.connect() as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert target is not None
        deadline = time.monotonic() + timeout
        with self.standby.connect() as conn:
            while True:
                row = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(target[0]),)
                ).fetchone()
                if row and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError("the standby did not catch up")
                time.sleep(0.05)

    def close(self) -> None:
        for cluster in (self.standby, self.primary):
            try:
                cluster.stop()
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.primary.data.parent, ignore_errors=True)
