"""Long-running jobs (批量任务) and the results of their rows.

A :class:`Job` processes the rows of an uploaded table in chunks; each
processed row becomes one :class:`JobRow`. A chunk's rows and the job's
counters are committed in one transaction, so ``done_rows`` is always exactly
the number of stored rows, and a restarted job resumes after row ``done_rows``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

__all__ = ["Job", "JobRow", "JobStatus"]


class JobStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "运行中"
    SUCCEEDED = "succeeded", "已完成"
    FAILED = "failed", "失败"
    CANCELLED = "cancelled", "已取消"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    """One bulk job, e.g. geocoding an uploaded address list.

    The caller's jurisdiction is copied onto the job when it is created: the
    worker applies it to what the job may see (a district's staff geocode
    within their district), and ``scope_code`` scopes the job itself.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField("类型", max_length=32, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="提交用户",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        verbose_name="提交密钥",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # the submitter's jurisdiction when the job was created
    nationwide = models.BooleanField("全国", default=False)
    region_code = models.CharField("管辖区划", max_length=12, blank=True)
    grid_codes = ArrayField(
        models.CharField(max_length=15), verbose_name="负责网格", default=list, blank=True
    )
    # region code the job is scoped by: the region, or the community of the first grid; "" if nationwide
    scope_code = models.CharField(max_length=12, blank=True, db_index=True, editable=False)

    filename = models.CharField("上传文件名", max_length=255)
    input_path = models.CharField("输入文件（相对 MEDIA_ROOT）", max_length=255)
    columns = models.JSONField("表头", default=list)  # the table's column names, in file order
    options = models.JSONField("参数", default=dict)  # column, id_column and the kind's own options

    status = models.CharField(
        "状态", max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    total_rows = models.PositiveIntegerField("总行数", default=0)
    done_rows = models.PositiveIntegerField("已处理行数", default=0)
    error_rows = models.PositiveIntegerField("出错行数", default=0)
    error = models.TextField("失败原因", blank=True)
    # who is processing it now ("host:pid:token"); a chunk commits only while this is still its runner
    runner = models.CharField(max_length=100, blank=True, editable=False)
    # runs started since the last committed chunk; past CIVGRID["JOB_MAX_ATTEMPTS"] the job fails
    attempts = models.PositiveSmallIntegerField("连续中断次数", default=0, editable=False)

    created_at = models.DateTimeField("创建时间", auto_now_add=True, db_index=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    heartbeat_at = models.DateTimeField("最近进展", null=True, blank=True)

    class Meta:
        verbose_name = "批量任务"
        verbose_name_plural = "批量任务"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(done_rows__lte=models.F("total_rows")), name="job_done_within_total"
            ),
            models.CheckConstraint(
                condition=models.Q(error_rows__lte=models.F("done_rows")), name="job_errors_within_done"
            ),
        ]

    class Scope:  # read by accounts.scoping; jobs.selectors narrows further to the owner
        region_field = "scope_code"

    def __str__(self) -> str:
        return f"{self.kind} {self.id} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class JobRow(models.Model):
    """One processed row: its input values (aligned with ``Job.columns``) and result or error."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="rows")
    row_no = models.PositiveIntegerField("行序号")  # 1-based among the data rows
    line = models.PositiveIntegerField("文件中的行号")  # as a spreadsheet shows it; the header is line 1
    input = models.JSONField("输入", default=list)
    result = models.JSONField("结果", null=True, blank=True)
    error = models.TextField("错误", blank=True)

    class Meta:
        verbose_name = "任务结果行"
        verbose_name_plural = "任务结果行"
        ordering = ["job", "row_no"]
        constraints = [models.UniqueConstraint(fields=["job", "row_no"], name="jobrow_unique_row")]

    class Scope:  # never served on its own: rows are read through their job
        region_field = "job__scope_code"

    def __str__(self) -> str:
        return f"{self.job_id}#{self.row_no}"
