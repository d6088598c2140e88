"""Restart safety with real Celery workers: kill a worker with SIGKILL in the
middle of a job, and the job still ends with every row exactly once.

The workers are ``celery -A jobs.tests.worker_app worker`` subprocesses on the
test database (``DATABASE_URL``) and this run's own queue (test settings). What
they must see is committed for real, outside pytest-django's per-test
transaction, so this module replaces the ``db`` fixture with one that does not
wrap the test in a transaction, and the tests delete what they create:
``transactional_db`` would flush every table, and the audit table refuses that
by design.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.scoping import Jurisdiction
from config.celery import app as celery_app
from jobs.models import Job, JobStatus
from jobs.runner import _lock_free
from jobs.selectors import JobCaller
from jobs.services import job_create, job_delete

from .conftest import csv_upload

ROWS = 40
SLEEP_PER_ROW = 0.1  # chunks of 4 rows (the test kind): a chunk commits every ~0.4 s
TIMEOUT_S = 90
CELERY = Path(sys.executable).with_name("celery")


def _wait_for(what: str, predicate: Callable[[], bool], worker_logs: list[Path], timeout: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    tails = "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in worker_logs if p.exists()
    )
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def _purge(queue: str) -> None:
    """Remove this run's messages from Redis: the queue, and deliveries a killed worker never acked."""
    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete(queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9)))
        for tag, raw in client.hgetall("unacked").items():
            try:
                routing_key = json.loads(raw)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)


