"""Fuzzing the API with schemathesis, driven by our own OpenAPI schema (/api/schema/).

Every operation of the schema gets generated requests — valid and invalid (``mode: all``) — sent
to the Django WSGI app in-process, as two callers with real web sessions: the nationwide superuser
and the 管理员 of 江阳区. No answer may be a 5xx (``not_a_server_error``); answers that claim
success must match the schema where the schema describes them reliably (RESPONSE_CHECKED).

Bounded: a fixed seed (FUZZ_SEED), FUZZ_EXAMPLES generated cases per operation and caller, no
stateful phase and, unless FUZZ_COVERAGE=1, no coverage phase. Each request runs in a savepoint
that is rolled back right after it, so DELETEs and imports change nothing for the next request,
and the test database is untouched (uploads go to a temporary MEDIA_ROOT; on_commit never
fires, so no Celery task is sent).

    make fuzz                         # this file alone
    make fuzz FUZZ_EXAMPLES=100 FUZZ_SEED=7
    make fuzz FUZZ_COVERAGE=1         # + schemathesis' coverage phase (~5 minutes)
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.services import user_create

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
COVERAGE = os.environ.get("FUZZ_COVERAGE", "") == "1"
PASSWORD = "Civgrid-Fuzz-2026"

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            # the session cookie authenticates; a generated Authorization header would only 401
            "with-security-parameters": False,
            "no-shrink": True,
        },
        # the coverage phase (boundary and wrong-typed values of every field: JSON null or an array
        # for a body, …) finds more and takes minutes: FUZZ_COVERAGE=1
        "phases": {"coverage": {"enabled": COVERAGE}, "stateful": {"enabled": False}},
    }
)

# Operations whose 2xx answers the schema describes faithfully: they are also checked against it
# (response_schema_conformance). Left out because the schema says otherwise than the answer:
# the paginated lists — GET regions/, grids/, events, events/search (GeoJSON pages declared as
# a bare FeatureCollection or an array), civilization/draws, event-categories, event-departments,
# geocode/jobs, notifications (an object with results declared as an array), open311 requests
# and services, reverse — and files (exports, tiles, base map, attachments, photos).
RESPONSE_CHECKED = frozenset(
    {
        "DELETE /api/v1/grid-staff/{id}",
        "GET /api/v1/audit",
        "GET /api/v1/auth/me",
        "GET /api/v1/cameras",
        "GET /api/v1/cameras/near-event/{event_id}",
        "GET /api/v1/cameras/seeing",
        "GET /api/v1/cameras/{id}",
        "GET /api/v1/civilization/density",
        "GET /api/v1/civilization/draws/{id}",
        "GET /api/v1/civilization/draws/{id}/verify",
        "GET /api/v1/civilization/near",
        "GET /api/v1/civilization/units",
        "GET /api/v1/civilization/units/clusters",
        "GET /api/v1/civilization/units/heatmap",
        "GET /api/v1/civilization/units/stats",
        "GET /api/v1/civilization/units/{id}",
        "GET /api/v1/component-classes",
        "GET /api/v1/components",
        "GET /api/v1/components/clusters",
        "GET /api/v1/components/heatmap",
        "GET /api/v1/components/stats",
        "GET /api/v1/components/{code}",
        "GET /api/v1/doors",
        "GET /api/v1/doors/clusters",
        "GET /api/v1/doors/heatmap",
        "GET /api/v1/doors/stats",
        "GET /api/v1/events/clusters",
        "GET /api/v1/events/heatmap",
        "GET /api/v1/events/performance",
        "GET /api/v1/events/stats",
        "GET /api/v1/events/{id}",
        "GET /api/v1/events/{id}/duplicates",
        "GET /api/v1/geocode",
        "GET /api/v1/geocode/jobs/{job_id}",
        "GET /api/v1/geocode/suggest",
        "GET /api/v1/grid-staff",
        "GET /api/v1/grid-staff/{id}",
        "GET /api/v1/grids/topology",
        "GET /api/v1/grids/{code}/",
        "GET /api/v1/grids/{code}/departments",
        "GET /api/v1/grids/{code}/team",
        "GET /api/v1/locate",
        "GET /api/v1/open311/v2/discovery.{fmt}",
        "GET /api/v1/regions/{code}/",
        "GET /api/v1/staff/{id}/grids",
        "GET /api/v1/staff/{id}/track",
        "GET /api/v1/track-stats",
        "PATCH /api/v1/grid-staff/{id}",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/logout",
        "POST /api/v1/geocode/batch",
        "POST /api/v1/notifications",
        "POST /api/v1/positions",
    }
)


def _session(user) -> dict[str, dict[str, str]]:
    """Call arguments of a real web session (cookie) with a CSRF token (the double-submit cookie
    Django checks)."""
    client = Client()
    client.force_login(user)
    csrf = secrets.token_hex(16)  # a 32-character unmasked secret is accepted as cookie and header
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
        "headers": {"X-CSRFToken": csrf},
    }


@pytest.fixture
def nationwide_admin(db) -> dict:
    user = user_create(
        username="fuzz_admin", password=PASSWORD, roles=["admin"], nationwide=True, superuser=True
    )
    return _session(user)


@pytest.fixture
def district_admin(db) -> dict:
    """管理员 of 江阳区: every scope, one district."""
    user = user_create(username="fuzz_jiangyang", password=PASSWORD, roles=["admin"], region_code="510502")
    return _session(user)


@pytest.fixture
def _keep_connection():
    """Django closes "old" database connections around each request; the test's transaction
    lives on that connection, so — as django.test.Client does — not while fuzzing in-process."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _load_schema():
    """The schema /api/schema/ serves (drf-spectacular, generated in-process: no request and no
    database at collection time), calling the Django WSGI app."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(
        json.loads(json.dumps(document, cls=DjangoJSONEncoder)), config=CONFIG
    )
    loaded.app = get_wsgi_application()
    return loaded


# Loaded when the module is collected: schemathesis' lazy (fixture) schema does not run under
# pytest 9 (it sets the removed Node._nodeid), so each operation is a test item of its own.
schema = _load_schema()


@pytest.fixture(autouse=True)
def _isolated(db, _keep_connection, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CIVGRID = {**settings.CIVGRID, "BASEMAP_DIR": str(tmp_path / "basemap")}


@contextmanager
def rolled_back():
    """The request's writes are undone as soon as it is answered (a savepoint in the test's
    transaction); a request that broke the transaction leaves it usable again."""
    sid = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(sid)
        transaction.set_rollback(False)


def call_and_check(case, session: dict) -> None:
    with rolled_back():
        response = case.call(**session)
    checks = [not_a_server_error]
    if case.operation.label in RESPONSE_CHECKED:
        checks.append(response_schema_conformance)
    case.validate_response(response, checks=checks)


# The caller's user and session are made once per operation, not per generated case: each case's
# writes are rolled back (rolled_back), so nothing a case does reaches the next one.
FUZZ_SETTINGS = hypothesis.settings(
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture], deadline=None
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_as_nationwide_admin(case, nationwide_admin):
    call_and_check(case, nationwide_admin)


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_as_district_admin(case, district_admin):
    call_and_check(case, district_admin)


@pytest.fixture(autouse=True)
def _no_rate_limit_leftovers():
    yield
    client = cache._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match="civgrid:rl:*", count=1000))
    if keys:
        client.delete(*keys)
