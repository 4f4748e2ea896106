"""Make sure PostgreSQL (with PostGIS) and Redis answer, then prepare the database.

Uses the servers at the configured URLs when they answer; otherwise starts private ones
under ``.local/`` on free ports. Writes ``.local/<mode>.env`` with the URLs to use, so
``make run`` / ``make test`` (and you) can source it. Idempotent.

    python scripts/services.py dev    # dev database `wangge`: create, migrate, load data
    python scripts/services.py test   # servers only; the test suite builds `wangge_test`
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from kernel.db import libpq_url

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/wangge"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def say(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_answers(url: str) -> bool:
    try:
        with psycopg.connect(libpq_url(url, "postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=2).ping())
    except RedisError:
        return False


def _run_as_postgres(args: list[str]) -> None:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True)


def start_private_postgres() -> str:
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
    pgdir = LOCAL / "pg"
    data = pgdir / "data"
    port_file = pgdir / "port"
    pgdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(pgdir, pw.pw_uid, pw.pw_gid)
    if not (data / "PG_VERSION").exists():
        say(f"initdb a private cluster in {data}")
        _run_as_postgres(
            [
                f"{bindir}/initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/wangge"
    if not pg_answers(url):
        say(f"starting the private PostgreSQL on 127.0.0.1:{port}")
        _run_as_postgres(
            [
                f"{bindir}/pg_ctl",
                "-D",
                str(data),
                "-l",
                str(pgdir / "log"),
                "-w",
                "-o",
                f"-p {port} -k {pgdir} -c listen_addresses=127.0.0.1",
                "start",
            ]
        )
        if os.geteuid() == 0:
            os.chown(pgdir, pwd.getpwnam("postgres").pw_uid, -1)
        port_file.write_text(str(port))
    return url


def start_private_redis() -> str:
    rdir = LOCAL / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    port_file = rdir / "port"
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    url = f"redis://127.0.0.1:{port}/0"
    if not redis_answers(url):
        say(f"starting a private redis-server on 127.0.0.1:{port}")
        subprocess.run(
            [
                shutil.which("redis-server") or "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(rdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--pidfile",
                str(rdir / "redis.pid"),
                "--logfile",
                str(rdir / "redis.log"),
            ],
            check=True,
        )
        for _ in range(50):
            if redis_answers(url):
                break
            time.sleep(0.1)
        port_file.write_text(str(port))
    return url


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def previous_choice(env_file: Path) -> dict[str, str]:
    """The database name and Redis number an earlier run wrote to ``env_file`` (none if it
    does not exist)."""
    if not env_file.exists():
        return {}
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    kept = {}
    if database := make_url(values.get("WANGGE_DATABASE_URL", "postgresql://")).database:
        kept["database"] = database
    if number := urlsplit(values.get("WANGGE_REDIS_URL", "")).path.strip("/"):
        kept["redis_db"] = number
    return kept


def ensure_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq_url(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            say(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def main(mode: str) -> None:
    LOCAL.mkdir(exist_ok=True)
    db_url = os.environ.get("WANGGE_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("WANGGE_REDIS_URL", DEFAULT_REDIS)
    if not pg_answers(db_url):
        say(f"no PostgreSQL answers at {make_url(db_url).host}:{make_url(db_url).port}")
        db_url = start_private_postgres()
    if not redis_answers(redis_url):
        say(f"no Redis answers at {redis_url}")
        redis_url = start_private_redis()
    env_file = LOCAL / f"{mode}.env"
    if mode == "test":
        # A separate database, and a Redis database number of its own that tests may flush
        # (WANGGE_TEST_DATABASE_URL / WANGGE_TEST_REDIS_DB choose others: a second checkout;
        # once chosen they are kept, so a later `make test` does not move it back onto the
        # first checkout's database).
        kept = previous_choice(env_file)
        db_url = os.environ.get("WANGGE_TEST_DATABASE_URL") or with_database(
            db_url, kept.get("database", "wangge_test")
        )
        test_db = os.environ.get("WANGGE_TEST_REDIS_DB") or kept.get("redis_db", "15")
        redis_url = urlsplit(redis_url)._replace(path=f"/{test_db}").geturl()
    env_file.write_text(
        f"WANGGE_DATABASE_URL={db_url}\nWANGGE_REDIS_URL={redis_url}\n"
        f"WANGGE_ENV={'test' if mode == 'test' else os.environ.get('WANGGE_ENV', 'dev')}\n"
    )
    if mode == "dev":
        ensure_database(db_url)
        env = {**os.environ, "WANGGE_DATABASE_URL": db_url, "WANGGE_REDIS_URL": redis_url}
        wangge = str(ROOT / ".venv" / "bin" / "wangge")
        subprocess.run([wangge, "migrate"], check=True, env=env)
        subprocess.run([wangge, "load-data"], check=True, env=env)
    say(f"ready: {env_file.relative_to(ROOT)} ({make_url(db_url).render_as_string()}, {redis_url})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev")
