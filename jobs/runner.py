"""Running a job so that a killed worker never loses or doubles a row.

* **Chunks commit atomically.** A chunk's ``JobRow`` inserts and the job's
  counters and heartbeat are one transaction. ``done_rows`` therefore always
  equals the number of stored rows, and a (re)started run resumes after row
  ``done_rows``. The unique (job, row_no) constraint with ON CONFLICT DO
  NOTHING is a backstop only.
* **One runner per job.** A run holds a PostgreSQL session advisory lock on
  the job for its whole duration; the server drops it the moment the worker's
  connection dies, so "lock free" means "nobody alive is running this". The
  claim also writes the runner's id on the job, and every chunk commits only
  after re-reading the job row ``FOR UPDATE`` and finding its own id, status
  ``running`` and the ``done_rows`` it resumed from, so even a runner that lost
  its lock (a connection cut by the network) can never commit twice.
* **A poisonous chunk is not redelivered forever.** A row that kills its worker
  process (out of memory, a crash in a C library) would make the redelivered
  task kill the next worker, and so on. Each claim counts an attempt, each
  committed chunk resets the count, and a claim past ``JOB_MAX_ATTEMPTS``
  fails the job instead of running it; the message is then acknowledged.
* **Orphans are found, not waited for.** :func:`jobs_orphaned` (run when a
  worker starts, see ``tasks``) lists queued jobs and running jobs whose lock
  is free or whose heartbeat is older than ``JOB_STALE_AFTER_S`` (a host that
  vanished can leave its session, and lock, on the server until TCP gives up).
  Re-enqueuing a job that is in fact being run is harmless: the second run
  finds the lock taken and a fresh heartbeat, and returns.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.scoping import Jurisdiction

from .models import ACTIVE, Job, JobRow, JobStatus
from .registry import JobContext, JobKind, RowOutcome, get_kind
from .results import result_xlsx
from .selectors import stale_after
from .tabular import TableRow, open_table

__all__ = ["job_run", "jobs_orphaned"]

logger = logging.getLogger(__name__)

LOCK_WAIT_S = 3.0


# ------------------------------------------------------------------ the per-job lock
def _lock_key(job_id: UUID) -> int:
    """A bigint advisory-lock key from the job's uuid (64 random bits: collisions are negligible)."""
    return int.from_bytes(job_id.bytes[:8], "big", signed=True)


def _try_lock(job_id: UUID) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(job_id)])
        return bool(cur.fetchone()[0])


def _acquire(job_id: UUID, *, wait_s: float = LOCK_WAIT_S) -> bool:
    """The job's lock, waiting a little: a redelivered task can arrive a moment before the
    server has noticed that the killed process that held the lock is gone."""
    deadline = time.monotonic() + wait_s
    while not _try_lock(job_id):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _unlock(job_id: UUID) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(job_id)])


def _lock_free(job_id: UUID) -> bool:
    """Whether no session holds the job's lock (a probe: the lock is released at once)."""
    if _try_lock(job_id):
        _unlock(job_id)
        return True
    return False


def _is_stale(job: Job) -> bool:
    return job.heartbeat_at is None or timezone.now() - job.heartbeat_at > stale_after()


# ------------------------------------------------------------------ claiming and committing
def _claim(job_id: UUID, runner: str, *, locked: bool) -> Job | None:
    """Make ``runner`` the job's runner, or None if it is finished or someone alive runs it."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_active:
            return None
        if not locked and not (job.status == JobStatus.RUNNING and _is_stale(job)):
            return None  # another session holds the lock and is, or is about to be, running it
        now = timezone.now()
        if job.attempts >= settings.CIVGRID["JOB_MAX_ATTEMPTS"]:
            # every run since the last committed chunk died with its process: the next chunk kills
            # its worker, and redelivering it again would only kill the next one
            job.status, job.runner, job.finished_at, job.heartbeat_at = JobStatus.FAILED, "", now, now
            job.error = (
                f"任务连续 {job.attempts} 次在处理第 {job.done_rows + 1} 行起的一批数据时中断"
                "（工作进程退出），已停止重试"
            )
            job.save(update_fields=["status", "runner", "finished_at", "heartbeat_at", "error"])
            logger.error("job %s (%s): %s", job.pk, job.kind, job.error)
            return None
        job.status, job.runner, job.heartbeat_at = JobStatus.RUNNING, runner, now
        job.started_at = job.started_at or now
        job.attempts += 1
        job.save(update_fields=["status", "runner", "heartbeat_at", "started_at", "attempts"])
        return job


def _current(job_id: UUID, runner: str, done: int) -> Job | None:
    """The job row locked for update, if ``runner`` still runs it from ``done`` rows; else None."""
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status != JobStatus.RUNNING or job.runner != runner or job.done_rows != done:
        return None
    return job


def _commit(job_id: UUID, runner: str, done: int, chunk: list[TableRow], outcomes: list[RowOutcome]) -> bool:
    """Store a chunk's rows and advance the counters in one transaction; False if no longer ours."""
    with transaction.atomic():
        if _current(job_id, runner, done) is None:
            return False
        JobRow.objects.bulk_create(
            [
                JobRow(
                    job_id=job_id, row_no=r.row_no, line=r.line, input=r.values, result=o.result,
                    error=o.error,
                )
                for r, o in zip(chunk, outcomes, strict=True)
            ],
            ignore_conflicts=True,  # backstop: the done_rows check above already excludes doubles
        )  # fmt: skip
        Job.objects.filter(pk=job_id).update(
            done_rows=F("done_rows") + len(chunk),
            error_rows=F("error_rows") + sum(1 for o in outcomes if o.error),
            heartbeat_at=timezone.now(),
            attempts=0,  # progress: the runs that died before were not this chunk's fault
        )
    return True


