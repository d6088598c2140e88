#!/usr/bin/env bash
# `make loadtest`: install the load-test-only packages (requirements-load.txt) into .venv once
# per change of that file, then run python -m loadtest with the arguments given.
#   LOADTEST_ARGS="--users 50,200,500 --duration 60 --scaling 1,2,4 --soak 600" (see loadtest/__main__.py)
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sha256sum requirements-load.txt | cut -d' ' -f1)
if [ "$want" != "$(cat .venv/.load-sha 2>/dev/null)" ]; then
  echo "==> installing load-test-only Python dependencies (requirements-load.txt)"
  .venv/bin/python -m pip install -q -r requirements-load.txt
  echo "$want" > .venv/.load-sha
fi
# the bench database (civgrid_bench) is created, migrated and given the large city if it has
# none yet (bench.__main__.ensure_city, the same step as make bench), by python -m loadtest
exec env DJANGO_SETTINGS_MODULE=config.settings.bench .venv/bin/python -m loadtest "$@"
