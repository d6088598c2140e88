"""Admin: the classification, the working calendar and the departments are edited here;
events are read here only (their writes go through the services: grid, clock, history)."""

from __future__ import annotations

from django.contrib import admin

from .models import Department, Event, EventCategory, EventTransition, Notification, WorkCalendarDay


class MinorInline(admin.TabularInline):
    model = EventCategory
    fk_name = "parent"
    fields = ["code", "name", "time_limits", "department_name", "sort_order", "active"]
    extra = 0


@admin.register(EventCategory)
class EventCategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "department_name", "active"]
    list_filter = ["kind", "active", "parent"]
    search_fields = ["code", "name"]
    inlines = [MinorInline]


@admin.register(WorkCalendarDay)
class WorkCalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "region_code", "active"]
    list_filter = ["active"]
    search_fields = ["name", "region_code"]
    filter_horizontal = ["handlers"]


class TransitionInline(admin.TabularInline):
    model = EventTransition
    fields = ["at", "action", "from_state", "to_state", "actor", "department", "note", "step_due_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "category",
        "state",
        "grid_code",
        "source",
        "reported_at",
        "due_at",
        "escalation_level",
    ]
    list_filter = ["state", "kind", "source", "escalation_level"]
    search_fields = ["id", "description", "address", "grid_code"]
    date_hierarchy = "reported_at"
    inlines = [TransitionInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Event._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "region_code", "message"]
    list_filter = ["kind"]
    readonly_fields = ["event", "kind", "message", "region_code", "created_at"]
