"""Fault tests, slow part (``make faults``; skipped by ``make test`` unless
CIVGRID_SLOW_FAULTS=1): a real Celery worker SIGKILLed in the middle of a bulk geocoding
job and of a base-map seeding job, with the real job kinds (the fast versions with a test
kind are ``jobs/tests/test_restart.py``). Each job finishes once a worker is back, with
every row exactly once.

The workers, their queue and the non-transactional ``db`` come from ``jobs/tests/test_restart``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from accounts.scoping import Jurisdiction
from geocoding.models import DoorPlate
from jobs.models import Job, JobStatus
from jobs.runner import _lock_free
from jobs.selectors import JobCaller
from jobs.services import job_create, job_delete
from jobs.tests.conftest import csv_upload
from jobs.tests.test_restart import Workers, _purge, _state, _wait_for, db  # noqa: F401 (db: the fixture)

pytestmark = pytest.mark.skipif(
    os.environ.get("CIVGRID_SLOW_FAULTS") != "1",
    reason="slow fault test: make faults (CIVGRID_SLOW_FAULTS=1)",
)


@pytest.fixture
def pool(db, tmp_path, settings) -> Iterator[Workers]:  # noqa: F811
    from config.celery import app as celery_app

    settings.MEDIA_ROOT = str(tmp_path / "media")
    queue = celery_app.conf.task_default_queue
    assert queue == settings.CELERY_TASK_DEFAULT_QUEUE and queue != "celery"  # never the demo's queue
    _purge(queue)
    workers = Workers(tmp_path, queue)
    workers.env.update(
        CIVGRID_BASEMAP_DIR=str(tmp_path / "basemap"),
        CIVGRID_JOB_CHUNK_ROWS="100",
        CIVGRID_TILE_CACHE_NAMESPACE=secrets.token_hex(6),
    )
    try:
        yield workers
    finally:
        workers.stop_all()
        _purge(queue)


@pytest.fixture
def admin(db) -> Iterator[JobCaller]:  # noqa: F811
    user = get_user_model().objects.create_user(f"faults-{secrets.token_hex(4)}", password="x-Faults-12345")
    created: list[Job] = []
    try:
        yield JobCaller(jurisdiction=Jurisdiction(nationwide=True), user_id=user.pk, is_admin=True), created
    finally:
        for job in (j for j in created if Job.objects.filter(pk=j.pk).exists()):
            job_delete(job=job)
        user.delete()


def _kill_midway_and_finish(pool: Workers, job: Job, at_least: int) -> int:
    first = pool.start()
    _wait_for(f"{at_least} committed rows", lambda: _state(job).done_rows >= at_least, pool.logs, timeout=180)
    pool.kill(first)
    killed_at = _state(job).done_rows
    assert job.status == JobStatus.RUNNING and killed_at < job.total_rows, "finished before the kill"
    assert job.rows.count() == killed_at  # what was committed is exactly what was counted
    _wait_for("the lock to be released", lambda: _lock_free(job.pk), pool.logs, timeout=10)
    pool.start()  # finds the abandoned job itself (jobs.recover at worker start)
    _wait_for("the job to finish", lambda: not _state(job).is_active, pool.logs, timeout=300)
    job = _state(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    row_nos = list(job.rows.order_by("row_no").values_list("row_no", flat=True))
    assert row_nos == list(range(1, job.total_rows + 1))  # every row once: none lost, none doubled
    assert job.done_rows == job.total_rows
    return killed_at


def test_a_bulk_geocoding_job_survives_a_killed_worker(pool, admin):
    caller, created = admin
    doors = [str(d) for d in DoorPlate.objects.select_related("street")[:500]]
    assert doors
    rows = [[str(i), doors[i % len(doors)]] for i in range(1, 20_001)]
    job = job_create(
        kind="geocode", caller=caller, upload=csv_upload([["id", "地址"], *rows]), column="地址", form={}
    )
    created.append(job)
    _kill_midway_and_finish(pool, job, at_least=300)
    found = job.rows.filter(result__isnull=False).count()
    assert found > job.total_rows // 2  # real answers, not a run of errors


def test_a_base_map_seeding_job_survives_a_killed_worker(pool, admin):
    from tiles.basemap.seed import seed_start

    caller, created = admin
    job = seed_start(caller=caller, region="510502", zooms="14-19")
    created.append(job)
    assert job.total_rows > 25  # more than one chunk of 20 strips
    _kill_midway_and_finish(pool, job, at_least=20)
    tiles = list(Path(pool.env["CIVGRID_BASEMAP_DIR"], "cache_data").rglob("*.png"))
    assert tiles and sum(r.result["tiles"] for r in job.rows.all()) > 0
