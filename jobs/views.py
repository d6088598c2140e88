"""Job endpoints (thin): submit, list, status, cancel, delete, download results.

One set of views serves every kind; each route binds ``kind`` and the scope
that guards it (``as_view(kind=…, required_scopes=…)``, see ``urls``).
"""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey, Role
from gis_core.api.views import FileFormatNegotiation
from gis_core.errors import Conflict, InvalidInput

from .models import Job
from .results import RESULT_FORMATS, result_csv, result_xlsx
from .selectors import JobCaller, job_get, job_list
from .serializers import JobDetailSerializer, JobSerializer
from .services import job_cancel, job_create, job_delete

__all__ = ["JobCancelView", "JobDetailView", "JobListView", "JobResultView"]


def job_caller(request) -> JobCaller:
    """The caller of a request RequireScope has let through (it set ``request.jurisdiction``)."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is not None:
        return JobCaller(jurisdiction=request.jurisdiction, api_key_id=key.pk)
    user = request.user
    membership = getattr(user, "membership", None)
    is_admin = user.is_superuser or (membership is not None and Role.ADMIN in (membership.roles or ()))
    return JobCaller(jurisdiction=request.jurisdiction, user_id=user.pk, is_admin=is_admin)


class _JobView(APIView):
    kind: str = ""
    required_scopes: dict[str, str] = {}

    def get_job(self, job_id) -> Job:
        return job_get(caller=job_caller(self.request), job_id=job_id, kind=self.kind)


class _Pages(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class JobListView(_JobView):
    """批量任务：上传 CSV 或 Excel（.xlsx）文件提交任务（202，异步处理）；列出自己的任务。"""

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=JobSerializer(many=True),
    )
    def get(self, request):
        qs = job_list(caller=job_caller(request), kind=self.kind)
        if wanted := request.query_params.get("status"):
            qs = qs.filter(status=wanted)
        pages = _Pages()
        page = pages.paginate_queryset(qs, request, view=self)
        return pages.get_paginated_response(JobSerializer(page, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "JobUpload",
                {
                    "file": serializers.FileField(
                        help_text="CSV（UTF-8 或 GBK）或 Excel .xlsx，第一行为表头"
                    ),
                    "column": serializers.CharField(help_text="要处理的列（如地址列）的列名"),
                    "id_column": serializers.CharField(required=False, help_text="行标识列，用于错误报告"),
                    "encoding": serializers.CharField(required=False, help_text="CSV 编码（默认自动识别）"),
                    "city": serializers.CharField(
                        required=False, help_text="地址编码：默认城市（名称或代码）"
                    ),
                    "crs": serializers.CharField(required=False, help_text="地址编码：输出坐标系"),
                },
            )
        },
        responses={202: JobDetailSerializer},
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("缺少上传文件 file", code="missing_file")
        data = request.data
        job = job_create(
            kind=self.kind,
            caller=job_caller(request),
            upload=upload,
            column=data.get("column") or "",
            id_column=data.get("id_column") or None,
            encoding=data.get("encoding") or None,
            form={k: v for k, v in data.items() if k not in ("file", "column", "id_column", "encoding")},
        )
        body = JobDetailSerializer(job).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]})


class JobDetailView(_JobView):
    """一个任务的状态与进度（百分比、已处理行数、出错行数、预计剩余秒数）；DELETE 删除任务及其结果。"""

    @extend_schema(responses=JobDetailSerializer)
    def get(self, request, job_id):
        return Response(JobDetailSerializer(self.get_job(job_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, job_id):
        job_delete(job=self.get_job(job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobCancelView(_JobView):
    """取消排队中或运行中的任务；已处理的行保留，可下载。"""

    @extend_schema(request=None, responses=JobDetailSerializer)
    def post(self, request, job_id):
        return Response(JobDetailSerializer(job_cancel(job=self.get_job(job_id))).data)


class JobResultView(_JobView):
    """下载结果：全部输入列 + 结果字段 + error（CSV 为带 BOM 的 UTF-8）。任务未结束时 409。"""

    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(RESULT_FORMATS))],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, job_id):
        fmt = request.query_params.get("format", "csv")
        if fmt not in RESULT_FORMATS:
            raise InvalidInput(f"format 应为 {' 或 '.join(RESULT_FORMATS)}", details={"format": fmt})
        job = self.get_job(job_id)
        if job.is_active:
            raise Conflict(
                f"任务{job.get_status_display()}（{job.done_rows}/{job.total_rows} 行），结束后才能下载结果",
                code="job_not_finished",
            )
        name = f"{job.filename.rsplit('.', 1)[0] or 'job'}-结果.{fmt}"
        if fmt == "csv":
            response = StreamingHttpResponse(result_csv(job), content_type=RESULT_FORMATS[fmt])
        else:
            response = FileResponse(result_xlsx(job).open("rb"), content_type=RESULT_FORMATS[fmt])
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
        return response
