"""The deployment files: compose validates, the image is built lean (uv from its image with a
cache mount and compiled bytecode, no GIS reader, a healthcheck for each process) and the
build context is the source, not the environments beside it."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import tomllib

from tests.kit.servers import ROOT

DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")


def test_compose_file_validates() -> None:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose not found: scripts/bootstrap.sh test installs it (make test)"
    done = subprocess.run(
        [exe, "-f", str(ROOT / "docker" / "compose.yml"), "config"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "WANGGE_SECRET_KEY": "x" * 40},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = done.stdout
    assert "test:\n      - CMD\n      - wangge\n      - probe\n      - worker" in config


def test_the_image_installs_with_uv_from_its_image_and_compiles_bytecode() -> None:
    assert "pip install" not in DOCKERFILE
    assert "COPY --from=uv /uv /bin/uv" in DOCKERFILE
    assert "FROM ghcr.io/astral-sh/uv:" in DOCKERFILE
    assert "--mount=type=cache,target=/root/.cache/uv" in DOCKERFILE
    assert "UV_COMPILE_BYTECODE=1" in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE and '"wangge", "probe", "api"' in DOCKERFILE
    # the runtime environment: no dev group, no extras (pyogrio stays out)
    assert "uv sync --frozen --no-dev --no-install-project" in DOCKERFILE
    assert "--extra" not in DOCKERFILE and "--all-extras" not in DOCKERFILE


def test_gis_file_import_is_an_optional_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(d.startswith("pyogrio") for d in project["dependencies"])
    assert any(d.startswith("pyogrio") for d in project["optional-dependencies"]["gis"])


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rules for the patterns used here: ``**/name`` at any depth,
    other patterns from the context's root; a match on a directory excludes its content."""
    parts = path.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatch(part, tail) for part in parts):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
    return False


def test_the_build_context_is_the_source() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    size = 0
    for folder, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(folder, ROOT)
        rel = "" if rel == "." else rel + "/"
        dirs[:] = [d for d in dirs if not _ignored(rel + d, patterns)]
        for name in files:
            if not _ignored(rel + name, patterns):
                size += os.path.getsize(os.path.join(folder, name))
    assert size < 20 * 1024 * 1024, f"build context {size / 2**20:.1f} MiB"
    for needed in ("service/cli.py", "alembic.ini", "uv.lock", "data", "console/src"):
        assert not _ignored(needed, patterns), needed
