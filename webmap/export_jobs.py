"""Map exports (地图导出) as jobs of the ``jobs`` app (kind ``map_export``).

An export is a job with a one-row table: the row is the export itself, the
options say which layer, which query parameters and which format. The worker
builds the page (:mod:`webmap.export_layers`), prints it to PNG/PDF by headless
Chromium if asked, and writes the file into the job's folder
(``MEDIA_ROOT/jobs/<id>/``), so deleting the job deletes the file. It inherits
what the jobs app guarantees: the caller's jurisdiction is stored on the job and
applied by the worker, the job is seen only by whoever submitted it, and a
killed worker's export is run again by the next one.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from gis_core.errors import ApplicationError, InvalidInput
from gis_core.mapexport import print_page
from jobs.models import Job
from jobs.registry import JobContext, JobKind, RowOutcome
from jobs.selectors import JobCaller
from jobs.services import job_create, job_dir

from .export_layers import clean_params, get_layer

__all__ = ["EXPORT_FORMATS", "EXPORT_KIND", "KIND", "MissingScope", "export_file", "map_export_start"]

KIND = "map_export"


class MissingScope(ApplicationError):
    status = 403
    code = "missing_scope"


EXPORT_FORMATS = {
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "pdf": "application/pdf",
}


def clean_options(form: dict[str, Any]) -> dict[str, Any]:
    layer = get_layer(str(form.get("layer") or ""))
    fmt = str(form.get("format") or "html").lower()
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"format 应为 {'、'.join(EXPORT_FORMATS)}", details={"format": fmt})
    return {
        "layer": layer.name,
        "format": fmt,
        "params": clean_params(form.get("params")),
        "export_id": str(form.get("export_id") or uuid.uuid4().hex),
    }


def _job_of(ctx: JobContext) -> Job:
    return Job.objects.only("id").get(kind=KIND, options__export_id=ctx.options["export_id"])


def export_handler(rows: list[dict[str, str]], ctx: JobContext) -> list[RowOutcome]:
    """Build the page, print it if asked, store it next to the job's input."""
    layer = get_layer(ctx.options["layer"])
    fmt = ctx.options["format"]
    page, name = layer.build(ctx.options["params"], ctx.jurisdiction)
    data = page.encode("utf-8") if fmt == "html" else print_page(page, fmt)
    folder = job_dir(_job_of(ctx).pk)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"map.{fmt}"
    path.write_bytes(data)
    result = {
        "file": path.name,
        "name": f"{name}.{fmt}",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return [RowOutcome(result=result) for _ in rows]


EXPORT_KIND = JobKind(
    name=KIND,
    title="地图导出",
    handler=export_handler,
    clean_options=clean_options,
    result_columns=("name", "bytes", "sha256"),
    max_rows=lambda: 1,
    chunk_rows=1,
)


def map_export_start(
    *, caller: JobCaller, scopes: frozenset[str], layer: str, fmt: str, params: dict[str, Any] | None
) -> Job:
    """Check the request (layer, format, the layer's scope, its parameters) and queue the export."""
    from accounts.permissions import SCOPES

    spec = get_layer(layer)
    if spec.scope not in scopes:
        raise MissingScope(f"导出{spec.title}需要权限范围 {spec.scope}（{SCOPES.get(spec.scope, '')}）")
    options = clean_options({"layer": layer, "format": fmt, "params": params})
    upload = SimpleUploadedFile("export.csv", f"export\r\n{spec.title}\r\n".encode(), content_type="text/csv")
    return job_create(kind=KIND, caller=caller, upload=upload, column="export", form=options)


def export_file(job: Job) -> tuple[Path, str, str] | None:
    """(path, download name, content type) of a finished export, or None if there is none."""
    row = job.rows.filter(row_no=1).values_list("result", flat=True).first()
    if not row:
        return None
    path = job_dir(job.pk) / row["file"]
    if not path.is_file():
        return None
    fmt = path.suffix.lstrip(".")
    return path, row["name"], EXPORT_FORMATS.get(fmt, "application/octet-stream")
