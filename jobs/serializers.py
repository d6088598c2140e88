"""The JSON of a job: state, counters, progress (percent, ETA) and links."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from .models import Job
from .results import RESULT_FORMATS
from .selectors import job_progress, job_row_errors

__all__ = ["JobDetailSerializer", "JobSerializer"]

# options every table job has; the rest are the kind's own
_TABLE_OPTIONS = ("column", "id_column", "encoding")


class JobSerializer(serializers.ModelSerializer):
    column = serializers.SerializerMethodField()
    id_column = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "kind", "status", "filename", "column", "id_column", "options", "columns",
            "total_rows", "done_rows", "error_rows", "progress", "error",
            "created_at", "started_at", "finished_at", "heartbeat_at", "links",
        ]  # fmt: skip

    def get_column(self, job: Job) -> str:
        return job.options.get("column")

    def get_id_column(self, job: Job) -> str | None:
        return job.options.get("id_column")

    def get_options(self, job: Job) -> dict:
        return {k: v for k, v in job.options.items() if k not in _TABLE_OPTIONS}

    def get_progress(self, job: Job) -> dict:
        return job_progress(job)

    def get_links(self, job: Job) -> dict:
        def url(name: str) -> str:
            return reverse(f"{job.kind}-job-{name}", kwargs={"job_id": job.pk})

        links = {"self": url("detail")}
        if job.is_active:
            links["cancel"] = url("cancel")
        elif job.done_rows:
            links.update({f"result_{fmt}": f"{url('result')}?format={fmt}" for fmt in RESULT_FORMATS})
        return links


class JobDetailSerializer(JobSerializer):
    row_errors = serializers.SerializerMethodField(help_text="前 20 个出错的行")

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "row_errors"]

    def get_row_errors(self, job: Job) -> list[dict]:
        return job_row_errors(job) if job.error_rows else []
