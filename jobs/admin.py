from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Read-only: jobs are submitted through the API and run by workers."""

    list_display = [
        "id",
        "kind",
        "status",
        "filename",
        "owner",
        "api_key",
        "done_rows",
        "total_rows",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["id", "filename"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # DELETE /api/v1/<kind>/jobs/<id> removes a job with its rows and files
