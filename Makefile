# civgrid — every target sets up what it needs (apt packages, .venv, private
# PostGIS + Redis under .run/) and can be run on a fresh machine.
#   make demo   set up, load the demo city, serve http://127.0.0.1:8000
#   make test   set up and run the whole test suite (what .ci/run calls)
#   make bench  benchmarks against the large demo city (see BENCHMARKS.md)
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

bench: services
	@DJANGO_SETTINGS_MODULE=config.settings.bench $(PY) -m bench

clean: stop
	rm -rf $(RUN)