class Workers:
    """Celery worker subprocesses, each in its own process group, all stopped at the end."""

    def __init__(self, tmp_path: Path, queue: str) -> None:
        self.tmp_path, self.queue = tmp_path, queue
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CIVGRID_TEST_DB": os.environ.get("CIVGRID_TEST_DB", "test_civgrid"),  # → the same queue
            "DATABASE_URL": f"postgis://{db['USER']}@{quote(db['HOST'], safe='')}/{db['NAME']}",
            "DJANGO_MEDIA_ROOT": settings.MEDIA_ROOT,
            "PYTHONUNBUFFERED": "1",
            "CIVGRID_TEST_WORKER": "1",  # the test kind's ``crash`` value kills the process (kinds.py)
            "CIVGRID_JOB_MAX_ATTEMPTS": "3",
        }

    def start(self) -> subprocess.Popen:
        """A new worker, once it is consuming (and has swept for abandoned jobs)."""
        name = f"jobs-test-{secrets.token_hex(3)}"
        log = self.tmp_path / f"{name}.log"
        cmd = [
            str(CELERY), "-A", "jobs.tests.worker_app", "worker", "--loglevel", "INFO",
            "--concurrency", "2", "--hostname", f"{name}@%h", "--queues", self.queue,
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=settings.BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        self.logs.append(log)
        _wait_for(f"{name} to be ready", lambda: b" ready." in log.read_bytes(), self.logs, timeout=60)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool processes at once, as a crashing machine would."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # warm shutdown
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        for proc in self.procs:  # pool processes a killed main process left behind, if any
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Replaces pytest-django's ``db`` in this module: the test database, without a transaction
    around the test, so what it writes is committed at once and the workers see it.

    The name matters: pytest-django sets up the test database only for a session with some
    test using ``db``; otherwise the connection would still point at the development database.
    """
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"] == connection.settings_dict["TEST"]["NAME"]
        yield


@pytest.fixture
def workers(db, tmp_path) -> Iterator[Workers]:
    queue = celery_app.conf.task_default_queue
    assert queue == settings.CELERY_TASK_DEFAULT_QUEUE and queue != "celery"  # never the demo's queue
    _purge(queue)
    pool = Workers(tmp_path, queue)
    try:
        yield pool
    finally:
        pool.stop_all()
        _purge(queue)


@pytest.fixture
def submit_slow_job(db) -> Iterator[Callable[..., Job]]:
    """Submits a committed ``upper`` job of ROWS rows (one empty: a row error); its task is sent at once."""
    user = get_user_model().objects.create_user(f"restart-{secrets.token_hex(4)}", password="x-Restart-12345")
    caller = JobCaller(jurisdiction=Jurisdiction(region_code="510502000000"), user_id=user.pk)
    values = [f"row{i}" if i != 7 else "" for i in range(1, ROWS + 1)]
    jobs: list[Job] = []

    def submit(crash_at: int | None = None) -> Job:
        cells = [v if i != crash_at else "crash" for i, v in enumerate(values, start=1)]
        upload = csv_upload([["id", "名称"], *([str(i), v] for i, v in enumerate(cells, start=1))])
        form = {"sleep": str(SLEEP_PER_ROW)}
        jobs.append(job_create(kind="upper", caller=caller, upload=upload, column="名称", form=form))
        return jobs[-1]

    try:
        yield submit
    finally:
        for job in jobs:
            if Job.objects.filter(pk=job.pk).exists():
                job_delete(job=job)
        user.delete()


def _state(job: Job) -> Job:
    job.refresh_from_db()
    return job


def _assert_every_row_exactly_once(job: Job) -> dict[int, int]:
    job = _state(job)
    assert (job.status, job.done_rows, job.error_rows) == (JobStatus.SUCCEEDED, ROWS, 1)
    rows = list(job.rows.order_by("row_no").values_list("row_no", "input", "result", "error"))
    assert [r[0] for r in rows] == list(range(1, ROWS + 1))
    for row_no, values, result, error in rows:
        if row_no == 7:
            assert (values, result, error) == (["7", ""], None, "空值")
        else:
            assert values == [str(row_no), f"row{row_no}"] and result["upper"] == f"ROW{row_no}" and not error
    return {r[0]: r[2]["pid"] for r in rows if r[2]}


def test_a_killed_worker_is_replaced_and_the_job_resumes(workers, submit_slow_job):
    first = workers.start()
    slow_job = submit_slow_job()
    _wait_for("the first worker to commit some chunks", lambda: _state(slow_job).done_rows >= 8, workers.logs)
    workers.kill(first)
    killed_at = _state(slow_job).done_rows
    assert slow_job.status == JobStatus.RUNNING and 8 <= killed_at < ROWS
    kept = dict(slow_job.rows.values_list("row_no", "id"))
    assert len(kept) == killed_at  # what was committed is exactly what was counted
    # the killed worker's session, and with it the job's lock, is gone from the server
    _wait_for("the lock to be released", lambda: _lock_free(slow_job.pk), workers.logs, timeout=10)

    # nobody re-sends the task (Redis would after an hour): the new worker finds the job itself
    workers.start()
    _wait_for("the job to finish", lambda: _state(slow_job).status != JobStatus.RUNNING, workers.logs)

    pids = _assert_every_row_exactly_once(slow_job)
    assert dict(slow_job.rows.filter(row_no__lte=killed_at).values_list("row_no", "id")) == kept
    before = {pid for n, pid in pids.items() if n <= killed_at}
    after = {pid for n, pid in pids.items() if n > killed_at}
    assert before and after and not before & after  # resumed by the other worker, not redone


def test_a_killed_pool_process_is_redelivered_and_the_job_resumes(workers, submit_slow_job):
    workers.start()
    slow_job = submit_slow_job()  # after the worker's start-up sweep: its task is the only one
    _wait_for("a chunk to be committed", lambda: _state(slow_job).done_rows >= 8, workers.logs)
    runner_pid = int(_state(slow_job).runner.split(":")[1])
    os.kill(runner_pid, signal.SIGKILL)  # the process running the task, not the worker
    killed_at = _state(slow_job).done_rows

    # task_reject_on_worker_lost: the worker puts the message back and runs it again
    _wait_for("the job to finish", lambda: _state(slow_job).status != JobStatus.RUNNING, workers.logs)

    pids = _assert_every_row_exactly_once(slow_job)
    assert runner_pid in set(pids.values())
    assert {pid for n, pid in pids.items() if n > killed_at + 4} - {runner_pid}


def test_a_row_that_kills_its_worker_fails_the_job_after_a_bounded_number_of_runs(workers, submit_slow_job):
    """Without a bound, ``reject_on_worker_lost`` would redeliver the task to the next process
    forever, each run dying on the same chunk (issue 10)."""
    workers.start()
    job = submit_slow_job(crash_at=10)  # chunks of 4 rows: rows 1-8 commit, the chunk of 9-12 kills
    _wait_for("the job to end", lambda: not _state(job).is_active, workers.logs)
    job = _state(job)
    assert (job.status, job.done_rows, job.attempts) == (JobStatus.FAILED, 8, 3), job.error
    assert "连续 3 次" in job.error and "第 9 行" in job.error
    assert list(job.rows.order_by("row_no").values_list("row_no", flat=True)) == list(range(1, 9))
    # the last delivery was acknowledged: no message for the job waits in the queue or unacknowledged
    time.sleep(1)
    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        waiting = [json.loads(raw) for raw in client.lrange(workers.queue, 0, -1)]
        waiting += [json.loads(raw)[0] for raw in client.hgetall("unacked").values()]
    assert not [m for m in waiting if str(job.pk).encode() in base64.b64decode(m["body"])]
