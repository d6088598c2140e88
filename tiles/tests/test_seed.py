"""Seeding the base-map cache as a job: progress, the tiles land in the shared file cache,
and a run killed halfway resumes after its last committed chunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.scoping import Jurisdiction
from accounts.services import user_create
from gis_core.errors import InvalidInput
from jobs.models import Job, JobStatus
from jobs.runner import job_run
from jobs.selectors import JobCaller
from tiles.basemap import seed as seed_mod
from tiles.basemap.seed import parse_zooms, seed_start

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller(db, settings, tmp_path) -> JobCaller:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    user = user_create(username="tl_seed", password=PASSWORD, roles=["admin"], nationwide=True)
    return JobCaller(jurisdiction=Jurisdiction(nationwide=True), user_id=user.pk, is_admin=True)


def _cached_pngs(tile_namespace) -> list[Path]:
    return list(Path(tile_namespace["BASEMAP_DIR"], "cache_data").rglob("*.png"))


def test_seeding_a_region_fills_the_cache_with_progress(caller, tile_namespace):
    job = seed_start(caller=caller, region="510502001001", zooms="14-15")
    assert job.kind == "tile_seed" and job.total_rows > 0
    assert job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    assert (job.status, job.done_rows, job.error_rows) == (JobStatus.SUCCEEDED, job.total_rows, 0)
    tiles = sum(r.result["tiles"] for r in job.rows.all())
    assert tiles > 0
    assert len(_cached_pngs(tile_namespace)) >= tiles  # drawn in 4×4 meta tiles


def test_a_killed_seeding_run_resumes_where_it_stopped(caller, tile_namespace, monkeypatch, settings):
    job = seed_start(caller=caller, region="510502", zooms="14-19")
    assert job.total_rows > 25  # more than one chunk of 20 strips
    done_strips = []
    real = seed_mod.seed_strip

    def dying(layer, z, y, x0, x1):
        if len(done_strips) == 25:
            raise KeyboardInterrupt  # the worker is killed: nothing after the first chunk commits
        done_strips.append((z, y))
        return real(layer, z, y, x0, x1)

    monkeypatch.setattr(seed_mod, "seed_strip", dying)
    with pytest.raises(KeyboardInterrupt):
        job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.done_rows == 20
    Job.objects.filter(pk=job.pk).update(heartbeat_at=None)  # its heartbeat has gone stale
    resumed = []
    monkeypatch.setattr(seed_mod, "seed_strip", lambda *a: resumed.append(a) or real(*a))
    assert job_run(job_id=job.pk) == "succeeded"
    assert len(resumed) == job.total_rows - 20  # only what was not committed is redone


def test_bad_seeding_requests_are_refused(caller, settings):
    with pytest.raises(InvalidInput):
        parse_zooms("16-10")
    with pytest.raises(InvalidInput):
        seed_start(caller=caller, region="510502", zooms="10-12", layer="nothing")
    settings.CIVGRID = {**settings.CIVGRID, "BASEMAP_SEED_MAX_TILES": 10}
    with pytest.raises(InvalidInput, match="超过上限"):
        seed_start(caller=caller, region="510502", zooms="10-16")
