# civgrid — every target sets up what it needs (apt packages, .venv, private
# PostGIS + Redis under .run/) and can be run on a fresh machine.
#   make demo   set up, load the demo city, serve http://127.0.0.1:8000
#   make test   set up and run the whole test suite (what .ci/run calls)
#   make bench  benchmarks against the large demo city (see BENCHMARKS.md);
#               make bench BENCH=geocode runs one part
#   make stop   stop what `make demo` started
#   make backup  database (pg_dump -Fc) + uploaded files into $(BACKUP_DIR)/<UTC time>/ with a manifest
#   make restore BACKUP=backups/<time>  check the manifest, restore both, compare the row counts
#   make fuzz   the schemathesis pass over the API alone (FUZZ_EXAMPLES=, FUZZ_SEED=, FUZZ_COVERAGE=1)

SHELL := /bin/bash
PY := .venv/bin/python
RUN := .run
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SCALE ?= small
DEMO_SEED ?= 1
WEB_WORKERS ?= 3
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: setup services migrate demo serve stop test lint bench clean backup restore fuzz loadtest faults

setup:
	@bash scripts/setup.sh

services: setup
	@bash scripts/services.sh start

migrate: services
	@$(PY) manage.py migrate --noinput -v 0

demo: migrate
	@$(PY) manage.py demo_city --seed $(DEMO_SEED) --scale $(DEMO_SCALE)
	@$(PY) manage.py collectstatic --noinput -v 0
	@$(PY) manage.py demo_users
	@bash scripts/serve.sh start $(HOST) $(PORT) $(WEB_WORKERS)

stop:
	@bash scripts/serve.sh stop
	@bash scripts/services.sh stop

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

test: services lint
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run -v 1
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest

# backups (scripts/backup.sh; see README "Backups and restore")
BACKUP_DIR ?= backups
BACKUP ?=
backup: services
	@BACKUP_DIR=$(BACKUP_DIR) bash scripts/backup.sh backup

restore: services
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=$(BACKUP_DIR)/<time>" >&2; exit 2; }
	@bash scripts/backup.sh restore "$(BACKUP)"

# the API fuzz pass alone (it also runs in `make test`): more cases or another seed
FUZZ_EXAMPLES ?= 4
FUZZ_SEED ?= 20261121
FUZZ_COVERAGE ?=
fuzz: services
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) FUZZ_COVERAGE=$(FUZZ_COVERAGE) DJANGO_SETTINGS_MODULE=config.settings.test \
	  $(PY) -m pytest -m fuzz tests/test_fuzz.py -q

# BENCH=geocode (or locate) runs one part; the benchmark-only packages
# (requirements-bench.txt: cpca, jionlp and their needs) go into .venv here only, once
# per change of that file (stamp .venv/.bench-sha, like scripts/setup.sh does)
BENCH ?=
bench: services
	@want=$$(sha256sum requirements-bench.txt | cut -d' ' -f1); \
	if [ "$$want" != "$$(cat .venv/.bench-sha 2>/dev/null)" ]; then \
	  echo "==> installing benchmark-only Python dependencies (requirements-bench.txt)"; \
	  $(PY) -m pip install -q -r requirements-bench.txt && echo "$$want" > .venv/.bench-sha; \
	fi
	@DJANGO_SETTINGS_MODULE=config.settings.bench $(PY) -m bench $(BENCH)

# load test (loadtest/, README "## Production"): gunicorn + a Celery worker on the bench database
# (civgrid_bench with the large city, built here if missing, as make bench does), locust on loopback; locust and its needs
# (requirements-load.txt) go into .venv here only. LOADTEST_ARGS="--users 200 --duration 30" etc.
LOADTEST_ARGS ?= --users 50,200,500 --duration 60 --scaling 1,2,4 --soak 600
loadtest: services
	@bash scripts/loadtest.sh $(LOADTEST_ARGS)

# every fault test, the slow ones too (tests/test_faults_workers.py: make test skips them)
faults: services
	@CIVGRID_SLOW_FAULTS=1 DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest tests/test_faults.py tests/test_faults_workers.py -q

clean: stop
	rm -rf $(RUN)
