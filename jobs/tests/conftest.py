"""Fixtures of the jobs tests: the test job kind, a private MEDIA_ROOT, callers,
and uploads built in memory (CSV in any encoding, .xlsx)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from accounts.scoping import Jurisdiction
from jobs.selectors import JobCaller

from .kinds import register_test_kinds


@pytest.fixture(autouse=True, scope="session")
def _test_kinds():
    register_test_kinds()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads of each test go to its own directory, removed with it."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def csv_upload(
    rows: list[list[str]], *, name: str = "addresses.csv", encoding: str = "utf-8"
) -> SimpleUploadedFile:
    text = "\r\n".join(",".join(cells) for cells in rows) + "\r\n"
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def xlsx_upload(rows: list[list], *, name: str = "addresses.xlsx") -> SimpleUploadedFile:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("job-owner", password="x-Owner-12345")


@pytest.fixture
def caller(owner) -> JobCaller:
    return JobCaller(jurisdiction=Jurisdiction(region_code="510502000000"), user_id=owner.pk)
