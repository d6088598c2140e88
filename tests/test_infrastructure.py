"""The services the project is configured for are the real ones and reachable."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.db import connection

from config.celery import app as celery_app


def test_cache_is_the_configured_redis():
    key, value = f"probe-{uuid.uuid4()}", {"城市": "泸州"}
    cache.set(key, value, 30)
    assert cache.get(key) == value
    client = cache._cache.get_client(key, write=False)
    assert client.ping()
    cache.delete(key)
    assert cache.get(key) is None


def test_celery_broker_is_reachable():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.connected


@pytest.mark.django_db
def test_database_is_postgis():
    with connection.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        assert cur.fetchone()[0].startswith("3.")
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_connections_run_with_the_serving_planner_settings():
    """No JIT, SSD page costs and no parallel workers on our connections (config/settings/base.py):
    a parallel plan starts worker processes for every query, ~10 ms before its first row."""
    with connection.cursor() as cur:
        got = {}
        for name in ("jit", "random_page_cost", "max_parallel_workers_per_gather"):
            cur.execute(f"SHOW {name}")
            got[name] = cur.fetchone()[0]
    assert got == {"jit": "off", "random_page_cost": "1.1", "max_parallel_workers_per_gather": "0"}


def test_the_cache_keeps_its_redis_clients():
    """One client object per server and process (config/cache.py), not one per cache call."""
    assert cache._cache.get_client(None, write=True) is cache._cache.get_client("k", write=True)
    assert cache._cache.get_client(None, write=False) is cache._cache.get_client("k", write=False)
