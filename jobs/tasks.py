"""Celery entry points of the jobs app (thin: they call :mod:`jobs.runner`).

``run_job`` acknowledges its message only when it returns (``acks_late``) and
has it redelivered if its worker process dies (``reject_on_worker_lost``).
When a whole worker dies the message stays unacknowledged in Redis until the
visibility timeout (an hour), so a starting worker does not wait for that: on
``worker_ready`` it re-enqueues every job nobody alive is running, and checks
again once a heartbeat can have gone stale (a lock held by a vanished host).
"""

from __future__ import annotations

import logging
from uuid import UUID

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connections

from .runner import job_run, jobs_orphaned

__all__ = ["recover_jobs", "run_job"]

logger = logging.getLogger(__name__)


@shared_task(name="jobs.run", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str) -> str:
    return job_run(job_id=UUID(job_id))


@shared_task(name="jobs.recover", ignore_result=True)
def recover_jobs() -> int:
    """Re-enqueue abandoned jobs (also fit for celery beat, as a periodic sweep)."""
    orphaned = jobs_orphaned()
    for job_id in orphaned:
        run_job.delay(str(job_id))
    if orphaned:
        logger.info("re-enqueued %d abandoned job(s): %s", len(orphaned), ", ".join(map(str, orphaned)))
    return len(orphaned)


@worker_ready.connect(dispatch_uid="civgrid-jobs-recover")
def _recover_on_worker_start(sender=None, **kwargs) -> None:
    try:
        recover_jobs()
        recover_jobs.apply_async(countdown=settings.CIVGRID["JOB_STALE_AFTER_S"] + 5)
    except Exception:  # a worker must start even if the sweep cannot run
        logger.exception("could not re-enqueue abandoned jobs")
    finally:
        # this runs in the worker's main process: do not hand its connection to future pool children
        connections.close_all()
