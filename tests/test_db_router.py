"""The read-replica router (config.db_router), with a second alias pointing at the same test
database: map/statistics GETs read the map's data through ``replica``; everything else
(writes, accounts, API keys, sessions, other paths) stays on ``default``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import apikey_issue
from config.db_router import REPLICA, ReplicaRouter, read_alias, replica_reads
from events.models import Event

STATS = "/api/v1/events/stats?by=district"
HEATMAP = "/api/v1/events/heatmap?size=2000"


@pytest.fixture(scope="module")
def replica_alias(django_db_setup) -> Iterator[None]:
    """``replica``: its own connection to the test database (committed data: the demo city).

    Module-scoped, so it exists before pytest-django checks the test's ``databases``."""
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    connections.settings[REPLICA] = {**primary, "TEST": {**primary["TEST"], "MIRROR": DEFAULT_DB_ALIAS}}
    try:
        yield
    finally:
        connections[REPLICA].close()
        with contextlib.suppress(AttributeError):
            del connections[REPLICA]
        del connections.settings[REPLICA]


@pytest.fixture
def replica(replica_alias, settings) -> None:
    settings.DATABASES = {**settings.DATABASES, REPLICA: connections.settings[REPLICA]}
    settings.DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]


@pytest.fixture
def key_client(db) -> APIClient:
    key = apikey_issue(name="replica-test", scopes=["events:read", "events:write"], nationwide=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.token}")
    return api


def _tables(queries: list[dict]) -> str:
    return " ".join(q["sql"] for q in queries)


def test_without_a_replica_nothing_changes(settings, monkeypatch):
    monkeypatch.delitem(connections.settings, REPLICA, raising=False)  # the module's alias, if set up
    settings.DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
    with replica_reads():
        assert read_alias() == DEFAULT_DB_ALIAS
        assert ReplicaRouter().db_for_read(Event) is None


@pytest.mark.django_db(databases=[DEFAULT_DB_ALIAS, REPLICA])
def test_map_and_statistics_reads_go_to_the_replica_and_the_rest_stays_on_the_primary(
    replica, key_client, settings
):
    client = key_client
    assert Event.objects.exists()  # the demo city's events, committed: the replica sees them
    settings.DATABASE_ROUTERS = []
    from_primary = {path: client.get(path).json() for path in (STATS, HEATMAP)}
    settings.DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
    for path in (STATS, HEATMAP):
        with (
            CaptureQueriesContext(connections[REPLICA]) as on_replica,
            CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
        ):
            answer = client.get(path)
        assert answer.status_code == 200, answer.content
        assert answer.json() == from_primary[path]
        assert "events_event" in _tables(on_replica.captured_queries), path
        assert "events_event" not in _tables(on_primary.captured_queries), path
        # the API key was read from the primary (it exists only in this test's transaction there)
        assert "accounts_apikey" not in _tables(on_replica.captured_queries)

    # other paths read from the primary
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        listing = client.get("/api/v1/events?page_size=5")  # not a replica path
    assert listing.status_code == 200 and not on_replica.captured_queries


def test_the_router_sends_writes_accounts_and_migrations_to_the_primary(replica_alias):
    router = ReplicaRouter()
    assert read_alias() == DEFAULT_DB_ALIAS
    with replica_reads():
        assert read_alias() == REPLICA
        assert router.db_for_read(Event) == REPLICA
        assert router.db_for_read(ApiKey) is None  # accounts: the primary
        assert router.db_for_write(Event) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Event) is None  # outside a replica request
    assert router.allow_migrate(REPLICA, "events") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "events") is True
