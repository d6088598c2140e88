"""The job machinery, in process, with the test kind ``upper``: chunks, per-row
errors, resuming after a crash, cancelling, one runner per job, orphan detection."""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import Job, JobRow, JobStatus
from jobs.registry import JobKind, RowOutcome, register_kind
from jobs.runner import _claim, _commit, _lock_key, job_run, jobs_orphaned
from jobs.services import job_cancel, job_create, job_dir
from jobs.tabular import TableRow

from .conftest import csv_upload


def _job(caller, values: list[str], *, kind: str = "upper", form=None) -> Job:
    rows = [["id", "名称"], *([str(i), v] for i, v in enumerate(values, start=1))]
    return job_create(
        kind=kind, caller=caller, upload=csv_upload(rows), column="名称", id_column="id", form=form
    )


def _rows(job: Job) -> list[tuple]:
    return list(job.rows.order_by("row_no").values_list("row_no", "input", "result__upper", "error"))


@pytest.fixture
def other_session():
    """A second database session (another worker, as far as locks go)."""
    db = connection.settings_dict
    conn = psycopg.connect(host=db["HOST"], dbname=db["NAME"], user=db["USER"], autocommit=True)
    yield conn
    conn.close()


def test_job_runs_in_chunks_with_row_errors(caller):
    job = _job(caller, ["a", "", "boom", "d", "e", "f"])
    assert job.status == JobStatus.QUEUED and job.total_rows == 6
    assert job.options == {"column": "名称", "id_column": "id", "encoding": None, "sleep": 0.0}

    assert job_run(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert (job.status, job.done_rows, job.error_rows, job.runner) == (JobStatus.SUCCEEDED, 6, 2, "")
    assert job.started_at <= job.heartbeat_at == job.finished_at
    assert _rows(job) == [
        (1, ["1", "a"], "A", ""),
        (2, ["2", ""], None, "空值"),
        (3, ["3", "boom"], None, "处理出错：Boom: boom"),  # the poisonous row fails alone
        (4, ["4", "d"], "D", ""),
        (5, ["5", "e"], "E", ""),
        (6, ["6", "f"], "F", ""),
    ]
    assert job_run(job_id=job.pk) == "skipped"  # a redelivered message does nothing


class SimulatedCrash(BaseException):
    """Like SIGKILL: nothing in the runner catches it."""


def test_resumes_after_a_crash_without_losing_or_doubling_rows(caller):
    seen: list[str] = []
    crash = {"at": "n7"}

    def handler(rows, ctx):
        for row in rows:
            if row[ctx.column] == crash["at"]:
                raise SimulatedCrash
        seen.extend(row[ctx.column] for row in rows)
        return [RowOutcome(result={"upper": row[ctx.column].upper()}) for row in rows]

    register_kind(
        JobKind(name="crashy", title="crashy", handler=handler, result_columns=("upper",), chunk_rows=3)
    )
    job = _job(caller, [f"n{i}" for i in range(1, 11)], kind="crashy")

    with pytest.raises(SimulatedCrash):
        job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done_rows) == (JobStatus.RUNNING, 6)  # two chunks committed, the third lost
    assert job.rows.count() == 6

    crash["at"] = None
    assert job_run(job_id=job.pk) == "succeeded"  # the lock died with the "crash": the job is free
    job.refresh_from_db()
    assert (job.status, job.done_rows, job.error_rows) == (JobStatus.SUCCEEDED, 10, 0)
    assert [r[0] for r in _rows(job)] == list(range(1, 11))
    assert [r[2] for r in _rows(job)] == [f"N{i}" for i in range(1, 11)]
    # committed rows were never handled again; the crashed chunk (7-9) was, from its start
    assert seen == [f"n{i}" for i in range(1, 11)]


def test_cancel_stops_the_runner_at_its_next_chunk(caller):
    job = _job(caller, [f"v{i}" for i in range(1, 13)])

    def handler(rows, ctx):
        if rows[0][ctx.column] == "v5":  # the second chunk: cancel meanwhile, as a user would
            job_cancel(job=job)
        return [RowOutcome(result={"upper": r[ctx.column].upper()}) for r in rows]

    register_kind(
        JobKind(name="cancelling", title="c", handler=handler, result_columns=("upper",), chunk_rows=4)
    )
    Job.objects.filter(pk=job.pk).update(kind="cancelling")

    assert job_run(job_id=job.pk) == "stopped"
    job.refresh_from_db()
    assert (job.status, job.done_rows) == (JobStatus.CANCELLED, 4)
    assert job.rows.count() == 4 and job.finished_at is not None


def test_a_runner_that_lost_the_job_commits_nothing(caller):
    job = _job(caller, ["a", "b"])
    first = _claim(job.pk, "worker-1", locked=True)
    assert first is not None and first.status == JobStatus.RUNNING
    # another worker may take it only once the heartbeat is stale (its lock being held)
    assert _claim(job.pk, "worker-2", locked=False) is None
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    assert _claim(job.pk, "worker-2", locked=False) is not None

    chunk = [TableRow(row_no=1, line=2, values=["1", "a"])]
    assert not _commit(job.pk, "worker-1", 0, chunk, [RowOutcome(result={"upper": "A"})])
    assert _commit(job.pk, "worker-2", 0, chunk, [RowOutcome(result={"upper": "A"})])
    # a stale view of the progress is refused too: the row is never stored twice
    assert not _commit(job.pk, "worker-2", 0, chunk, [RowOutcome(result={"upper": "A"})])
    assert JobRow.objects.filter(job=job).count() == 1
    assert Job.objects.get(pk=job.pk).done_rows == 1


def test_lock_held_elsewhere_means_running_elsewhere(caller, other_session):
    job = _job(caller, ["a", "b"])
    other_session.execute("SELECT pg_advisory_lock(%s)", [_lock_key(job.pk)])
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, runner="w:1:x", heartbeat_at=timezone.now()
    )

    assert job_run(job_id=job.pk) == "skipped"
    assert job.pk not in jobs_orphaned()

    # the holder's heartbeat goes stale (its host vanished, its session lingers): taken over
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    assert job.pk in jobs_orphaned()
    assert job_run(job_id=job.pk) == "succeeded"


def test_orphaned_jobs(caller, other_session):
    queued = _job(caller, ["a"])
    abandoned = _job(caller, ["a"])
    alive = _job(caller, ["a"])
    done = _job(caller, ["a"])
    now = timezone.now()
    Job.objects.filter(pk__in=[abandoned.pk, alive.pk]).update(status=JobStatus.RUNNING, heartbeat_at=now)
    Job.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED)
    other_session.execute("SELECT pg_advisory_lock(%s)", [_lock_key(alive.pk)])

    assert set(jobs_orphaned()) == {queued.pk, abandoned.pk}

    other_session.close()  # the worker holding "alive" dies: its lock goes with its session
    deadline = time.monotonic() + 5  # as soon as the server has seen the session end
    while alive.pk not in jobs_orphaned() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(jobs_orphaned()) == {queued.pk, abandoned.pk, alive.pk}


def test_missing_input_file_fails_the_job(caller):
    job = _job(caller, ["a"])
    for path in job_dir(job.pk).iterdir():
        path.unlink()
    assert job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "输入文件" in job.error
