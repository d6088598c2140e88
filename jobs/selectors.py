"""Reads of jobs: who may see which, progress and ETA, the first row errors.

A job is seen by whoever submitted it (the same user, or the same API key)
and by nationwide administrators; on top of that it is scoped like every
other model (``Job.Scope``), so a submitter moved out of a district no longer
reads what was geocoded there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.errors import NotFound

from .models import Job, JobStatus

__all__ = ["JobCaller", "job_get", "job_list", "job_progress", "job_row_errors", "stale_after"]


@dataclass(frozen=True)
class JobCaller:
    """Who submits or reads jobs: a user or an API key, with the jurisdiction of the request."""

    jurisdiction: Jurisdiction
    user_id: int | None = None
    api_key_id: int | None = None
    is_admin: bool = False  # a nationwide administrator reads every job

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.api_key_id is None):
            raise ValueError("a job caller is exactly one of a user and an API key")


def job_list(*, caller: JobCaller, kind: str | None = None) -> QuerySet[Job]:
    qs = scope_queryset(Job.objects.all(), caller.jurisdiction)
    if not (caller.is_admin and caller.jurisdiction.nationwide):
        qs = qs.filter(owner_id=caller.user_id) if caller.user_id else qs.filter(api_key_id=caller.api_key_id)
    return qs.filter(kind=kind) if kind else qs


def job_get(*, caller: JobCaller, job_id: UUID, kind: str | None = None) -> Job:
    """The job if the caller may see it; otherwise 404, whether or not it exists."""
    job = job_list(caller=caller, kind=kind).filter(pk=job_id).first()
    if job is None:
        raise NotFound("任务不存在")
    return job


def stale_after() -> dt.timedelta:
    """How long a running job may go without progress before it counts as abandoned."""
    return dt.timedelta(seconds=settings.CIVGRID["JOB_STALE_AFTER_S"])


def job_progress(job: Job, *, now: dt.datetime | None = None) -> dict:
    """Percent done, throughput and ETA.

    The ETA assumes the rest goes at the average rate since the job started
    (time spent waiting for a worker after a restart counts, so it errs long).
    """
    now = now or timezone.now()
    percent = 100.0 if job.status == JobStatus.SUCCEEDED else 0.0
    if job.total_rows and job.status != JobStatus.SUCCEEDED:
        percent = round(100.0 * job.done_rows / job.total_rows, 1)
    rate = eta = None
    if job.started_at and job.done_rows:
        until = job.finished_at or job.heartbeat_at or now
        elapsed = (until - job.started_at).total_seconds()
        if elapsed > 0:
            rate = round(job.done_rows / elapsed, 1)
    if job.status == JobStatus.RUNNING and rate:
        eta = round((job.total_rows - job.done_rows) / rate)
    stalled = (
        job.status == JobStatus.RUNNING
        and job.heartbeat_at is not None
        and now - job.heartbeat_at > stale_after()
    )
    return {"percent": percent, "rows_per_second": rate, "eta_seconds": eta, "stalled": stalled}


def job_row_errors(job: Job, *, limit: int = 20) -> list[dict]:
    """The first row errors: row number, line in the file, the row's id (if an id column was named)."""
    id_index = None
    if (id_column := job.options.get("id_column")) and id_column in job.columns:
        id_index = job.columns.index(id_column)
    errors = []
    for row in job.rows.exclude(error="").order_by("row_no")[:limit]:
        item = {"row": row.row_no, "line": row.line, "error": row.error}
        if id_index is not None and id_index < len(row.input):
            item["id"] = row.input[id_index]
        errors.append(item)
    return errors
