#!/usr/bin/env bash
# Installs what civgrid needs on a Debian/Ubuntu machine, idempotently:
#   1. system packages (PostgreSQL + PostGIS, GDAL/GEOS/PROJ, Redis, Python venv)
#   2. .venv with the locked Python dependencies (requirements.lock)
# Re-running it when nothing changed takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  postgresql postgresql-contrib postgis
  gdal-bin libgdal-dev libgeos-dev libproj-dev proj-bin binutils
  redis-server curl
  wrk  # the HTTP load generator of `make bench BENCH=tiles` (cached tiles per second)
  fonts-wqy-microhei  # the CJK font of the offline base map (tiles/basemap)
  chromium  # headless browser of the web-page tests (webmap/tests, Playwright; no `playwright install`)
  python3 python3-venv python3-dev build-essential
)

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the PostGIS extension for the installed PostgreSQL major version
pgmajor=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)
if [ -n "$pgmajor" ] && [ ! -e "/usr/share/postgresql/$pgmajor/extension/postgis.control" ]; then
  missing+=("postgresql-$pgmajor-postgis-3")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt: installing ${missing[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  pgmajor=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if [ ! -e "/usr/share/postgresql/$pgmajor/extension/postgis.control" ]; then
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$pgmajor-postgis-3" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
want=$(sha256sum requirements.lock | cut -d' ' -f1)
have=$(cat .venv/.lock-sha 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "==> installing locked Python dependencies"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.lock
  echo "$want" > .venv/.lock-sha
fi

# Front-end packages pinned in package-lock.json (Leaflet, inlined into exported map pages so they
# work offline): `npm ci` once per change of the lock file (stamp node_modules/.lock-sha)
if [ -f package-lock.json ]; then
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$want" != "$(cat node_modules/.lock-sha 2>/dev/null || true)" ]; then
    if ! command -v npm >/dev/null; then
      echo "==> apt: installing nodejs npm"
      sudo_ apt-get update -qq
      sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "==> installing locked npm packages"
    npm ci --no-audit --no-fund --silent
    echo "$want" > node_modules/.lock-sha
  fi
fi
