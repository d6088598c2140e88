"""Fixtures of the events tests: a test category with known time limits, points inside
district A (江阳区) and B (龙马潭区), callers (principals and API clients) of each role,
departments, and a private MEDIA_ROOT."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from accounts.permissions import ROLE_SCOPES, SCOPES, Principal
from accounts.scoping import Jurisdiction
from accounts.services import user_create
from events.models import Department, EventCategory
from events.services.categories import categories_load
from grids.models import UnitGrid

A_CODE = "510502000000"  # 江阳区
B_CODE = "510504000000"  # 龙马潭区
PASSWORD = "Civgrid-Test-2024"
TZ = dt.timezone(dt.timedelta(hours=8))

LIMITS = {"verify": "1h", "register": "1h", "dispatch": "1h", "handle": "2d", "check": "2h", "close": "1h"}


@pytest.fixture(scope="session")
def seed_categories(django_db_setup, django_db_blocker) -> None:
    """The seed classification, committed once (the demo city loads it; a database built
    before it did lacks it)."""
    with django_db_blocker.unblock():
        if not EventCategory.objects.filter(code="E0102").exists():
            categories_load()


@contextlib.contextmanager
def committing(django_db_blocker) -> Iterator[None]:
    """Database access without a transaction around the test: for tests whose writes other
    connections (threads, a Celery worker) must see. Such a test deletes what it made:
    ``transactional_db`` would flush every table, which the append-only audit table refuses."""
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"] == connection.settings_dict["TEST"]["NAME"]
        yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Attachments of each test go to its own directory, removed with it."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def category(db) -> EventCategory:
    """A minor class of its own (no demo event shares it) with known limits."""
    major = EventCategory.objects.create(
        code="T01", name="测试大类", kind="event", department_name="城市管理局"
    )
    return EventCategory.objects.create(
        code="T0101", name="测试小类", kind="event", parent=major, time_limits=dict(LIMITS)
    )


@dataclass(frozen=True)
class Place:
    grid_code: str
    lon: float
    lat: float


def _grid_point(prefix: str, index: int = 0) -> Place:
    grid = UnitGrid.objects.filter(code__startswith=prefix).order_by("code")[index]
    p = grid.geom.point_on_surface
    return Place(grid.code, p.x, p.y)


@pytest.fixture
def a_place(db) -> Place:
    return _grid_point("510502")


@pytest.fixture
def a_place2(db) -> Place:
    return _grid_point("510502", 1)


@pytest.fixture
def b_place(db) -> Place:
    return _grid_point("510504")


def principal(role: str | None = None, *, region: str | None = A_CODE, grids=(), user_id=None) -> Principal:
    """A caller for service tests: a role's scopes (None: every scope) in a jurisdiction."""
    scopes = frozenset(SCOPES) if role is None else ROLE_SCOPES[role]
    if region is None and not grids:
        jurisdiction = Jurisdiction(nationwide=True)
    else:
        jurisdiction = Jurisdiction(region_code=None if grids else region, grid_codes=tuple(grids))
    return Principal(f"user:{role or 'root'}", scopes, jurisdiction, user_id)


@pytest.fixture
def root() -> Principal:
    return principal(None, region=None)


@pytest.fixture
def operator_a() -> Principal:
    return principal("operator")


@pytest.fixture
def departments(db) -> dict[str, Department]:
    """城市管理局 of A and of B, 住房和城乡建设局 of A, and the city-level 供电公司."""
    wanted = {
        "a": ("城市管理局", A_CODE),
        "a_build": ("住房和城乡建设局", A_CODE),
        "b": ("城市管理局", B_CODE),
        "city": ("供电公司", "510500000000"),
    }
    # the demo city has them already (unless the test database was built before it did)
    return {k: Department.objects.get_or_create(name=n, region_code=c)[0] for k, (n, c) in wanted.items()}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def operator_a_api(db) -> APIClient:
    return client_for(
        user_create(username="ev_op_a", password=PASSWORD, roles=["operator"], region_code="510502")
    )


@pytest.fixture
def operator_b_api(db) -> APIClient:
    return client_for(
        user_create(username="ev_op_b", password=PASSWORD, roles=["operator"], region_code="510504")
    )


def image_upload(name: str = "photo.jpg", fmt: str = "JPEG", size=(1200, 900)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, fmt)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[fmt]
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def local(*args) -> dt.datetime:
    """A moment in Beijing time."""
    return dt.datetime(*args, tzinfo=TZ)


def now() -> dt.datetime:
    return timezone.now()
