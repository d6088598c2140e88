"""Output (and input) serializers of the events API."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis_core.api.schema import PointDisplayField

from .. import flow
from ..models import Attachment, Department, Event, EventCategory, EventSource, EventTransition, Notification
from ..selectors.events import allowed_actions
from ..services.clock import event_colour
from ..workdays import parse_limit

__all__ = [
    "AttachmentSerializer",
    "CategorySerializer",
    "DepartmentSerializer",
    "DuplicateSerializer",
    "EventDetailSerializer",
    "EventSerializer",
    "MergeRequest",
    "NotificationSerializer",
    "ReportRequest",
    "TransitionRequest",
    "TransitionSerializer",
]


class ReportRequest(serializers.Serializer):
    category = serializers.CharField(help_text="小类编码（/api/v1/event-categories）")
    description = serializers.CharField(allow_blank=True, max_length=2000)
    lon = serializers.CharField(required=False, help_text="经度（crs 坐标）；与 lat 同给，或改给 address")
    lat = serializers.CharField(required=False)
    crs = serializers.CharField(required=False, help_text="wgs84（默认）/ cgcs2000 / gcj02 / bd09")
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    city = serializers.CharField(required=False, allow_blank=True, help_text="地址所在城市或区县，消除歧义")
    source = serializers.ChoiceField(EventSource.choices, required=False, default=EventSource.WEB)
    client_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="客户端生成的 UUID：重发幂等"
    )
    component_code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    reported_at = serializers.DateTimeField(required=False, allow_null=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False, help_text="图片或音频")


class TransitionRequest(serializers.Serializer):
    action = serializers.ChoiceField([(a, n) for a, n in flow.ACTIONS.items() if a != "merge"])
    note = serializers.CharField(allow_blank=True, max_length=2000)
    department = serializers.IntegerField(required=False, allow_null=True, help_text="派遣、改派的处置部门")
    state = serializers.ChoiceField(
        list(flow.STATES), required=False, allow_null=True, help_text="请求所基于的状态：已变化则 409"
    )
    photos = serializers.ListField(child=serializers.FileField(), required=False)


class MergeRequest(serializers.Serializer):
    original = serializers.IntegerField(help_text="原事件编号：本事件作为其重复件合并结案")
    note = serializers.CharField(allow_blank=True, max_length=2000)


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "kind", "content_type", "size", "original_name", "transition", "url", "thumbnail_url"]

    def get_url(self, obj: Attachment) -> str:
        return f"/api/v1/events/{obj.event_id}/attachments/{obj.pk}"

    def get_thumbnail_url(self, obj: Attachment) -> str | None:
        return f"/api/v1/events/{obj.event_id}/attachments/{obj.pk}?thumbnail=1" if obj.thumbnail else None


class TransitionSerializer(serializers.ModelSerializer):
    action_name = serializers.SerializerMethodField()
    department_name = serializers.CharField(source="department.name", default=None, allow_null=True)

    class Meta:
        model = EventTransition
        fields = [
            "id", "action", "action_name", "from_state", "to_state", "actor", "note", "at",
            "department", "department_name", "step_due_at", "on_time",
        ]  # fmt: skip

    def get_action_name(self, obj: EventTransition) -> str:
        return "上报" if obj.action == "report" else flow.ACTIONS.get(obj.action, obj.action)


class EventSerializer(GeoFeatureModelSerializer):
    """An event as a GeoJSON feature, with its colour (green / yellow / red; null when finished)."""

    geom = PointDisplayField(source="display_geom", read_only=True)
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    major = serializers.CharField(source="category.parent.code", default=None)
    major_name = serializers.CharField(source="category.parent.name", default=None)
    state_name = serializers.CharField(source="get_state_display")
    source_name = serializers.CharField(source="get_source_display")
    department_name = serializers.CharField(source="department.name", default=None, allow_null=True)
    colour = serializers.SerializerMethodField()

    class Meta:
        model = Event
        geo_field = "geom"
        fields = [
            "id", "kind", "category", "category_name", "major", "major_name", "description", "state",
            "state_name", "colour", "source", "source_name", "address", "grid_code", "region_code",
            "street_code", "district_code", "department", "department_name", "reported_at",
            "step_started_at", "warn_at", "due_at", "escalation_level", "closed_at",
        ]  # fmt: skip

    def get_colour(self, obj: Event) -> str | None:
        return event_colour(obj, now=self.context["now"], calendar=self.context["calendar"])


class EventDetailSerializer(EventSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta(EventSerializer.Meta):
        fields = [
            *EventSerializer.Meta.fields, "client_id", "component_code", "resume_state", "escalated_at",
            "duplicate_of", "created_at", "updated_at", "allowed_actions", "transitions", "attachments",
        ]  # fmt: skip

    def get_allowed_actions(self, obj: Event) -> list[dict]:
        return [
            {"action": a, "name": flow.ACTIONS[a]} for a in allowed_actions(obj, self.context["principal"])
        ]


class DuplicateSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    state_name = serializers.CharField(source="get_state_display")
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id", "category", "category_name", "state", "state_name", "description", "address",
            "grid_code", "reported_at", "distance_m",
        ]  # fmt: skip

    def get_distance_m(self, obj: Event) -> float:
        return round(obj.distance.m, 1)


def _limits(category: EventCategory) -> dict:
    out = {}
    for step, text in (category.time_limits or {}).items():
        limit = parse_limit(text)
        out[step] = {"limit": str(limit), "label": limit.label, "step_name": flow.STEPS.get(step, step)}
    return out


class MinorCategorySerializer(serializers.ModelSerializer):
    time_limits = serializers.SerializerMethodField()

    class Meta:
        model = EventCategory
        fields = ["code", "name", "kind", "department_name", "time_limits"]

    def get_time_limits(self, obj: EventCategory) -> dict:
        return _limits(obj)


class CategorySerializer(serializers.ModelSerializer):
    kind_name = serializers.CharField(source="get_kind_display")
    children = MinorCategorySerializer(many=True, read_only=True)

    class Meta:
        model = EventCategory
        fields = ["code", "name", "kind", "kind_name", "department_name", "children"]


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "region_code"]


class NotificationSerializer(serializers.ModelSerializer):
    kind_name = serializers.CharField(source="get_kind_display")
    read_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="调用者本人的已读时间；未读为 null"
    )

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_name", "message", "event", "region_code", "created_at", "read_at"]
