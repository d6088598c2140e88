"""Who sees which job, and progress: percent, throughput, ETA, stalled."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.scoping import Jurisdiction
from gis_core.errors import NotFound
from jobs.models import Job, JobStatus
from jobs.selectors import JobCaller, job_get, job_list, job_progress
from jobs.services import job_create

from .conftest import csv_upload

A_GRID = "510502001002002"  # a unit grid of 江阳区


def _submit(caller: JobCaller) -> Job:
    return job_create(kind="upper", caller=caller, upload=csv_upload([["名称"], ["a"]]), column="名称")


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"u{i}", password="x-Users-12345") for i in range(3)]


def test_a_job_is_seen_by_its_submitter_within_the_jurisdiction_and_by_nationwide_admins(users):
    staff = JobCaller(jurisdiction=Jurisdiction(grid_codes=(A_GRID,)), user_id=users[0].pk)
    district = JobCaller(jurisdiction=Jurisdiction(region_code="510502000000"), user_id=users[1].pk)
    job = _submit(staff)
    assert job.scope_code == A_GRID[:12] and job.grid_codes == [A_GRID]
    assert list(job_list(caller=staff)) == [job]
    assert job_get(caller=staff, job_id=job.pk, kind="upper") == job
    with pytest.raises(NotFound):
        job_get(caller=staff, job_id=job.pk, kind="geocode")  # another kind's route
    assert list(job_list(caller=district)) == []  # the district covers it, but it is not theirs

    nationwide = Jurisdiction(nationwide=True)
    assert list(job_list(caller=JobCaller(jurisdiction=nationwide, user_id=users[2].pk))) == []
    admin = JobCaller(jurisdiction=nationwide, user_id=users[2].pk, is_admin=True)
    assert list(job_list(caller=admin)) == [job]
    # an administrator of a district is not a nationwide one
    admin_a = JobCaller(jurisdiction=district.jurisdiction, user_id=users[2].pk, is_admin=True)
    assert list(job_list(caller=admin_a)) == []

    # the submitter moved to another district no longer reads what was done in the old one
    moved = JobCaller(jurisdiction=Jurisdiction(region_code="510504000000"), user_id=users[0].pk)
    assert list(job_list(caller=moved)) == []


def test_a_caller_is_a_user_or_a_key():
    with pytest.raises(ValueError):
        JobCaller(jurisdiction=Jurisdiction(nationwide=True))
    with pytest.raises(ValueError):
        JobCaller(jurisdiction=Jurisdiction(nationwide=True), user_id=1, api_key_id=1)


def test_progress_and_eta():
    now = timezone.now()
    job = Job(status=JobStatus.QUEUED, total_rows=1000)
    assert job_progress(job, now=now) == {
        "percent": 0.0, "rows_per_second": None, "eta_seconds": None, "stalled": False,
    }  # fmt: skip
    job.status, job.done_rows = JobStatus.RUNNING, 250
    job.started_at, job.heartbeat_at = now - dt.timedelta(seconds=60), now - dt.timedelta(seconds=10)
    # 250 rows in the 50 s up to the last progress: 5 rows/s, 750 to go
    assert job_progress(job, now=now) == {
        "percent": 25.0, "rows_per_second": 5.0, "eta_seconds": 150, "stalled": False,
    }  # fmt: skip
    assert job_progress(job, now=now + dt.timedelta(minutes=2))["stalled"] is True
    job.status, job.done_rows, job.finished_at = JobStatus.SUCCEEDED, 1000, now
    assert job_progress(job, now=now) == {
        "percent": 100.0, "rows_per_second": 16.7, "eta_seconds": None, "stalled": False,
    }  # fmt: skip
