"""Shared fixtures: the real PostGIS test database holds the national gazetteer
and the small demo city (seed 1), built once and kept with --reuse-db.

Tests run inside transactions (pytest-django's ``db``), so what a test writes
is rolled back and the demo city stays as built.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from demo.services import demo_city_build, demo_city_exists

    with django_db_blocker.unblock():
        if not demo_city_exists():
            demo_city_build(seed=1, scale="small")


@pytest.fixture
def anon_api(db) -> APIClient:
    """No credentials at all."""
    return APIClient()


@pytest.fixture
def admin_api(db, django_user_model) -> APIClient:
    """A superuser: every scope, nationwide."""
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-Admin-12345")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api(admin_api) -> APIClient:
    """The client feature tests use: nationwide, every scope (scoping is tested in accounts/tests)."""
    return admin_api
