# civgrid — every target sets up what it needs (apt packages, .venv, private
# PostGIS + Redis under .run/) and can be run on a fresh machine.
#   make demo   set up, load the demo city, serve http://127.0.0.1:8000
#   make test   set up and run the whole test suite (what .ci/run calls)
#   make bench  benchmarks against the large demo city (see BENCHMARKS.md);
#               make bench BENCH=geocode runs one part
#   make stop   stop what `make demo` started

SHELL := /bin/bash
PY := .venv/bin/python
RUN := .run
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SCALE ?= small
DEMO_SEED ?= 1
WEB_WORKERS ?= 3
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: setup services migrate demo serve stop test lint bench clean

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

clean: stop
	rm -rf $(RUN)
