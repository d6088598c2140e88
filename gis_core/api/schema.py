"""Schema-only declarations shared by the API's OpenAPI description (drf-spectacular).

Nothing here changes an answer: the project's one JSON error shape as a component (see
:mod:`gis_core.api.errors`), and GeoJSON geometry fields for geometries the schema generator
cannot follow to a model field (the views' ``display_geom`` annotation, simplified or not).
"""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_gis import (
    build_geo_container_schema,
    build_point_schema,
    build_polygon_schema,
)
from drf_spectacular.plumbing import build_array_type
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from .spatial import CRSGeometryField

__all__ = [
    "ErrorSerializer",
    "MultiPolygonDisplayField",
    "PointDisplayField",
    "error_response",
]


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="错误代码（如 invalid、not_found、bad_tile）")
    message = serializers.CharField(help_text="给人看的说明（中文）")
    details = serializers.JSONField(allow_null=True, help_text="出错的参数或字段（可为 null）")


class ErrorSerializer(serializers.Serializer):
    """统一的错误格式：``{"error": {"code", "message", "details"}}``，状态码 4xx。"""

    error = ErrorDetailSerializer()


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


@extend_schema_field(build_geo_container_schema("MultiPolygon", build_array_type(build_polygon_schema())))
class MultiPolygonDisplayField(CRSGeometryField):
    """A multipolygon served from the view's ``display_geom`` annotation (simplified on request)."""


@extend_schema_field(build_geo_container_schema("Point", build_point_schema()))
class PointDisplayField(CRSGeometryField):
    """A point served from the view's ``display_geom`` annotation."""
