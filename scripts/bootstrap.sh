#!/usr/bin/env bash
# Bring a fresh Debian/Ubuntu machine to the point where the service or the tests can run.
# Idempotent: every step checks before it acts. Usage: scripts/bootstrap.sh [dev|test]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-dev}"
UV_VERSION="0.13.9"

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else
    say "need root to run: $*"
    say "run this as root (or with passwordless sudo), or install it yourself, then retry."
    exit 1
  fi
}
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  say "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. Python >= 3.11 with venv
py=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    py="$(command -v "$candidate")"; break
  fi
done
if [ -z "$py" ]; then apt_install python3 python3-venv; py="$(command -v python3)"; fi
if [ ! -x .venv/bin/python ]; then
  if ! "$py" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$py" -m venv .venv
  fi
fi

# 2. The project and its locked dependencies (uv.lock), installed into .venv
if [ ! -x .venv/bin/uv ] || [ "$(.venv/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION into .venv"
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --frozen --inexact --quiet --extra gis

# 3. PostgreSQL binaries, PostGIS, Redis
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql postgresql-contrib
fi
pg_major="$(ls /usr/lib/postgresql | sort -n | tail -n1)"
if [ ! -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ]; then
  apt_install "postgresql-$pg_major-postgis-3"
fi
if ! command -v redis-server >/dev/null; then apt_install redis-server; fi

# 4. Node >= 20 for the console (console/: npm ci from its lock file, vite build); the browser
#    tests drive Debian's Chromium (never a browser download) and screenshots need CJK fonts.
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'
}
if ! node_ok; then
  if ! command -v node >/dev/null; then apt_install nodejs npm; fi
  if ! node_ok; then
    say "the console needs Node.js >= 20 (found $(node --version 2>/dev/null || echo none)): install it, then retry"
    exit 1
  fi
fi
if [ "$mode" = test ]; then
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
  # GDAL's ogrinfo reads the OGC API - Features door in the tests, as a GIS client would
  if ! command -v ogrinfo >/dev/null; then apt_install gdal-bin; fi
  # the deployment test validates docker/compose.yml (no Docker engine needed)
  if ! command -v docker-compose >/dev/null; then apt_install docker-compose; fi
  fonts="$(fc-list 2>/dev/null || true)"
  if ! grep -qi 'Noto Sans CJK' <<<"$fonts"; then apt_install fonts-noto-cjk; fi
fi

# 5. Servers (reuse the configured ones, else start private ones), database, migrations, data
.venv/bin/python scripts/services.py "$mode"
