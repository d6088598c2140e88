"""Login/logout/me for the web pages, the audit trail for auditors, and the lockout answer."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import authenticate, login, logout
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_core.api.errors import error_body
from gis_core.errors import ApplicationError, InvalidInput

from .audit import redact_personal
from .models import AuditEntry
from .permissions import principal_of
from .scoping import scope_queryset

__all__ = ["AuditListView", "LoginView", "LogoutView", "MeView", "lockout_response"]


def lockout_response(request, credentials=None, *args, **kwargs):
    """django-axes: what a locked account or address gets (JSON under /api/)."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    message = f"登录失败次数过多，账号或来源地址已被锁定 {minutes} 分钟"
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("locked", message), status=429)
    else:
        response = render(request, "accounts/locked.html", {"message": message}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


class Unauthorized(ApplicationError):
    status = 401
    code = "invalid_credentials"


def _me(request) -> dict:
    principal = principal_of(request)
    j = principal.jurisdiction
    return {
        "username": request.user.get_username(),
        "scopes": sorted(principal.scopes),
        "jurisdiction": {"nationwide": j.nationwide, "region": j.region_code, "grids": list(j.grid_codes)},
        "roles": list(getattr(getattr(request.user, "membership", None), "roles", []) or []),
    }


@method_decorator([csrf_protect, ensure_csrf_cookie], name="dispatch")
class LoginView(APIView):
    """会话登录（网页用）。连续失败 5 次锁定账号及来源地址。"""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    required_scopes = {"POST": "public"}

    @extend_schema(
        request=inline_serializer(
            "Login", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}  # a JSON array or null: no fields
        username = data.get("username")
        password = data.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise InvalidInput("请提供用户名和密码")
        user = authenticate(request._request, username=username, password=password)
        if getattr(request._request, "axes_locked_out", False):
            return lockout_response(request._request)
        if user is None:
            raise Unauthorized("用户名或密码错误")
        login(request._request, user)
        request.user = user  # no authentication classes here: DRF's request still holds AnonymousUser
        return Response(_me(request))


class LogoutView(APIView):
    permission_classes = [AllowAny]
    required_scopes = {"POST": "public"}

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        logout(request._request)
        return Response({"ok": True})


class MeView(APIView):
    """当前账号：角色、权限范围、管辖范围。"""

    required_scopes = {"GET": "public"}
    permission_classes = []

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        if principal_of(request) is None:
            from rest_framework.exceptions import NotAuthenticated

            raise NotAuthenticated("未登录")
        return Response(_me(request))


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id", "at", "actor", "ip", "source", "path", "action", "object_type", "object_id",
            "region_code", "before", "after",
        ]  # fmt: skip

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "personal:read" not in principal_of(self.context["request"]).scopes:
            # an auditor sees that personal data changed, not what it is
            data["before"] = redact_personal(instance.object_type, data["before"])
            data["after"] = redact_personal(instance.object_type, data["after"])
        return data


def _time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise InvalidInput(f"{name} 应为 ISO 8601 时间，如 2026-11-21T08:00:00+08:00", details={name: value})
    return parsed


class AuditListView(generics.ListAPIView):
    """审计记录（只读），可按操作者、对象、时间筛选。"""

    serializer_class = AuditEntrySerializer
    required_scopes = {"GET": "audit:read"}
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("actor", str, description="如 user:alice 或 key:ab12cd34"),
            OpenApiParameter("object_type", str, description="如 grids.unitgrid"),
            OpenApiParameter("object_id", str),
            OpenApiParameter("since", str, description="ISO 8601"),
            OpenApiParameter("until", str, description="ISO 8601"),
            OpenApiParameter("limit", int, description="最多返回条数（默认 100，最大 1000）"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = scope_queryset(AuditEntry.objects.all(), principal_of(self.request).jurisdiction)
        params = self.request.query_params
        for name in ("actor", "object_type", "object_id"):
            if value := params.get(name):
                qs = qs.filter(**{name: value})
        if since := _time(params.get("since"), "since"):
            qs = qs.filter(at__gte=since)
        if until := _time(params.get("until"), "until"):
            qs = qs.filter(at__lt=until)
        try:
            limit = min(max(int(params.get("limit", 100)), 1), 1000)
        except ValueError:
            raise InvalidInput("limit 应为 1–1000 的整数") from None
        return qs[:limit]
