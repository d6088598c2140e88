"""Writes of jobs: submit an uploaded table, cancel, delete.

File-level problems (type, encoding, no header, the chosen column missing, too
many rows) are refused at upload with a 4xx, before anything is queued; row-level
problems are the job's business and never stop it.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from gis_core.errors import Conflict, InvalidInput, TooLarge

from .models import Job, JobRow, JobStatus
from .registry import get_kind
from .selectors import JobCaller
from .tabular import find_column, open_table, table_format

__all__ = ["job_cancel", "job_create", "job_delete", "job_dir"]

logger = logging.getLogger(__name__)


def job_dir(job_id: uuid.UUID) -> Path:
    """Where a job's files live: MEDIA_ROOT/jobs/<uuid>/ (never served over HTTP)."""
    return Path(settings.MEDIA_ROOT) / "jobs" / str(job_id)


def _save_upload(upload: UploadedFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)


def _count_rows(rows, max_rows: int) -> int:
    count = 0
    for _ in rows:
        count += 1
        if count > max_rows:
            raise TooLarge(
                f"文件行数超过上限：最多 {max_rows} 行", code="too_many_rows", details={"max_rows": max_rows}
            )
    return count


def _scope_code(caller: JobCaller) -> str:
    j = caller.jurisdiction
    if j.nationwide:
        return ""
    return (j.region_code or j.grid_codes[0][:12])[:12]


def _enqueue(job_id: uuid.UUID) -> None:
    from .tasks import run_job

    try:
        run_job.delay(str(job_id))
    except Exception:  # the broker is down: the job stays queued; a starting worker picks it up
        logger.exception("job %s: could not enqueue, left queued for recovery", job_id)


def job_create(
    *,
    kind: str,
    caller: JobCaller,
    upload: UploadedFile,
    column: str,
    id_column: str | None = None,
    encoding: str | None = None,
    form: dict[str, Any] | None = None,
) -> Job:
    """Check an uploaded CSV/.xlsx, store it under MEDIA_ROOT/jobs/<id>/ and queue the job.

    ``column`` names the column the kind works on (e.g. the address column,
    any name, Chinese included); ``form`` holds the kind's own options.
    """
    spec = get_kind(kind)
    options = spec.clean_options(form or {})
    if not column or not column.strip():
        raise InvalidInput("请用 column 参数指明要处理的列（列名）", code="missing_column")
    max_bytes = settings.CIVGRID["IMPORT_MAX_BYTES"]
    if upload.size > max_bytes:
        raise TooLarge(f"文件过大（上限 {max_bytes // 1024 // 1024} MB）", details={"max_bytes": max_bytes})
    suffix = Path(upload.name or "").suffix.lower()
    table_format(suffix)  # refuse an unsupported type before storing anything
    job_id = uuid.uuid4()
    folder = job_dir(job_id)
    path = folder / f"input{suffix}"
    try:
        _save_upload(upload, path)
        table = open_table(path, encoding=encoding)
        column = find_column(table.columns, column, param="column")
        if id_column:
            id_column = find_column(table.columns, id_column, param="id_column")
        total = _count_rows(table.rows, spec.max_rows())
        if total == 0:
            raise InvalidInput("文件只有表头，没有数据行", code="empty_file")
        j = caller.jurisdiction
        with transaction.atomic():
            job = Job.objects.create(
                id=job_id,
                kind=kind,
                owner_id=caller.user_id,
                api_key_id=caller.api_key_id,
                nationwide=j.nationwide,
                region_code=j.region_code or "",
                grid_codes=list(j.grid_codes),
                scope_code=_scope_code(caller),
                filename=Path(upload.name or "").name[:255],
                input_path=str(path.relative_to(settings.MEDIA_ROOT)),
                columns=table.columns,
                options={"column": column, "id_column": id_column or None, "encoding": encoding, **options},
                total_rows=total,
            )
            transaction.on_commit(lambda: _enqueue(job_id))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return job


def job_cancel(*, job: Job) -> Job:
    """Stop a queued or running job; the rows done so far stay and can be downloaded."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if not job.is_active:
            raise Conflict(f"任务已{job.get_status_display()}，无法取消", code="job_finished")
        # the runner sees another status at its next chunk commit and stops without committing it
        job.status, job.runner, job.finished_at = JobStatus.CANCELLED, "", timezone.now()
        job.save(update_fields=["status", "runner", "finished_at"])
    return job


def job_delete(*, job: Job) -> None:
    """Delete a job, its rows and its files (a running job is stopped first)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        # One statement instead of the ORM cascade: the audit signals listen to every
        # model, which would make Django load all (up to 200,000) rows to delete them.
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {JobRow._meta.db_table} WHERE job_id = %s", [job.pk])
        Job.objects.filter(pk=job.pk).delete()
        folder = job_dir(job.pk)
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