def _end(job_id: UUID, runner: str, done: int, status: str, error: str = "") -> bool:
    with transaction.atomic():
        job = _current(job_id, runner, done)
        if job is None:
            return False
        now = timezone.now()
        job.status, job.error, job.runner = status, error[:2000], ""
        job.finished_at = job.heartbeat_at = now
        job.save(update_fields=["status", "error", "runner", "finished_at", "heartbeat_at"])
    return True


# ------------------------------------------------------------------ processing
def _chunks(rows: Iterable[TableRow], size: int) -> Iterator[list[TableRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _handle(kind: JobKind, items: list[dict[str, str]], ctx: JobContext) -> list[RowOutcome]:
    """The handler's outcomes; if it raises, row by row, so a bad row only fails itself.

    Database errors are not a row's fault: they propagate and fail (or, with the
    connection gone, orphan) the job instead of marking every row bad.
    """
    try:
        outcomes = kind.handler(items, ctx)
        if len(outcomes) != len(items):
            raise RuntimeError(f"处理函数返回了 {len(outcomes)} 个结果，应为 {len(items)} 个")
        return outcomes
    except DatabaseError:
        raise
    except Exception:
        if len(items) == 1:
            raise
        logger.warning("job kind %s failed on a chunk; retrying row by row", kind.name, exc_info=True)
    single = []
    for item in items:
        try:
            single.append(_handle(kind, [item], ctx)[0])
        except DatabaseError:
            raise
        except Exception as exc:
            single.append(RowOutcome(error=f"处理出错：{type(exc).__name__}: {exc}"[:500]))
    return single


def _outcomes(kind: JobKind, chunk: list[TableRow], columns: list[str], ctx: JobContext) -> list[RowOutcome]:
    readable = [r for r in chunk if not r.error]
    handled = iter(_handle(kind, [dict(zip(columns, r.values, strict=True)) for r in readable], ctx))
    return [RowOutcome(error=r.error) if r.error else next(handled) for r in chunk]


def _context(job: Job) -> JobContext:
    jurisdiction = Jurisdiction(
        nationwide=job.nationwide, region_code=job.region_code or None, grid_codes=tuple(job.grid_codes)
    )
    return JobContext(column=job.options["column"], options=job.options, jurisdiction=jurisdiction)


def _process(job: Job, runner: str) -> str:
    kind = get_kind(job.kind)
    ctx = _context(job)
    done = job.done_rows
    size = kind.chunk_rows or settings.CIVGRID["JOB_CHUNK_ROWS"]
    try:
        path = Path(settings.MEDIA_ROOT) / job.input_path
        if not path.exists():
            raise FileNotFoundError("输入文件已不存在")
        table = open_table(path, encoding=job.options.get("encoding"))
        for chunk in _chunks((r for r in table.rows if r.row_no > done), size):
            if not _commit(job.pk, runner, done, chunk, _outcomes(kind, chunk, job.columns, ctx)):
                return "stopped"
            done += len(chunk)
        if done != job.total_rows:
            raise RuntimeError(f"文件有 {done} 行，上传时为 {job.total_rows} 行")
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return "failed" if _end(job.pk, runner, done, JobStatus.FAILED, message) else "stopped"
    return "succeeded" if _end(job.pk, runner, done, JobStatus.SUCCEEDED) else "stopped"


def _prepare_downloads(job: Job) -> None:
    """Write the Excel result now, in the worker: it takes too long for a request on a big job."""
    try:
        result_xlsx(job)
    except Exception:  # the download writes it instead
        logger.exception("job %s: could not write the Excel result", job.pk)


def job_run(*, job_id: UUID) -> str:
    """Run (or resume) a job to its end.

    Returns what happened: ``succeeded`` / ``failed``; ``stopped`` (cancelled,
    deleted or taken over while running); ``skipped`` (finished already, or
    someone alive is running it).
    """
    locked = _acquire(job_id)
    try:
        runner = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        job = _claim(job_id, runner, locked=locked)
        if job is None:
            return "skipped"
        logger.info("job %s (%s): running from row %d of %d", job.pk, job.kind, job.done_rows, job.total_rows)
        outcome = _process(job, runner)
        if outcome == "succeeded":
            _prepare_downloads(job)
        return outcome
    finally:
        if locked:
            _unlock(job_id)


def jobs_orphaned() -> list[UUID]:
    """Jobs nobody alive is running: queued, or running with a free lock or a stale heartbeat."""
    orphaned = []
    for job in (
        Job.objects.filter(status__in=ACTIVE).only("id", "status", "heartbeat_at").order_by("created_at")
    ):
        if _lock_free(job.pk) or (job.status == JobStatus.RUNNING and _is_stale(job)):
            orphaned.append(job.pk)
    return orphaned
