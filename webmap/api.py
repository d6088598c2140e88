"""Map export endpoints (thin): queue an export, follow it, download the file.

``POST /api/v1/exports/maps`` with ``{"layer", "format": "html"|"png"|"pdf", "params"}``
answers 202 with the job; ``GET …/<id>`` its state; ``GET …/<id>/file`` the file once
done (409 before). Jobs are the ``jobs`` app's: seen only by whoever submitted them.
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import principal_of
from gis_core.errors import Conflict, InvalidInput, NotFound
from jobs.models import Job, JobStatus
from jobs.selectors import job_get, job_list
from jobs.serializers import JobDetailSerializer
from jobs.services import job_cancel, job_delete
from jobs.views import job_caller

from .export_jobs import EXPORT_FORMATS, KIND, export_file, map_export_start
from .export_layers import EXPORT_LAYERS

__all__ = ["MapExportCancelView", "MapExportDetailView", "MapExportFileView", "MapExportListView"]

SCOPES = dict.fromkeys(("GET", "POST", "DELETE"), "export:read")


class MapExportSerializer(JobDetailSerializer):
    """A job of kind ``map_export``, with the layer, format and a ``file`` link when done."""

    class Meta(JobDetailSerializer.Meta):
        fields = [f for f in JobDetailSerializer.Meta.fields if f not in ("column", "id_column", "columns")]

    def get_options(self, job: Job) -> dict:
        return {k: job.options.get(k) for k in ("layer", "format", "params")}

    def get_links(self, job: Job) -> dict:
        def url(name: str) -> str:
            return reverse(f"{KIND}-job-{name}", kwargs={"job_id": job.pk})

        links = {"self": url("detail")}
        if job.is_active:
            links["cancel"] = url("cancel")
        elif job.status == JobStatus.SUCCEEDED:
            links["file"] = url("result")
        return links


class _ExportView(APIView):
    required_scopes = SCOPES

    def get_job(self, job_id) -> Job:
        return job_get(caller=job_caller(self.request), job_id=job_id, kind=KIND)


class _Pages(LimitOffsetPagination):
    default_limit = 20
    max_limit = 200


class MapExportListView(_ExportView):
    """地图导出：当前视图的图层导出为独立 HTML 地图（folium，离线可用）或 PNG/PDF
    （异步任务，202）；GET 列出自己的导出。"""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=MapExportSerializer(many=True),
    )
    def get(self, request):
        pages = _Pages()
        page = pages.paginate_queryset(job_list(caller=job_caller(request), kind=KIND), request, view=self)
        return pages.get_paginated_response(MapExportSerializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "MapExportRequest",
            {
                "layer": serializers.ChoiceField(choices=list(EXPORT_LAYERS), help_text="导出图层"),
                "format": serializers.ChoiceField(choices=list(EXPORT_FORMATS), default="html"),
                "params": serializers.DictField(
                    required=False, help_text="该图层 API 的查询参数（bbox/region、时间、筛选、zoom 等）"
                ),
            },
        ),
        responses={202: MapExportSerializer},
    )
    def post(self, request):
        data = request.data
        if not isinstance(data, dict):
            raise InvalidInput("请求体应为 JSON 对象")
        job = map_export_start(
            caller=job_caller(request),
            scopes=principal_of(request).scopes,
            layer=str(data.get("layer") or ""),
            fmt=str(data.get("format") or "html"),
            params=data.get("params"),
        )
        body = MapExportSerializer(job).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]})


class MapExportDetailView(_ExportView):
    """一个导出任务的状态；DELETE 删除任务及其文件。"""

    @extend_schema(responses=MapExportSerializer)
    def get(self, request, job_id):
        return Response(MapExportSerializer(self.get_job(job_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, job_id):
        job_delete(job=self.get_job(job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MapExportCancelView(_ExportView):
    """取消排队中或运行中的导出。"""

    required_scopes = {"POST": "export:read"}

    @extend_schema(request=None, responses=MapExportSerializer)
    def post(self, request, job_id):
        return Response(MapExportSerializer(job_cancel(job=self.get_job(job_id))).data)


class MapExportFileView(_ExportView):
    """下载导出的文件（HTML/PNG/PDF）；未完成时 409，失败时 409 并给出原因。"""

    required_scopes = {"GET": "export:read"}

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, job_id):
        job = self.get_job(job_id)
        if job.is_active:
            raise Conflict(f"导出{job.get_status_display()}，完成后才能下载", code="job_not_finished")
        if job.status != JobStatus.SUCCEEDED:
            raise Conflict(
                f"导出{job.get_status_display()}" + (f"：{job.error}" if job.error else ""),
                code="export_failed",
                details={"status": job.status},
            )
        found = export_file(job)
        if found is None:
            raise NotFound("导出文件已不存在，请重新导出", code="export_file_missing")
        path, name, content_type = found
        response = FileResponse(path.open("rb"), content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
        return response
